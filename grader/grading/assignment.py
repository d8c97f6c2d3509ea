"""Which assignment the engine grades: a folder beside the engine (grader/<name>/) with the interface that
grader/backprop/__init__.py documents. The rubric's [assignment] name picks it; "backprop" by default."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from grader.errors import ConfigError

DEFAULT = "backprop"
NAMES = ("AREAS", "SUITE_DIR", "DATA_FILES", "SKELETON", "public_data", "hidden_set", "set_input_salt",
         "source_notes")


def load(name: str = DEFAULT) -> ModuleType:
    """The assignment's package, checked for every name the engine uses."""
    try:
        module = importlib.import_module(f"grader.{name}")
    except ImportError as exc:
        raise ConfigError(f"assignment {name!r}: no package grader/{name} ({exc})") from None
    missing = [n for n in NAMES if not hasattr(module, n)]
    if missing:
        raise ConfigError(f"assignment {name!r}: grader/{name}/__init__.py lacks {', '.join(missing)}")
    return module


def worker_standins(task: ModuleType) -> Path | None:
    """The assignment's file of stand-ins the worker computes itself (WORKER_STANDINS, optional), checked to exist."""
    path = getattr(task, "WORKER_STANDINS", None)
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"assignment {task.__name__}: WORKER_STANDINS names no file ({path})")
    return None if path is None else Path(path)

"""Where the project's files live. One place, so the CLI, the tests and the bundles agree.

The project is the folder with the public data (`data/xordata.pkl`), beside the rubric, the solution and the
skeleton. It is, first, BACKPROP_GRADER_ROOT when set; else the folder above this package (a checkout, or an
editable install); else, for a package installed into site-packages, the current folder or the nearest folder
above it that holds the project. `python -m grader` refuses to start without one (`grader.cli`).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_VARIABLE = "BACKPROP_GRADER_ROOT"
DATA_NAME = "xordata.pkl"  # the file name the notebook opens, in its working directory
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def is_project(folder: Path) -> bool:
    """True when `folder` holds the project's public data, which every grading needs."""
    return (folder / "data" / DATA_NAME).is_file()


def find_root() -> Path:
    """The project folder by the rule above; the package's parent when nothing else qualifies."""
    named = os.environ.get(ROOT_VARIABLE)
    if named:
        return Path(named).absolute()  # batch children change folder
    if is_project(PACKAGE_PARENT):
        return PACKAGE_PARENT
    try:
        here = Path.cwd()
    except OSError:  # the current folder was deleted
        return PACKAGE_PARENT
    return next((folder for folder in (here, *here.parents) if is_project(folder)), PACKAGE_PARENT)


ROOT = find_root()
SOLUTION = ROOT / "solution" / "backprop.ipynb"
SKELETON = ROOT / "assignment" / "backprop.ipynb"
PUBLIC_DATA = ROOT / "data" / DATA_NAME
RUBRIC = ROOT / "rubric.toml"

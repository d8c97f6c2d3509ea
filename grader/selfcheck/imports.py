"""The self-check's hook for imports outside the grading environment.

The grader checks a submission's imports against the instructor's allowed packages; the self-check reports the
same, once per import, even where that package happens to be installed. `import_notes` is where that check plugs
in: it gets the source of every cell (the kernel's input history in a notebook, the saved file's cells in a
terminal) and returns one note per problem. The kit's own `backprop_check` is part of the kit, never a problem.
"""

from __future__ import annotations

from collections.abc import Sequence

KIT_MODULES = frozenset({"backprop_check"})  # imported by the student's own check cells


def import_notes(sources: Sequence[str]) -> list[str]:
    """The grader's own note on imports outside the rubric's allowed packages, or nothing when all are allowed."""
    from grader.grading.rubric import load_rubric  # noqa: PLC0415
    from grader.notebook.imports import imports_message, outside_imports  # noqa: PLC0415

    allowed = load_rubric().packages
    message = imports_message([m for m in outside_imports(sources, allowed) if m not in KIT_MODULES], allowed)
    return [message] if message else []


def kernel_sources(namespace: dict) -> list[str]:
    """The cells a Jupyter/IPython kernel has run, from its input history (empty elsewhere)."""
    history = namespace.get("_ih")
    return [s for s in history if isinstance(s, str)] if isinstance(history, list) else []

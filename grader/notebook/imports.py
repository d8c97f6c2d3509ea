"""Which packages a submission imports, read from its source without running it, against the allowed set.

The grader and the student's self-check both call outside_imports(), so a notebook that imports a package the
grading environment does not have is told so, once, before any test, even where that package is installed.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Sequence

# Distributions whose import name differs from their name on the package index.
IMPORT_NAMES = {"scikit-learn": ("sklearn",), "pillow": ("PIL",), "pyyaml": ("yaml",), "beautifulsoup4": ("bs4",),
                "opencv-python": ("cv2",), "python-dateutil": ("dateutil",)}
# The grading environment's own packages may be imported by its dependencies, not by students; they are not offered.
NOT_STUDENT_FACING = frozenset({"grader", "protocol", "standins", "worker"})


def import_names(distribution: str) -> tuple[str, ...]:
    """The top-level module names a distribution provides ("scikit-learn" -> ("sklearn",))."""
    key = distribution.strip().lower().replace("_", "-")
    return IMPORT_NAMES.get(key, (key.replace("-", "_"),))


def allowed_modules(distributions: Iterable[str]) -> frozenset[str]:
    """The standard library plus the modules of the declared distributions."""
    names = {m for d in distributions for m in import_names(d)}
    return frozenset(sys.stdlib_module_names) | names | {"__future__"}


def imported_modules(sources: Iterable[str]) -> dict[str, int]:
    """Top-level module name -> the position of the first source that imports it (relative imports left out).
    A source that does not parse is skipped: running it reports its syntax error."""
    found: dict[str, int] = {}
    for position, source in enumerate(sources):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], position)
    return found


def outside_imports(sources: Iterable[str], distributions: Sequence[str]) -> list[str]:
    """The imported top-level modules that are neither standard library nor declared, sorted."""
    allowed = allowed_modules(distributions)
    return sorted(m for m in imported_modules(sources) if m not in allowed and m not in NOT_STUDENT_FACING)


def imports_message(outside: Sequence[str], distributions: Sequence[str]) -> str:
    """One message for the top of the results, or "" when every import is allowed."""
    if not outside:
        return ""
    listed = ", ".join(f"`{m}`" for m in outside)
    return (f"Your notebook imports {listed}, which the grading environment does not have, so the cells that "
            f"import it fail there and what they define is missing. Submissions may import the Python standard "
            f"library and only these packages: {', '.join(distributions)}.")

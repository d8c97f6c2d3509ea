"""What a submission defines, read from its source without running it, and the near misses of required names.

A notebook that calls its function `reLu` instead of `relu` fails every test that needs `relu`. Reading the
definitions statically lets the grader say once, at the top, which name it found and what signature is required.
"""

from __future__ import annotations

import ast
import difflib
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CLOSE_ENOUGH = 0.6  # difflib ratio from which a defined name counts as a near miss of a required one


@dataclass(frozen=True)
class Definitions:
    """Top-level names (functions, classes, assigned globals) and the methods of each class."""

    names: frozenset[str] = frozenset()
    methods: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _targets(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def definitions(sources: Iterable[str]) -> Definitions:
    """Every top-level def, class and assigned name, and the methods of every class, over all sources."""
    names: set[str] = set()
    methods: dict[str, set[str]] = {}
    for source in sources:
        try:
            body = ast.parse(source).body
        except (SyntaxError, ValueError):
            continue
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            if isinstance(node, ast.ClassDef):
                methods.setdefault(node.name, set()).update(
                    n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                names.update(_targets(node))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return Definitions(frozenset(names), {k: frozenset(v) for k, v in methods.items()})


def closest(name: str, candidates: Iterable[str]) -> str:
    """The candidate most like `name` (case-insensitive, then by difflib's ratio), or "" when none is close."""
    pool = sorted(c for c in candidates if c != name and not c.startswith("_"))
    same_case = [c for c in pool if c.lower() == name.lower()]
    if same_case:
        return same_case[0]
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=CLOSE_ENOUGH)
    if not found:
        found = [c for c in lowered if name.lower() in c or (len(c) > 3 and c in name.lower())][:1]
    return lowered[found[0]] if found else ""


def near_misses(found: Definitions, functions: Mapping[str, str], cls: str,
                methods: Mapping[str, str]) -> list[str]:
    """One message per required name that is missing while a close one is defined. `functions` and `methods`
    map each required name to its required signature; `cls` is the required class."""
    out = []
    for name, signature in functions.items():
        if name not in found.names and (near := closest(name, found.names - set(functions))):
            out.append(_message(f"`{name}`", f"`{near}`", signature))
    if cls not in found.names and (near := closest(cls, [c for c in found.methods])):
        out.append(_message(f"the class `{cls}`", f"`{near}`", cls))
    own = found.methods.get(cls) or found.methods.get(closest(cls, found.methods), frozenset())
    for name, signature in methods.items():
        if name not in own and (near := closest(name, own - set(methods))):
            out.append(_message(f"the method `{cls}.{name}`", f"`{near}`", f"{cls}.{signature}"))
    return out


def _message(required: str, near: str, signature: str) -> str:
    return (f"The notebook does not define {required}; did you mean {near}? The grader calls names exactly as the "
            f"assignment gives them: define `{signature}`.")


@dataclass(frozen=True)
class Source:
    """The code of one definition as the submission wrote it: `name` is "relu" or "Class.method"."""

    name: str
    code: str
    cell_index: int


def _segment(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))]) - 1
    return "\n".join(lines[start:node.end_lineno])


def function_source(cells: Iterable[tuple[int, str]], name: str) -> Source | None:
    """The last top-level definition of `name` ("relu", or "Class.method" for a method) over (cell index, source)
    pairs, as the notebook's Run All leaves it; None when the code never defines it."""
    owner, _, method = name.rpartition(".")
    found = None
    for index, source in cells:
        try:
            body = ast.parse(source).body
        except (SyntaxError, ValueError):
            continue
        for node in body:
            if owner and isinstance(node, ast.ClassDef) and node.name == owner:
                hits = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and n.name == method]
                found = Source(name, textwrap.dedent(_segment(source, hits[-1])), index) if hits else None
            elif not owner and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                found = Source(name, _segment(source, node), index)
    return found

"""Generate the student skeleton from the reference solution.

The pipeline is an ordered list of small steps, declared as data (see STEPS). Each step takes a notebook and
returns a new one; none changes its input, so a failure part-way leaves nothing half-written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import nbformat

from grader.errors import ConfigError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_TODO = "# TODO: write your solution here, then delete the raise below."
MARKDOWN_PROMPT = "_Write your answer here._"
PUBLIC_GRADER_KEYS = ("manual", "id", "title")  # the metadata students see; every other grader key is hidden
DROPPED_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")

Notebook = nbformat.NotebookNode
Step = Callable[[Notebook], Notebook]


class MarkerError(ConfigError):
    """A BEGIN/END SOLUTION marker is unmatched or nested. The message names the cell and the line."""


def _regions(lines: list[str], cell_index: int) -> list[tuple[int, int]]:
    """(begin, end) line indexes of each solution region; raises MarkerError on unmatched or nested markers."""
    regions, begin = [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker.startswith(BEGIN):
            if begin is not None:
                raise MarkerError(f"cell {cell_index}, line {i + 1}: '{BEGIN}' inside another solution region "
                                  f"(opened at line {begin + 1})")
            begin = i
        elif marker.startswith(END):
            if begin is None:
                raise MarkerError(f"cell {cell_index}, line {i + 1}: '{END}' without a matching '{BEGIN}'")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise MarkerError(f"cell {cell_index}, line {begin + 1}: '{BEGIN}' is never closed by '{END}'")
    return regions


def _assigned_names(region: list[str]) -> list[str]:
    """Names bound by top-level assignments in the region, in order of first appearance."""
    indent = min((len(line) - len(line.lstrip()) for line in region if line.strip()), default=0)
    names: list[str] = []
    for line in region:
        if len(line) - len(line.lstrip()) != indent:
            continue
        match = re.match(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)", line)
        for name in (match.group(1).replace(" ", "").split(",") if match else []):
            if name not in names:
                names.append(name)
    return names


def _rest_of_block(after: list[str], indent: str) -> list[str]:
    """The lines after a region that still belong to its block (until the indentation drops below it)."""
    block = []
    for line in after:
        if line.strip() and not line.startswith(indent):
            break
        block.append(line)
    return block


def _code_stub(region: list[str], after: list[str], indent: str) -> list[str]:
    """The stub for one code region: outputs used after the region set to None, a TODO, and a raise."""
    assigned = set(_assigned_names(region))
    later = re.findall(r"[A-Za-z_]\w*", "\n".join(_rest_of_block(after, indent)))
    outputs = list(dict.fromkeys(n for n in later if n in assigned))  # in the order the code after uses them
    stub = [f"{indent}{' = '.join(outputs)} = None"] if outputs else []
    return stub + [f"{indent}{CODE_TODO}", f"{indent}raise NotImplementedError"]


def _replace_regions(source: str, cell_index: int, markdown: bool) -> str:
    lines = source.split("\n")
    out, cursor = [], 0
    for begin, end in _regions(lines, cell_index):
        out += lines[cursor:begin]
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        if markdown:
            out.append(MARKDOWN_PROMPT)
        else:
            out += _code_stub(lines[begin + 1:end], lines[end + 1:], indent)
        cursor = end + 1
    return "\n".join(out + lines[cursor:])


def clear_solutions(nb: Notebook) -> Notebook:
    """Turn every solution region into a stub (code) or a prompt (Markdown), keeping the indentation."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown"):
            cell.source = _replace_regions(cell.source, index, markdown=cell.cell_type == "markdown")
    return nb


def clear_outputs(nb: Notebook) -> Notebook:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def strip_hidden_metadata(nb: Notebook) -> Notebook:
    """Keep only the metadata students should see: the manual-grading marking and Jupyter's own display keys."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for key in DROPPED_CELL_METADATA:
            cell.metadata.pop(key, None)
        grader = cell.metadata.get("grader")
        if grader is not None:
            cell.metadata["grader"] = {k: v for k, v in grader.items() if k in PUBLIC_GRADER_KEYS}
    nb.metadata.pop("widgets", None)
    return nb


def validate(nb: Notebook) -> Notebook:
    nbformat.validate(nb)
    return nb


STEPS: tuple[Step, ...] = (clear_solutions, clear_outputs, strip_hidden_metadata, validate)


def make_skeleton(solution: Notebook) -> Notebook:
    """Apply every release step in order."""
    nb = solution
    for step in STEPS:
        nb = step(nb)
    return nb


def render(nb: Notebook) -> str:
    """The exact text written to disk, so the drift test and the writer agree byte for byte."""
    return nbformat.writes(nb) + "\n"


def release(solution_path: Path, skeleton_path: Path) -> Path:
    """Read the solution, build the skeleton, and write it; returns the path written."""
    solution = nbformat.read(solution_path, as_version=nbformat.NO_CONVERT)
    text = render(make_skeleton(solution))
    skeleton_path.parent.mkdir(parents=True, exist_ok=True)
    skeleton_path.write_text(text, encoding="utf-8")
    return skeleton_path

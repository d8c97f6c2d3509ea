"""Run a trusted notebook's code cells in-process, cell by cell, for tests of the notebooks themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat


@dataclass(frozen=True)
class CellRun:
    index: int
    source: str
    error: BaseException | None


def run_cells(path: Path) -> tuple[dict, list[CellRun]]:
    """Execute every code cell in one namespace, going on after a failing cell, as Jupyter's 'Run All' would."""
    nb = nbformat.read(path, as_version=4)
    namespace: dict = {"__name__": "__main__"}
    runs = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"<cell {index}>", "exec"), namespace)
            runs.append(CellRun(index, cell.source, None))
        except Exception as exc:  # noqa: BLE001 - the test inspects what each cell raised
            runs.append(CellRun(index, cell.source, exc))
    plt.close("all")
    return namespace, runs

"""Where the project's files live. One place, so the CLI, the tests and the bundles agree."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("BACKPROP_GRADER_ROOT", Path(__file__).resolve().parent.parent))
SOLUTION = ROOT / "solution" / "backprop.ipynb"
SKELETON = ROOT / "assignment" / "backprop.ipynb"
DATA_NAME = "xordata.pkl"  # the file name the notebook opens, in its working directory
PUBLIC_DATA = ROOT / "data" / DATA_NAME
RUBRIC = ROOT / "rubric.toml"

"""The backprop assignment: everything that belongs to this one homework, apart from the engine.

In: the rubric (thresholds, the hidden seed). Out, through these names only, which the engine reads with
`grader.grading.assignment.load()`:

- AREAS: the rubric's area ids, in the order reports list them;
- SUITE_DIR: the pytest grading suite, one module `test_<area>.py` per area;
- DATA_FILES: file name -> path of what the notebook opens from its working directory (copied into the sandbox);
- public_data() -> dict of arrays, the public split as the notebook makes it;
- hidden_set(rubric) -> dict of arrays, or None when the rubric has no hidden seed;
- SKELETON: the notebook students get; its hand-graded prompts (cells marked `grader: {manual: true}`) are
  how answers that lost their marking are found;
- set_input_salt(salt): real grading draws the tests' inputs with this secret; None keeps the public seeds;
- source_notes(sources) -> list of str: notes for the top of the results, read from the code cells' text without
  running them (a required name missing while a close one is defined);
- AREA_FUNCTIONS: area id -> the functions its tests call ("relu", or "Class.method"), whose code the feedback
  shows beside a lost area's verdicts (optional for an assignment: without it, no code is shown);
- WORKER_STANDINS: the path of a plain file (standard library and numpy only) that the sandbox ships beside its
  worker, whose table LOCAL (name -> function(obj, *args, **options)) holds the stand-ins the student's process
  computes itself, where a test asks for one by name (`use_grader_method`); every other stand-in is answered by
  the grader (optional: without it, every one is).

Everything else in this folder (oracle, hints, checks, the XOR sampler, the suite) is private to it.
worker_standins.py is imported here only so that the student kit, which follows imports, ships it.
"""

from __future__ import annotations

from pathlib import Path

from grader import paths
from grader.backprop import worker_standins
from grader.backprop.checks import set_input_salt
from grader.backprop.data import hidden_set, public_data
from grader.backprop.names import AREA_FUNCTIONS, source_notes

AREAS = ("softmax", "softmax_grad", "activations", "derivatives", "init", "forward", "loss", "backward", "update",
         "predict", "train", "accuracy")
SUITE_DIR = Path(__file__).resolve().parent / "suite"
DATA_FILES = {paths.DATA_NAME: paths.PUBLIC_DATA}
SKELETON = paths.SKELETON
WORKER_STANDINS = Path(worker_standins.__file__).resolve()

__all__ = ["AREAS", "SUITE_DIR", "DATA_FILES", "SKELETON", "public_data", "hidden_set", "set_input_salt",
           "source_notes", "AREA_FUNCTIONS", "WORKER_STANDINS"]

"""The student kit's oracle.py: generic helpers shipped as they are, every reference computation replayed.

The table of answers is recorded by grading the reference solution with the public tests, and again a copy of it
whose every answer is off by a factor, so that the tests also make the calls they make only on failure (hints).
"""

from __future__ import annotations

import ast
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from grader.errors import ConfigError
from grader.bundles.oracle_replay import NotRecorded, call_key, generators, state_of
from grader.grading.results import Status

SHIPPED_FUNCTIONS = ("numerical_grad", "starting_params")  # generic helpers; the accuracy area draws
# starting weights for the student's own hidden_dim, which no recorded table can foresee
# Called on the student's own trained weights, so no table can hold their answers. The decision rule needs only the
# sign of the logit, whose formulas the test names state; the kit has no sigmoid, softmax, loss or gradient.
KIT_FUNCTIONS = {
    "predict": '''def predict(params: Params, X: np.ndarray) -> np.ndarray:
    """1 where the network's logit is positive (its probability above 0.5), as int64 of shape (n,)."""
    hidden = np.maximum(X @ params["W1"] + params["b1"].reshape(1, -1), 0.0)
    return ((hidden @ params["W2"] + params["b2"].reshape(1, -1)).ravel() > 0).astype(np.int64)''',
    "accuracy": '''def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(params, X) == np.ravel(y)))''',
}
HEADER = '"""The student kit\'s stand-in for the grader\'s oracle: its reference values are recorded answers."""'
STUB = '''

def {name}(*args, **kwargs):
    """The grader's {name}, answered from the table recorded when this kit was built."""
    return _replay("{name}", args, kwargs)
'''
SKEWED_FUNCTIONS = ("softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad", "relu", "relu_derivative",
                    "sigmoid", "sigmoid_derivative")
SKEWED_METHODS = ("initialize_parameters", "forward_pass", "backward_prop", "update_weights", "cross_entropy_loss",
                  "predict", "accuracy")
SKEW_CELL = f'''
# Added by the student-kit builder: every answer is off by a factor, so each test fails and computes its hints.
import numpy as _np

def _skewed(value):
    if isinstance(value, (float, _np.ndarray)) and _np.asarray(value).dtype.kind == "f":
        return value * 1.37 + 0.01
    return tuple(_skewed(v) for v in value) if isinstance(value, tuple) else value

def _skew(function):
    return lambda *args, **kwargs: _skewed(function(*args, **kwargs))

for _name in {SKEWED_FUNCTIONS!r}:
    globals()[_name] = _skew(globals()[_name])
for _name in {SKEWED_METHODS!r}:
    setattr(TwoLayerPerceptron, _name, _skew(getattr(TwoLayerPerceptron, _name)))
'''


def kit_oracle_source(source: str) -> tuple[str, tuple[str, ...]]:
    """The kit's oracle.py made from the grader's, and the names of the functions it replays."""
    tree = ast.parse(source)
    parts, replayed = [HEADER], []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)) or \
                isinstance(node, ast.FunctionDef) and node.name in SHIPPED_FUNCTIONS:
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            parts.append("\n".join(source.splitlines()[start - 1:node.end_lineno]))
        elif isinstance(node, ast.FunctionDef) and node.name in KIT_FUNCTIONS:
            parts.append(KIT_FUNCTIONS[node.name])
        elif isinstance(node, ast.FunctionDef):
            parts.append(STUB.format(name=node.name).strip("\n"))
            replayed.append(node.name)
        else:
            raise ConfigError(f"grader/backprop/oracle.py line {node.lineno}: the student kit cannot ship a top-level "
                              f"{type(node).__name__}; use constants and functions")
    imports = sum(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)
    parts.insert(1 + imports, "from grader.bundles.oracle_replay import replay as _replay")
    return "\n\n".join(parts) + "\n", tuple(replayed)


KIT_STANDINS = '''"""The student kit's answers to the grader's stand-ins: none. The grader's activations and backward pass stay
with the grader, so in the self-check the tests that would use them run the student's own code instead."""

from __future__ import annotations

from typing import Any


def answer(name: str, args: list, kwargs: dict, attributes: dict, options: dict) -> tuple[Any, dict]:
    raise LookupError(f"the self-check has no {name} of the grader's; the graded run has")
'''


def _copy(value: Any) -> Any:

    if isinstance(value, dict):
        return {k: np.array(v, copy=True) for k, v in value.items()}
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


@contextmanager
def recording(names: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Within the block, every call of grader.backprop.oracle.<name> is answered as usual and its answer kept by call key.

    Yields the answers and a list of the calls that could not be keyed (an argument of an unknown type).
    """
    from grader.backprop import oracle

    answers: dict[str, Any] = {}
    unkeyed: list[str] = []
    originals = {name: getattr(oracle, name) for name in names}

    def recorder(name: str, function):
        def record(*args, **kwargs):
            try:
                key = call_key(name, args, kwargs)
            except NotRecorded as exc:
                unkeyed.append(f"oracle.{name}: {exc}")
                return function(*args, **kwargs)
            value = function(*args, **kwargs)
            answers[key] = (_copy(value), [state_of(rng) for rng in generators(args, kwargs)])
            return value
        return record

    for name, function in originals.items():
        setattr(oracle, name, recorder(name, function))
    try:
        yield answers, unkeyed
    finally:
        for name, function in originals.items():
            setattr(oracle, name, function)


def skewed_notebook(solution: Path, out_dir: Path) -> Path:
    """A copy of the solution whose every answer is wrong by a factor (never shipped: for recording only)."""
    nb = nbformat.read(solution, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SKEW_CELL))
    path = out_dir / "skewed.ipynb"
    nbformat.write(nb, path)
    return path


def record_answers(names: tuple[str, ...], solution: Path, rubric) -> dict[str, Any]:
    """Grade the solution and its skewed copy with the public tests, keeping every answer of the replayed names."""
    from grader.grading.grade import grade_submission

    with tempfile.TemporaryDirectory(prefix="student-kit-") as tmp, recording(names) as (answers, unkeyed):
        report = grade_submission(solution, rubric=rubric, public_only=True)
        failed = [t.name for t in report.tests if not t.passed]
        if report.status == Status.ERROR or failed or not report.tests:
            raise ConfigError(f"the reference solution {solution} must pass every public test to record the "
                              f"kit's answers: {report.reason or ', '.join(failed) or 'no public tests ran'}")
        grade_submission(skewed_notebook(solution, Path(tmp)), rubric=rubric, public_only=True)
    if unkeyed:
        raise ConfigError("the student kit cannot record these oracle calls: " + "; ".join(sorted(set(unkeyed))))
    return answers

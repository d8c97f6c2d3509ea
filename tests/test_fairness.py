"""Fair grades on whole notebooks: every equivalent the contract allows scores 100, a partial one loses points
only in its own area, and the cheats earn nothing in train or accuracy. Each case asserts per-area scores.

The submissions are graded for real (secret inputs, hidden set), through the sandbox, two at a time.
"""

from __future__ import annotations

import hashlib
import json

import nbformat
import numpy as np
import pytest

from grader import paths
from grader.backprop import checks, oracle
from grader.grading import secret
from grader.grading.rubric import load_rubric
from tests.corpus import CHEATS, EQUIVALENT, NOTED, PARTIAL, Case, write_case
from tests.test_grading import failures, grade_all, report_of

pytestmark = pytest.mark.slow

REPLAY = '''
RECORDED = json.loads({table!r})


def _replayed(X):
    """The gradients another submission was graded on, looked up by the inputs' bytes; zeros for anything else."""
    hit = RECORDED.get(np.asarray(X, dtype=float).tobytes().hex())
    return tuple(np.array(g) for g in hit) if hit else None
'''


def suite_backward():
    """The suite's backward module, for its input generator (conftest registers its grading markers)."""
    from grader.backprop.suite import test_backward  # noqa: PLC0415

    return test_backward


def replay_cheat(folder) -> tuple[str, object]:
    """A notebook whose backward_prop answers the backward tests' inputs from a table recorded while the
    solution was graded, and returns zero gradients otherwise."""
    rubric = load_rubric()
    solution_sha = hashlib.sha256(paths.SOLUTION.read_bytes()).hexdigest()
    test_backward = suite_backward()
    checks.set_input_salt(secret.input_salt(rubric.secret, solution_sha))
    try:
        params, X, y = test_backward.case()
    finally:
        checks.set_input_salt(None)
    grads = [oracle.bce_grad(params, X, y, p).tolist() for p in oracle.PARAMS]
    table = json.dumps({np.asarray(X, dtype=float).tobytes().hex(): grads})
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].source += "\nimport json\n" + REPLAY.format(table=table)
    body = next(c for c in code if "def backward_prop" in c.source)
    body.source = body.source.replace("        n = X.shape[0]\n        dZ2",
                                      "        hit = _replayed(X)\n        if hit is not None:\n            return hit\n"
                                      "        return (np.zeros(self.W1.shape), np.zeros(self.b1.shape), "
                                      "np.zeros(self.W2.shape), np.zeros(self.b2.shape))\n"
                                      "        n = X.shape[0]\n        dZ2")
    path = folder / "replayed_inputs.ipynb"
    nbformat.write(nb, path)
    return path, X


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fairness")
    submissions = {c.name: write_case(c, folder) for c in (*EQUIVALENT, *PARTIAL, *NOTED, *CHEATS)}
    submissions["replayed_inputs"], _ = replay_cheat(folder)
    return grade_all(submissions)


@pytest.mark.sandbox
@pytest.mark.parametrize("case", EQUIVALENT, ids=[c.name for c in EQUIVALENT])
def test_a_correct_equivalent_scores_100_in_every_area(reports, case: Case):
    report = report_of(reports, case.name)
    assert report.status == "graded"
    assert {a: got for a, (got, top) in report.area_scores().items()} == {
        a: top for a, (got, top) in report.area_scores().items()}, failures(report)
    assert report.score == report.max_score == 100.0


@pytest.mark.sandbox
@pytest.mark.parametrize("case", PARTIAL + NOTED + CHEATS, ids=[c.name for c in PARTIAL + NOTED + CHEATS])
def test_a_partial_or_cheating_notebook_loses_points_only_in_its_areas(reports, case: Case):
    report = report_of(reports, case.name)
    scores = report.area_scores()
    assert {a for a, (got, top) in scores.items() if got < top} == set(case.lost), failures(report)
    assert all(scores[a][0] == 0.0 for a in case.zero), scores
    if case.hint:
        texts = [t.hint + t.message for t in report.tests if not t.passed] + list(report.notes)
        assert any(case.hint in text for text in texts), failures(report)


@pytest.mark.sandbox
def test_replayed_inputs_earn_nothing_in_backward_or_accuracy(reports):
    """Its train is the solution's loop, judged with the grader's own backward_prop: the cheat is charged once, in
    backward, and in accuracy, which trains with the submission's own code."""
    report = report_of(reports, "replayed_inputs")
    scores = report.area_scores()
    assert {a for a, (got, top) in scores.items() if got < top} == {"backward", "accuracy"}, failures(report)
    assert all(scores[a][0] == 0.0 for a in ("backward", "accuracy")), scores


def test_the_replayed_table_holds_the_inputs_of_the_solution_only(tmp_path):
    """The cheat would have worked if the inputs did not depend on the submission's own hash."""
    path, recorded_X = replay_cheat(tmp_path)
    rubric = load_rubric()
    test_backward = suite_backward()
    for sha, same in ((hashlib.sha256(paths.SOLUTION.read_bytes()).hexdigest(), True),
                      (hashlib.sha256(path.read_bytes()).hexdigest(), False)):
        checks.set_input_salt(secret.input_salt(rubric.secret, sha))
        try:
            assert np.array_equal(test_backward.case()[1], recorded_X) == same
        finally:
            checks.set_input_salt(None)

"""The label convention of a submission, found once and used by every test that passes labels.

The contract accepts labels shaped (n,) or (n, 1) when a submission is written consistently for one of them. The
grader asks backward_prop and cross_entropy_loss, at weights it sets, which shape each one is right for; it then
passes labels in the shape they agree on. When they disagree, the submission mixes the two, and the notes and the
failing tests say how: (n, 1) minus (n,) broadcasts to (n, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.backprop import checks, oracle
from grader.errors import GraderError
from grader.grading import expect

FLAT, COLUMN = "(n,)", "(n, 1)"
HIDDEN, N, SEED = 4, 6, 1301
MIXED = ("Your code mixes the two label shapes: {column} is right only for labels y of shape (n, 1), and {flat} "
         "only for labels of shape (n,). Subtracting an (n,) array from an (n, 1) one, as in A2 - y, broadcasts "
         "to an (n, n) matrix without any error, and the result is wrong. Use one shape everywhere, for example "
         "y = y.reshape(-1, 1) at the start of every method that takes y.")


@dataclass(frozen=True)
class Conventions:
    """labels: FLAT or COLUMN, the shape labels are passed in; mixed: the hint for a submission that mixes them."""

    labels: str = FLAT
    mixed: str = ""

    def y(self, labels: np.ndarray) -> np.ndarray:
        """The labels in the submission's convention."""
        flat = np.ravel(labels)
        return flat.reshape(-1, 1) if self.labels == COLUMN else flat


def _probe_case() -> tuple[oracle.Params, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)  # a fixed probe: its answers only choose a shape, they earn no points
    while True:
        params, X = oracle.random_params(rng, 2, HIDDEN), rng.normal(size=(N, 2))
        y = rng.integers(0, 2, size=N)
        if oracle.away_from_kink(params, X) and 0 < y.sum() < N:
            return params, X, y


def _right_for(answer, expected: np.ndarray) -> bool:
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return False
    return got.size == expected.size and expect.rel_error(got.reshape(expected.shape), expected) <= 1e-4


def _backward_right(student, params, X, labels) -> bool:
    fwd = oracle.forward(params, X)
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
    grads = model.call("backward_prop", X, labels, fwd["Z1"], fwd["A1"], fwd["Z2"], fwd["A2"])
    expected = oracle.bce_grad(params, X, np.ravel(labels), "W2")
    return isinstance(grads, (tuple, list)) and len(grads) == 4 and _right_for(grads[2], expected)


def _loss_right(student, params, X, labels) -> bool:
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
    checks.isolate_forward(model, params, X)
    expected = np.asarray(oracle.mean_bce(params, X, np.ravel(labels)))
    return _right_for(model.call("cross_entropy_loss", X, labels), expected)


def _right_shapes(probe, student, params, X, y) -> set[str]:
    """The label shapes for which the probed method gives the right answer; raising counts as wrong."""
    right = set()
    for shape, labels in ((FLAT, y), (COLUMN, y.reshape(-1, 1))):
        try:
            if probe(student, params, X, labels):
                right.add(shape)
        except (GraderError, AssertionError):
            pass
    return right


def detect(student) -> Conventions:
    """Ask backward_prop and cross_entropy_loss which label shape they are right for; a method that fails or
    raises for both says nothing (its own tests grade it)."""
    params, X, y = _probe_case()
    found = {}
    for method, probe in (("backward_prop", _backward_right), ("cross_entropy_loss", _loss_right)):
        found[method] = _right_shapes(probe, student, params, X, y)
    told = [shapes for shapes in found.values() if shapes]
    if all(FLAT in s for s in told):
        return Conventions(FLAT)
    if all(COLUMN in s for s in told):
        return Conventions(COLUMN)
    column = " and ".join(f"`{m}`" for m, s in found.items() if s == {COLUMN})
    flat = " and ".join(f"`{m}`" for m, s in found.items() if s == {FLAT})
    return Conventions(FLAT, MIXED.format(column=column, flat=flat))

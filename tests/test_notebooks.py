"""The reference solution works and reaches the accuracy target; the skeleton fails only in its stubs."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from grader import paths
from tests.notebook_exec import run_cells

ACCURACY_FLOOR = 0.97
GRAD_TOL = 1e-6


def independent_softmax_ce(a: np.ndarray, t: np.ndarray) -> float:
    """E = -sum t ln softmax(a), written with log-sum-exp."""
    m = a.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(a - m).sum(axis=1, keepdims=True))
    return float(-(t * (a - lse)).sum())


def centered_difference(f, a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (f(plus) - f(minus)) / (2 * h)
    return grad


def run_beside_the_data(tmp_path_factory, notebook):
    """Run a notebook's cells in a fresh folder holding the public data, as a student's working directory."""
    work = tmp_path_factory.mktemp(notebook.parent.name)
    shutil.copy(paths.PUBLIC_DATA, work / paths.DATA_NAME)
    old = os.getcwd()
    os.chdir(work)
    try:
        return run_cells(notebook)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def solution_run(tmp_path_factory):
    return run_beside_the_data(tmp_path_factory, paths.SOLUTION)


def test_every_solution_cell_runs(solution_run):
    _, runs = solution_run
    assert [(r.index, repr(r.error)) for r in runs if r.error] == []


def test_solution_reaches_the_accuracy_floor_on_the_test_half(solution_run):
    ns, _ = solution_run
    model, X, y = ns["model"], ns["X_test"], ns["y_test"]
    assert X.shape == (100, 2)
    hidden = np.maximum(0, X @ model.W1 + model.b1)
    prob = 1 / (1 + np.exp(-(hidden @ model.W2 + model.b2).ravel()))
    assert np.mean((prob > 0.5) == y) >= ACCURACY_FLOOR


def test_solution_problem_1_gradient_matches_finite_differences(solution_run):
    ns, _ = solution_run
    rng = np.random.default_rng(7)
    a = rng.normal(scale=3.0, size=(6, 4))
    t = np.eye(4)[rng.integers(0, 4, size=6)]
    numeric = centered_difference(lambda z: independent_softmax_ce(z, t), a)
    analytic = ns["softmax_cross_entropy_grad"](a, t)
    rel = np.max(np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric)))
    assert rel < GRAD_TOL
    assert ns["softmax_cross_entropy"](a, t) == pytest.approx(independent_softmax_ce(a, t), rel=1e-12)


STUB_FUNCTIONS = {
    "softmax": (np.zeros((2, 3)),),
    "softmax_cross_entropy": (np.zeros((2, 3)), np.eye(3)[:2]),
    "softmax_cross_entropy_grad": (np.zeros((2, 3)), np.eye(3)[:2]),
    "relu": (np.zeros(3),),
    "relu_derivative": (np.ones(3),),
    "sigmoid": (np.zeros(3),),
    "sigmoid_derivative": (np.zeros(3),),
}
X2, Y2, H2 = np.ones((4, 2)), np.array([0, 1, 1, 0]), np.ones((4, 3))
STUB_METHODS = {
    "initialize_parameters": (2, 3),
    "forward_pass": (X2,),
    "backward_prop": (X2, Y2, H2, H2, np.ones((4, 1)), np.ones((4, 1)) / 2),
    "update_weights": (np.zeros((2, 3)), np.zeros(3), np.zeros((3, 1)), np.zeros(1)),
    "cross_entropy_loss": (X2, Y2),
    "predict": (X2,),
    "accuracy": (X2, Y2),
    "train": (X2, Y2, X2, Y2),
}


@pytest.fixture(scope="module")
def skeleton_run(tmp_path_factory):
    return run_beside_the_data(tmp_path_factory, paths.SKELETON)


def test_skeleton_cells_fail_only_with_not_implemented(skeleton_run):
    _, runs = skeleton_run
    failed = [r for r in runs if r.error is not None]
    assert failed, "the untouched skeleton should not run cleanly"
    assert [(r.index, type(r.error).__name__) for r in failed if not isinstance(r.error, NotImplementedError)] == []
    # the data loading and imports work in the skeleton too
    assert all(r.error is None for r in runs if "pickle.load" in r.source or r.source.startswith("import"))


@pytest.mark.parametrize("name", sorted(STUB_FUNCTIONS))
def test_each_stub_function_raises_not_implemented(skeleton_run, name):
    ns, _ = skeleton_run
    with pytest.raises(NotImplementedError):
        ns[name](*STUB_FUNCTIONS[name])


@pytest.mark.parametrize("name", sorted(STUB_METHODS))
def test_each_stub_method_raises_not_implemented(skeleton_run, name):
    ns, _ = skeleton_run
    cls = ns["TwoLayerPerceptron"]
    model = object.__new__(cls)  # __init__ itself calls the initialize_parameters stub
    model.__dict__.update(W1=np.zeros((2, 3)), b1=np.zeros(3), W2=np.zeros((3, 1)), b2=np.zeros(1),
                          learning_rate=0.1, batch_size=2, epochs=1, tol=0.0, rng=np.random.default_rng(0))
    with pytest.raises(NotImplementedError):
        getattr(model, name)(*STUB_METHODS[name])


def test_hyperparameters_are_a_stub_in_the_skeleton(skeleton_run):
    _, runs = skeleton_run
    cell = next(r for r in runs if "HYPERPARAMETERS =" in r.source)
    assert isinstance(cell.error, NotImplementedError)

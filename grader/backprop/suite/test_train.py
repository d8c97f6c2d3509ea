"""train: uses its arguments, not globals; returns the history; stops early on the validation loss.

The grader sets the hyperparameters and the starting weights, so these tests do not depend on the student's
HYPERPARAMETERS or initialisation; the checks of structure and stopping do not depend on how well it learns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.backprop.xor import sample_xor

pytestmark = pytest.mark.area("train")

HIDDEN = 16
SEED = 1101
HUGE_TOL = 1e9  # every loss is below this, so train must stop after its first epoch
STOP_TOL = 0.5  # between a fitted train loss and the loss on oppositely-labelled validation data
AGREEMENT = 0.9  # share of equal predictions above which two trainings on opposite data learned the same thing
LEARNED = 0.75  # accuracy on the notebook's data above which a model has learned it
REPORTED_LOSS_TOL = 1e-4  # relative gap allowed between a recorded loss and the loss recomputed after training
EPOCHS = 10  # enough for the grader's hyperparameters to fit XOR


def opposite_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh XOR-distributed points labelled the opposite way to the notebook's data (1 - XOR)."""
    X, y = sample_xor(n, checks.input_rng(seed))
    return X, 1 - y


def run_train(student, X, y, X_val, y_val, *, epochs: int, tol: float,
              finite: bool = True) -> tuple[Any, dict[str, list[float]]]:
    """Train a model built with the grader's hyperparameters and starting weights; returns it and its history."""
    start = oracle.starting_params(checks.input_rng(SEED), 2, HIDDEN)
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=start, epochs=epochs, tol=tol)
    what = f"train(X, y, X_val, y_val) with epochs={epochs}, tol={tol:g}"
    return model, as_history(model.call("train", X, y, X_val, y_val), what, finite)


def as_history(value: Any, what: str, finite: bool = True) -> dict[str, list[float]]:
    """{"train_loss": [...], "val_loss": [...]}: lists of numbers (finite ones unless `finite` is False)."""
    wanted = 'a dict {"train_loss": [...], "val_loss": [...]}'
    if not isinstance(value, dict) or not {"train_loss", "val_loss"} <= set(value):
        raise checks.Mismatch(f"{what}: expected {wanted}, got {checks.describe(value)}", expected=wanted,
                              actual=checks.describe(value))
    out = {}
    for key in ("train_loss", "val_loss"):
        entries = value[key]
        if not isinstance(entries, (list, tuple, np.ndarray)) or np.ndim(entries) != 1:
            raise checks.Mismatch(f"{what}: history[{key!r}]: expected a list of floats, got "
                                  f"{checks.describe(entries)}", expected="a list", actual=checks.describe(entries))
        out[key] = [checks.as_float(v, f"{what}: history[{key!r}][{i}]") for i, v in enumerate(entries)]
        if finite:
            checks.finite(np.array(out[key]), f"{what}: history[{key!r}]")
    return out


def check_epochs(history: dict[str, list[float]], expected: int, what: str, why: str) -> None:
    for key, losses in history.items():
        if len(losses) != expected:
            wanted = f"{expected} {'entry' if expected == 1 else 'entries'}"
            raise checks.Mismatch(f"{what}: {why}; history[{key!r}] should have {wanted}, it has {len(losses)}",
                                  expected=wanted, actual=f"{len(losses)} entries")


@pytest.mark.points(1)
@pytest.mark.public
def test_train_history(student, public_data):
    """updates the weights and returns a history with one loss per epoch"""
    d = public_data
    model, history = run_train(student, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=3, tol=0.0)
    check_epochs(history, 3, "train with epochs=3, tol=0", "no loss is below 0, so all 3 epochs run")
    start = oracle.starting_params(checks.input_rng(SEED), 2, HIDDEN)
    after = checks.get_params(model, "the model after train", HIDDEN)
    if all(np.array_equal(np.reshape(after[k], np.shape(start[k])), start[k]) for k in oracle.PARAMS):
        raise checks.Mismatch("train with epochs=3, tol=0: W1, b1, W2 and b2 are exactly the weights the model "
                              "started with; train must run mini-batch SGD (forward_pass, backward_prop, "
                              "update_weights) on each batch", expected="weights changed by training",
                              actual="the starting weights")


@pytest.mark.points(2)
@pytest.mark.public
def test_train_stops_early(student, public_data):
    """stops early once the validation loss falls below tol"""
    d = public_data
    _, history = run_train(student, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=4, tol=HUGE_TOL)
    check_epochs(history, 1, f"train with epochs=4, tol={HUGE_TOL:g}", "every loss is below tol, so train stops "
                 "after epoch 1")
    X_val, y_val = opposite_data(SEED + 1, 100)
    _, history = run_train(student, d["X_train"], d["y_train"], X_val, y_val, epochs=8, tol=STOP_TOL)
    check_stopping(history["val_loss"], 8, f"train with epochs=8, tol={STOP_TOL:g}")


def check_stopping(val_loss: list[float], epochs: int, what: str) -> None:
    """Stop after the first epoch whose recorded validation loss is below tol, and not before."""
    if not 1 <= len(val_loss) <= epochs:
        raise checks.Mismatch(f"{what}: expected from 1 to {epochs} entries in history['val_loss'], got "
                              f"{len(val_loss)}", expected=f"1 to {epochs} entries", actual=f"{len(val_loss)} entries")
    for epoch, loss in enumerate(val_loss[:-1], start=1):
        if loss < STOP_TOL:
            raise checks.Mismatch(f"{what}: the validation loss after epoch {epoch} was {loss:.4g} < tol, so train "
                                  f"should stop there; it went on to {len(val_loss)} epochs",
                                  expected=f"{epoch} epochs", actual=f"{len(val_loss)} epochs")
    if len(val_loss) < epochs and val_loss[-1] >= STOP_TOL:
        raise checks.Mismatch(f"{what}: train stopped after epoch {len(val_loss)}, but the validation loss was "
                              f"{val_loss[-1]:.4g}, not below tol (stop on the validation loss, not the train loss)",
                              expected=f"{epochs} epochs", actual=f"{len(val_loss)} epochs")


@pytest.mark.points(2)
def test_train_uses_arguments(student, public_data):
    """uses its arguments, not the notebook's globals"""
    d = public_data
    own, _ = run_train(student, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=EPOCHS, tol=0.0,
                       finite=False)
    (X, y), (X_val, y_val) = opposite_data(SEED + 2, 600), opposite_data(SEED + 3, 200)
    other, history = run_train(student, X, y, X_val, y_val, epochs=EPOCHS, tol=0.0, finite=False)
    what = "train(X, y, X_val, y_val) on fresh data labelled the opposite way to the notebook's"
    learned_own = checks.get_params(own, "the model trained on the notebook's data", HIDDEN)
    learned_other = checks.get_params(other, "the model trained on the opposite data", HIDDEN)
    agree = float(np.mean(oracle.predict(learned_own, d["X_train"]) == oracle.predict(learned_other, d["X_train"])))
    fits_notebook = oracle.accuracy(learned_other, d["X_train"], d["y_train"])
    if agree >= AGREEMENT and fits_notebook >= LEARNED:
        raise checks.Mismatch(f"{what}: the model learned the notebook's data instead (accuracy {fits_notebook:.2f} "
                              f"on X_train, y_train; {oracle.accuracy(learned_other, X, y):.2f} on the data given)",
                              expected="a model that fits the data given", actual="a model that fits X_train, y_train",
                              hint=hints.READS_GLOBALS)
    check_recorded_val_loss(other, history, X_val, y_val, d, what)


def check_recorded_val_loss(model, history: dict[str, list[float]], X_val, y_val, d: dict, what: str) -> None:
    """The last recorded validation loss is the loss on the X_val, y_val given, at the trained weights."""
    recorded = history["val_loss"][-1] if history["val_loss"] else float("nan")
    given = checks.as_float(model.call("cross_entropy_loss", X_val, y_val), "cross_entropy_loss(X_val, y_val)")
    if same_loss(recorded, given):
        return
    notebook = checks.as_float(model.call("cross_entropy_loss", d["X_val"], d["y_val"]), "cross_entropy_loss")
    reads_globals = same_loss(recorded, notebook)
    raise checks.Mismatch(f"{what}: the last validation loss in the history, {recorded:.6g}, is not the loss on the "
                          f"X_val, y_val given to train ({given:.6g} after training)", expected=f"{given:.6g}",
                          actual=f"{recorded:.6g}", hint=hints.READS_GLOBALS if reads_globals else "")


def same_loss(recorded: float, recomputed: float) -> bool:
    """Equal within REPORTED_LOSS_TOL; a nan or inf recorded where the loss itself is nan or inf counts as equal."""
    if not (np.isfinite(recorded) and np.isfinite(recomputed)):
        return bool(np.isnan(recorded) and np.isnan(recomputed)) or recorded == recomputed
    return oracle.rel_error(recorded, recomputed) <= REPORTED_LOSS_TOL

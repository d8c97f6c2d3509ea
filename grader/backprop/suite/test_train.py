"""train: mini-batch SGD on its own arguments; returns the history; stops early on the validation loss.

The grader sets the hyperparameters and the starting weights (in the shapes of the student's own initialisation),
and the model's cross_entropy_loss is the grader's own mean BCE while train runs, so a `loss` bug costs no `train`
points and every recorded loss can be checked against the grader's computation. backward_prop and update_weights
are watched: one call of each per mini-batch, ceil(n / batch_size) per epoch, in a new order every epoch.

Each test first runs the student's loop with the grader's own forward_pass, backward_prop, update_weights and
activations, so a bug in one of them is charged in its own area only; if the loop fails that way (it calls them in
a way of its own), the test runs it again with the student's own methods, and passes if either run passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.backprop.xor import sample_xor
from grader.grading import expect

pytestmark = pytest.mark.area("train")

HIDDEN = 16
SEED = 1101
BATCH = 48  # does not divide the 800 training points: the last batch of an epoch is smaller
HUGE_TOL = 1e9  # every loss is below this, so train must stop after its first epoch
STOP_TOL = 0.5  # between a fitted validation loss and the loss on oppositely-labelled validation data
FIT_TOL = 0.2  # a validation loss the grader's hyperparameters reach within EPOCHS on data they can fit
AGREEMENT = 0.9  # share of equal predictions above which two trainings on opposite data learned the same thing
LEARNED = 0.75  # accuracy above which a model has learned the data it was given
FITTED = 0.95  # validation accuracy at which the grader's loss on it is far below FIT_TOL
REPORTED_LOSS_TOL = 1e-4  # relative gap allowed between a recorded loss and the grader's loss after training
FALL = 0.9  # after 3 epochs the recorded training loss is below this share of the first epoch's
EPOCHS = 10  # enough for the grader's hyperparameters to fit XOR
LEARNING_RATE = checks.MODEL_DEFAULTS["learning_rate"]
FIT_EPOCHS = 50  # room for slow but real learning (even full-batch steps) to bring the validation loss below FIT_TOL
WATCHED = ("backward_prop", "update_weights")


def opposite_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh XOR-distributed points labelled the opposite way to the notebook's data (1 - XOR)."""
    X, y = sample_xor(n, checks.input_rng(seed))
    return X, 1 - y


def charged_once(test: Callable[[bool], None]) -> None:
    """The test run with the grader's own methods under the student's loop, then with the student's own."""
    expect.charged_once(partial(test, True), partial(test, False))


def run_train(student, conventions, X, y, X_val, y_val, *, epochs: int, tol: float, isolated: bool,
              finite: bool = True) -> tuple[Any, dict[str, list[float]]]:
    """Train a model built with the grader's hyperparameters and starting weights, with the grader's loss (and,
    when `isolated`, the grader's forward_pass, backward_prop, update_weights and activations) and
    backward_prop/update_weights watched; returns it and its history."""
    start = oracle.starting_params(checks.input_rng(SEED), 2, HIDDEN)
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=start, epochs=epochs, tol=tol,
                             batch_size=BATCH, learning_rate=LEARNING_RATE)
    checks.use_standin_methods(model, "cross_entropy_loss")
    if isolated:
        checks.use_standin_methods(model, "forward_pass", *WATCHED, learning_rate=LEARNING_RATE)
    for method in WATCHED:
        model.spy(method)
    what = f"train(X, y, X_val, y_val) with epochs={epochs}, tol={tol:g}, batch_size={BATCH}"
    history = model.call("train", X, conventions.y(y), X_val, conventions.y(y_val),
                         _isolate=checks.standins_except() if isolated else ())
    return model, as_history(history, what, finite)


def as_history(value: Any, what: str, finite: bool = True) -> dict[str, list[float]]:
    """{"train_loss": [...], "val_loss": [...]}: lists of numbers (finite ones unless `finite` is False)."""
    wanted = 'a dict {"train_loss": [...], "val_loss": [...]}'
    if not isinstance(value, dict) or not {"train_loss", "val_loss"} <= set(value):
        raise expect.Mismatch(f"{what}: expected {wanted}, got {expect.describe(value)}", expected=wanted,
                              actual=expect.describe(value))
    out = {}
    for key in ("train_loss", "val_loss"):
        entries = value[key]
        if not isinstance(entries, (list, tuple, np.ndarray)) or np.ndim(entries) != 1:
            raise expect.Mismatch(f"{what}: history[{key!r}]: expected a list of floats, got "
                                  f"{expect.describe(entries)}", expected="a list", actual=expect.describe(entries))
        out[key] = [expect.as_float(v, f"{what}: history[{key!r}][{i}]") for i, v in enumerate(entries)]
        if finite:
            expect.finite(np.array(out[key]), f"{what}: history[{key!r}]")
    return out


def check_epochs(history: dict[str, list[float]], expected: int, what: str, why: str) -> None:
    for key, losses in history.items():
        if len(losses) != expected:
            wanted = f"{expected} {'entry' if expected == 1 else 'entries'}"
            raise expect.Mismatch(f"{what}: {why}; history[{key!r}] should have {wanted}, it has {len(losses)}",
                                  expected=wanted, actual=f"{len(losses)} entries")


def check_sgd(model, n: int, epochs: int, what: str) -> None:
    """One backward_prop and one update_weights per mini-batch of at most BATCH rows, ceil(n / BATCH) of them per
    epoch covering all n rows, in a different order every epoch."""
    steps = math.ceil(n / BATCH)
    backward, updates = (model.calls(method) for method in WATCHED)
    if len(backward) != steps * epochs or len(updates) != steps * epochs:
        hint = (hints.NO_SGD if not backward or not updates else hints.FULL_BATCH if len(backward) == epochs
                else hints.BATCH_COUNT)
        raise expect.Mismatch(
            f"{what}: expected {steps} calls of backward_prop and {steps} of update_weights per epoch (one per "
            f"mini-batch: ceil({n} / {BATCH}) = {steps}), {steps * epochs} of each in {epochs} epochs; got "
            f"{len(backward)} and {len(updates)}", expected=f"{steps * epochs} and {steps * epochs}",
            actual=f"{len(backward)} and {len(updates)}", hint=hint)
    epochs_rows = [backward[e * steps:(e + 1) * steps] for e in range(epochs)]
    for rows in epochs_rows:
        sizes = [int(size) for size, _ in rows]
        if sum(sizes) != n or max(sizes) > BATCH:
            raise expect.Mismatch(f"{what}: each epoch's mini-batches should hold at most {BATCH} rows and {n} in "
                                  f"all; backward_prop got batches of {sizes[:6]}{' ...' if len(sizes) > 6 else ''}",
                                  expected=f"{steps} batches of at most {BATCH} rows, {n} in all",
                                  actual=f"{len(sizes)} batches, {sum(sizes)} rows", hint=hints.BATCH_COUNT)
    firsts = [[tuple(first) for _, first in rows] for rows in epochs_rows]
    if any(firsts[e] == firsts[e + 1] for e in range(epochs - 1)):
        raise expect.Mismatch(f"{what}: the mini-batches of two epochs came in the same order; train must shuffle "
                              "the data at the start of every epoch", expected="a new order every epoch",
                              actual="the same batches as the epoch before", hint=hints.NO_SHUFFLE)


@pytest.mark.points(1)
@pytest.mark.public
def test_train_history(student, public_data, conventions):
    """updates the weights and returns a history with one loss per epoch"""
    charged_once(partial(check_history, student, public_data, conventions))


def check_history(student, d: dict, conventions, isolated: bool) -> None:
    what = f"train with epochs=3, tol=0, batch_size={BATCH}"
    model, history = run_train(student, conventions, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=3,
                               tol=0.0, isolated=isolated)
    check_epochs(history, 3, what, "no loss is below 0, so all 3 epochs run")
    check_sgd(model, len(d["y_train"]), 3, what)
    first, last = history["train_loss"][0], history["train_loss"][-1]
    if not last < FALL * first:
        raise expect.Mismatch(f"{what}: the training loss should fall on data the grader's hyperparameters fit; it "
                              f"went from {first:.4g} after epoch 1 to {last:.4g} after epoch 3",
                              expected=f"below {FALL * first:.4g}", actual=f"{last:.4g}", hint=hints.NO_SGD)


@pytest.mark.points(2)
@pytest.mark.public
def test_train_stops_early(student, public_data, conventions):
    """stops early once the validation loss falls below tol"""
    charged_once(partial(check_stops_early, student, public_data, conventions))


def check_stops_early(student, d: dict, conventions, isolated: bool) -> None:
    _, history = run_train(student, conventions, d["X_train"], d["y_train"], d["X_val"], d["y_val"], epochs=4,
                           tol=HUGE_TOL, isolated=isolated)
    check_epochs(history, 1, f"train with epochs=4, tol={HUGE_TOL:g}", "every loss is below tol, so train stops "
                 "after epoch 1")
    X_val, y_val = opposite_data(SEED + 1, 100)
    _, history = run_train(student, conventions, d["X_train"], d["y_train"], X_val, y_val, epochs=8, tol=STOP_TOL,
                           isolated=isolated)
    check_stopping(history["val_loss"], 8, STOP_TOL, f"train with epochs=8, tol={STOP_TOL:g}")
    (X, y), (X_val, y_val) = opposite_data(SEED + 4, 600), opposite_data(SEED + 5, 200)
    what = f"train with epochs={FIT_EPOCHS}, tol={FIT_TOL:g} on data it can fit"
    model, history = run_train(student, conventions, X, y, X_val, y_val, epochs=FIT_EPOCHS, tol=FIT_TOL,
                               isolated=isolated)
    check_stopping(history["val_loss"], FIT_EPOCHS, FIT_TOL, what)
    if len(history["val_loss"]) == FIT_EPOCHS and history["val_loss"][-1] >= FIT_TOL:
        learned = checks.get_params(model, "the model after train", HIDDEN)
        raise expect.Mismatch(f"{what}: the validation loss never fell below tol (it ended at "
                              f"{history['val_loss'][-1]:.4g}), though the grader's hyperparameters fit this data",
                              expected=f"a validation loss below {FIT_TOL:g}", actual=f"{history['val_loss'][-1]:.4g}",
                              hint=not_learned_hint(learned, X_val, y_val, d))


def not_learned_hint(learned: oracle.Params, X_val, y_val, d: dict) -> str:
    """Reading the notebook's globals when the model fits the notebook's data, or fits the validation data given
    while its recorded loss did not fall (it was recorded on other data); otherwise it did not run mini-batch SGD.
    Only accuracies, which the student kit can compute, decide it."""
    if (oracle.accuracy(learned, d["X_train"], d["y_train"]) >= LEARNED
            or oracle.accuracy(learned, X_val, y_val) >= FITTED):
        return hints.READS_GLOBALS
    return hints.NO_SGD


def check_stopping(val_loss: list[float], epochs: int, tol: float, what: str) -> None:
    """Stop after the first epoch whose recorded validation loss is below tol, and not before."""
    if not 1 <= len(val_loss) <= epochs:
        raise expect.Mismatch(f"{what}: expected from 1 to {epochs} entries in history['val_loss'], got "
                              f"{len(val_loss)}", expected=f"1 to {epochs} entries", actual=f"{len(val_loss)} entries")
    for epoch, loss in enumerate(val_loss[:-1], start=1):
        if loss < tol:
            raise expect.Mismatch(f"{what}: the validation loss after epoch {epoch} was {loss:.4g} < tol, so train "
                                  f"should stop there; it went on to {len(val_loss)} epochs",
                                  expected=f"{epoch} epochs", actual=f"{len(val_loss)} epochs")
    if len(val_loss) < epochs and val_loss[-1] >= tol:
        raise expect.Mismatch(f"{what}: train stopped after epoch {len(val_loss)}, but the validation loss was "
                              f"{val_loss[-1]:.4g}, not below tol (stop on the validation loss, not the train loss)",
                              expected=f"{epochs} epochs", actual=f"{len(val_loss)} epochs")


@pytest.mark.points(2)
def test_train_uses_arguments(student, public_data, conventions):
    """uses its arguments, not the notebook's globals"""
    charged_once(partial(check_uses_arguments, student, public_data, conventions))


def check_uses_arguments(student, d: dict, conventions, isolated: bool) -> None:
    (X, y), (X_val, y_val) = opposite_data(SEED + 2, 600), opposite_data(SEED + 3, 200)
    model, history = run_train(student, conventions, X, y, X_val, y_val, epochs=EPOCHS, tol=0.0, isolated=isolated,
                               finite=False)
    what = "train(X, y, X_val, y_val) on fresh data labelled the opposite way to the notebook's"
    learned = checks.get_params(model, "the model trained on the opposite data", HIDDEN)
    fits_given, fits_notebook = oracle.accuracy(learned, X, y), oracle.accuracy(learned, d["X_train"], d["y_train"])
    if fits_given < LEARNED:
        reads_globals = fits_notebook >= LEARNED
        raise expect.Mismatch(f"{what}: the model did not learn the data given (accuracy {fits_given:.2f} on it, "
                              f"{fits_notebook:.2f} on the notebook's X_train, y_train)",
                              expected="a model that fits the data given",
                              actual="a model that fits X_train, y_train" if reads_globals else "an untrained model",
                              hint=not_learned_hint(learned, X_val, y_val, d))
    recorded = history["val_loss"][-1] if history["val_loss"] else float("nan")
    given = oracle.mean_bce(learned, X_val, y_val)
    if not same_loss(recorded, given):
        notebook = oracle.mean_bce(learned, d["X_val"], d["y_val"])
        raise expect.Mismatch(f"{what}: the last validation loss in the history, {recorded:.6g}, is not the loss on "
                              f"the X_val, y_val given to train ({given:.6g} after training)", expected=f"{given:.6g}",
                              actual=f"{recorded:.6g}",
                              hint=hints.READS_GLOBALS if same_loss(recorded, notebook) else "")


def same_loss(recorded: float, recomputed: float) -> bool:
    """Equal within REPORTED_LOSS_TOL; a nan or inf recorded where the loss itself is nan or inf counts as equal."""
    if not (np.isfinite(recorded) and np.isfinite(recomputed)):
        return bool(np.isnan(recorded) and np.isnan(recomputed)) or recorded == recomputed
    return expect.rel_error(recorded, recomputed) <= REPORTED_LOSS_TOL

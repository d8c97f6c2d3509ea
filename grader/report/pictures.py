"""Pictures for the feedback page: the decision boundary and the loss curves of the grader-trained model.

Every figure is drawn on the grader's side, from plain arrays (the weights that crossed the sandbox boundary), with
matplotlib's Agg canvas, and returned as PNG bytes. No pyplot, so no global figure state and no display needed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

GRID_STEPS = 200  # grid points per axis of the decision-boundary background
MARGIN = 0.5  # room around the outermost point, in feature units
DPI = 100
LOG_SCALE_RATIO = 20.0  # loss curves use a log axis when the losses span more than this factor
MAX_HIDDEN = 4096  # the widest hidden layer drawn; the grader's own memory stays bounded whatever came back
CHUNK_POINTS = 4096  # points per forward pass, so a wide layer needs CHUNK_POINTS x hidden floats at a time
MAX_PLOTTED = 1e100  # losses beyond this (1e308, say) overflow the plotting library's axis arithmetic
MAX_EPOCHS = 100_000


class PictureError(ValueError):
    """The model's weights or history cannot be drawn (wrong shapes, not finite, empty)."""


def _array(params: Mapping[str, Any], name: str) -> np.ndarray:
    if name not in params:
        raise PictureError(f"the trained model has no {name}")
    try:
        value = np.asarray(params[name], dtype=float)
    except (TypeError, ValueError):
        raise PictureError(f"{name} is not an array of numbers") from None
    if not np.all(np.isfinite(value)):
        raise PictureError(f"{name} holds NaN or infinite values")
    return value


def probabilities(params: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    """The grader's own forward pass, ReLU -> sigmoid: P(y=1) of shape (n,) for X of shape (n, 2).

    Accepts the equivalent shapes the assignment allows: biases (H,) or (1, H), W2 (H, 1) or (H,).
    """
    W1, b1, W2, b2 = (_array(params, name) for name in ("W1", "b1", "W2", "b2"))
    if W1.ndim != 2 or W1.shape[0] != X.shape[1]:
        raise PictureError(f"W1 has shape {W1.shape}; expected ({X.shape[1]}, hidden_dim)")
    hidden = W1.shape[1]
    if hidden > MAX_HIDDEN:
        raise PictureError(f"the hidden layer has {hidden} units, more than the {MAX_HIDDEN} the grader draws")
    if b1.size != hidden or W2.size != hidden or b2.size != 1:
        raise PictureError(f"shapes do not fit together: W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")
    logits = np.concatenate([np.maximum(0.0, X[i:i + CHUNK_POINTS] @ W1 + b1.reshape(-1)) @ W2.reshape(-1)
                             for i in range(0, len(X), CHUNK_POINTS)] or [np.zeros(0)]) + b2.reshape(-1)[0]
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # the logistic function, without overflow for large |logits|


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def decision_boundary_png(params: Mapping[str, Any], X: np.ndarray, y: np.ndarray, *, title: str = "") -> bytes:
    """The model's P(y=1) over the plane, its 0.5 boundary, and the points (X (n, 2), y (n,)) coloured by label.

    Points the model gets wrong are drawn as crosses, so a student sees where the boundary goes astray.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y).reshape(-1)
    reach = float(np.max(np.abs(X))) + MARGIN
    xx0, xx1 = np.meshgrid(np.linspace(-reach, reach, GRID_STEPS), np.linspace(-reach, reach, GRID_STEPS))
    grid = probabilities(params, np.c_[xx0.ravel(), xx1.ravel()]).reshape(xx0.shape)
    wrong = (probabilities(params, X) > 0.5).astype(int) != y
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    # what sklearn's DecisionBoundaryDisplay.plot draws for two classes, without importing sklearn and pyplot
    ax.contourf(xx0, xx1, grid, cmap="RdBu_r", alpha=0.45, levels=np.linspace(0.0, 1.0, 11))
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.contour(xx0, xx1, grid, levels=[0.5], colors="k", linewidths=1.2)
    for label, colour in ((0, "#2166ac"), (1, "#b2182b")):
        right, missed = (y == label) & ~wrong, (y == label) & wrong
        ax.scatter(X[right, 0], X[right, 1], s=7, c=colour, label=f"label {label}")
        if missed.any():
            ax.scatter(X[missed, 0], X[missed, 1], s=28, c=colour, marker="x", label=f"label {label}, misclassified")
    ax.set_title(title or f"Decision boundary: {len(y)} points, {100 * (1 - wrong.mean()):.1f}% correct")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    return _png(fig)


def _finite_series(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray:
    try:
        values = np.asarray(history.get(key, []), dtype=float).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise PictureError(f"history[{key!r}] is not a list of numbers") from None
    if values.size > MAX_EPOCHS:
        raise PictureError(f"history[{key!r}] has {values.size} entries, more than {MAX_EPOCHS}")
    if np.any(np.abs(values[np.isfinite(values)]) > MAX_PLOTTED):
        raise PictureError(f"history[{key!r}] holds losses too large to plot (beyond ±{MAX_PLOTTED:g})")
    return values


def loss_curves_png(history: Mapping[str, Sequence[float]]) -> bytes:
    """The train and validation loss per epoch, from the history dict that `train` returned."""
    curves = {"train": _finite_series(history, "train_loss"), "validation": _finite_series(history, "val_loss")}
    finite = np.concatenate([c[np.isfinite(c)] for c in curves.values()])
    if finite.size == 0:
        raise PictureError("the training history holds no finite loss values")
    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot()
    for label, values in curves.items():
        if values.size:
            ax.plot(np.arange(1, values.size + 1), values, marker="." if values.size < 30 else "", label=label)
    if finite.min() > 0 and finite.max() / finite.min() > LOG_SCALE_RATIO:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="mean binary cross-entropy", title="Loss while the grader trained your model")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


# --- the same pictures in words, for the pages' text alternatives --------------------------------------------------

def boundary_text(params: Mapping[str, Any], X: np.ndarray, y: np.ndarray) -> str:
    """What the decision-boundary picture shows, in words: how many points of each label fall on the right side."""
    X, y = np.asarray(X, dtype=float), np.asarray(y).reshape(-1)
    right = (probabilities(params, X) > 0.5).astype(int) == y
    per_label = "; ".join(f"label {label}: {int(right[y == label].sum())} of {int((y == label).sum())} on the right "
                          "side" for label in (0, 1))
    quadrants = "; ".join(f"{name}: {int(right[mask].sum())} of {int(mask.sum())}" for name, mask in (
        ("x1 > 0, x2 > 0", (X[:, 0] > 0) & (X[:, 1] > 0)), ("x1 < 0, x2 > 0", (X[:, 0] < 0) & (X[:, 1] > 0)),
        ("x1 < 0, x2 < 0", (X[:, 0] < 0) & (X[:, 1] < 0)), ("x1 > 0, x2 < 0", (X[:, 0] > 0) & (X[:, 1] < 0))))
    return (f"{len(y)} points, {int(right.sum())} classified correctly ({100 * right.mean():.1f}%); {per_label}. "
            f"Correct per quadrant: {quadrants}.")


def loss_text(history: Mapping[str, Sequence[float]]) -> str:
    """What the loss-curve picture shows, in words: where each curve starts, ends and is lowest."""
    parts, epochs = [], 0
    for label, key in (("train", "train_loss"), ("validation", "val_loss")):
        values = _finite_series(history, key)
        epochs = max(epochs, values.size)
        finite = np.flatnonzero(np.isfinite(values))
        if finite.size == 0:
            parts.append(f"{label} loss: no finite values")
            continue
        low = int(finite[np.argmin(values[finite])])
        parts.append(f"{label} loss {values[finite[0]]:.4g} at epoch {finite[0] + 1}, {values[finite[-1]]:.4g} at "
                     f"epoch {finite[-1] + 1} (lowest {values[low]:.4g}, epoch {low + 1})")
    return f"Over {epochs} epochs: " + "; ".join(parts) + "."

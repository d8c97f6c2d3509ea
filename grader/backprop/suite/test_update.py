"""update: one SGD step W <- W - learning_rate * dW, exactly, from weights and gradients the grader sets.

The gradients come in the parameters' own layout first. If the step is wrong that way, it is tried again with them
in the layout the student's own backward_prop gives them (a transposed dW1, say): an update_weights consistent
with its own backward_prop takes a right step, and the layout is charged in `backward` alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.errors import StudentError
from grader.grading import expect

pytestmark = pytest.mark.area("update")

HIDDEN = 5
LEARNING_RATE = 0.1
SEED = 901


GRADIENTS = ("dW1", "db1", "dW2", "db2")
PROBE_N = 6  # rows of the batch whose gradients show the layout the student's backward_prop gives them


def check_step(student, names: tuple[str, ...], layout: Callable[[oracle.Params], oracle.Params] | None = None) -> None:
    """One step from weights and gradients the grader sets, the gradients in the parameters' own layout, or as
    `layout` turns them (the layout of the student's own backward_prop)."""
    rng = checks.input_rng(SEED)
    params, grads = oracle.random_params(rng, 2, HIDDEN), oracle.random_params(rng, 2, HIDDEN)
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params, learning_rate=LEARNING_RATE)
    sent = checks.install_params(model, params)  # the values as set, in the student's own shapes and dtype
    grads = checks.in_layout(grads, {k: (v.shape, v.dtype) for k, v in sent.items()})
    given = layout(grads) if layout else grads
    model.set("learning_rate", LEARNING_RATE)
    model.call("update_weights", *(given[p] for p in oracle.PARAMS))
    for name in names:
        raw = model.get(name)
        shape, also = checks.param_shapes(2, HIDDEN)[name]
        what = f"self.{name} after update_weights with learning_rate={LEARNING_RATE}"
        if given[name].shape != grads[name].shape:
            what += f" and d{name} of shape {given[name].shape}, as your backward_prop returns it"
        before, step = sent[name].astype(float).reshape(shape), grads[name].astype(float).reshape(shape)
        hint = partial(hints.update_hint, raw, before, step, LEARNING_RATE)
        got = expect.as_array(raw, what, shape, also=also, hint=hint)
        expect.close(got, before - LEARNING_RATE * step, what, oracle.EXACT_TOL, hint=hint)


def backward_layout(student, conventions) -> Callable[[oracle.Params], oracle.Params]:
    """How the student's own backward_prop lays out each gradient, where it differs from the parameter's but holds
    the same entries (dW1 transposed, a bias gradient as a column): update_weights is then also tried with
    gradients in that layout, since a step consistent with the student's own backward_prop is a right step.
    Raises expect.Skip when backward_prop gives the parameters' own layout or no usable answer."""
    rng = checks.input_rng(SEED)  # the weights of the step itself (the same draw: the student kit replays it)
    params, X = oracle.random_params(rng, 2, HIDDEN), checks.input_rng(SEED + 1).normal(size=(PROBE_N, 2))
    y = np.arange(PROBE_N) % 2
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
    sent = checks.install_params(model, params)
    hidden, out = np.full((PROBE_N, HIDDEN), 0.5), np.full((PROBE_N, 1), 0.5)  # only the answer's shapes count
    try:
        answer = model.call("backward_prop", X, conventions.y(y), hidden, hidden, out, out)
    except StudentError:  # a timeout too: then update's own failure is the one to report
        raise expect.Skip("backward_prop raised") from None
    if not isinstance(answer, (tuple, list)) or len(answer) != len(GRADIENTS):
        raise expect.Skip("backward_prop gave no four gradients")
    shapes = {p: np.shape(g) for p, g in zip(oracle.PARAMS, answer) if isinstance(g, np.ndarray)}
    turned = {p: s for p, s in shapes.items() if s != sent[p].shape and math.prod(s) == sent[p].size}
    if not turned:
        raise expect.Skip("backward_prop lays its gradients out as the parameters")

    def layout(grads: oracle.Params) -> oracle.Params:
        out = dict(grads)
        for name, shape in turned.items():
            value = grads[name]
            out[name] = value.T if value.ndim == 2 and shape == value.shape[::-1] else value.reshape(shape)
        return out
    return layout


def charged_once(student, conventions, names: tuple[str, ...]) -> None:
    expect.charged_once(partial(check_step, student, names),
                        lambda: check_step(student, names, backward_layout(student, conventions)))


@pytest.mark.points(3)
@pytest.mark.public
def test_update_weights(student, conventions):
    """W1 and W2 take one exact SGD step"""
    charged_once(student, conventions, ("W1", "W2"))


@pytest.mark.points(2)
@pytest.mark.public
def test_update_biases(student, conventions):
    """b1 and b2 take one exact SGD step"""
    charged_once(student, conventions, ("b1", "b2"))

"""update: one SGD step W <- W - learning_rate * dW, exactly, from weights and gradients the grader sets."""

from __future__ import annotations

from functools import partial

import pytest

from grader.backprop import checks, hints, oracle

pytestmark = pytest.mark.area("update")

HIDDEN = 5
LEARNING_RATE = 0.1
SEED = 901


def check_step(student, names: tuple[str, ...]) -> None:
    rng = checks.input_rng(SEED)
    params, grads = oracle.random_params(rng, 2, HIDDEN), oracle.random_params(rng, 2, HIDDEN)
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params, learning_rate=LEARNING_RATE)
    sent = checks.install_params(model, params)  # the values as set, in the student's own shapes and dtype
    grads = checks.in_layout(grads, {k: (v.shape, v.dtype) for k, v in sent.items()})
    model.set("learning_rate", LEARNING_RATE)
    model.call("update_weights", *(grads[p] for p in oracle.PARAMS))
    for name in names:
        raw = model.get(name)
        shape, also = checks.param_shapes(2, HIDDEN)[name]
        what = f"self.{name} after update_weights with learning_rate={LEARNING_RATE}"
        before, step = sent[name].astype(float).reshape(shape), grads[name].astype(float).reshape(shape)
        hint = partial(hints.update_hint, raw, before, step, LEARNING_RATE)
        got = checks.as_array(raw, what, shape, also=also, hint=hint)
        checks.close(got, before - LEARNING_RATE * step, what, oracle.EXACT_TOL, hint=hint)


@pytest.mark.points(3)
@pytest.mark.public
def test_update_weights(student):
    """W1 and W2 take one exact SGD step"""
    check_step(student, ("W1", "W2"))


@pytest.mark.points(2)
@pytest.mark.public
def test_update_biases(student):
    """b1 and b2 take one exact SGD step"""
    check_step(student, ("b1", "b2"))

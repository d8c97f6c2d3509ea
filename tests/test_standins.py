"""The stand-ins: what the grader answers when a test runs a submission's code with the grader's own activations,
passes or update in place of the student's, and that the student's code cannot have it answer anything else."""

from __future__ import annotations

import ast
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.special
from hypothesis import given, strategies as st

from grader import paths
from grader.backprop import WORKER_STANDINS, oracle, standins
from grader.grading.grade import grade_submission
from grader.sandbox.inside import protocol, standins as generic
from grader.sandbox.layout import INSIDE_DIR
from grader.sandbox.replies import allowed_standins, answer_callback
from grader.grading import expect
from tests.variants import apply, v

RNG_SEED = 2024


def model_weights(rng: np.random.Generator, hidden: int, dtype=np.float64, bias_rows: bool = False) -> dict:
    params = oracle.random_params(rng, 2, hidden)
    if bias_rows:
        params = {**params, "b1": params["b1"].reshape(1, -1), "b2": params["b2"].reshape(1, 1)}
    return {k: p.astype(dtype) for k, p in params.items()}


def grader_shapes(held: dict) -> oracle.Params:
    hidden = held["W1"].shape[1]
    return {"W1": held["W1"].astype(float), "b1": held["b1"].astype(float).reshape(hidden),
            "W2": held["W2"].astype(float).reshape(hidden, 1), "b2": held["b2"].astype(float).reshape(1)}


@pytest.mark.parametrize("hidden, bias_rows", [(3, False), (7, True)])
def test_backward_is_the_finite_difference_gradient_of_the_mean_cross_entropy_in_the_models_own_shapes(hidden,
                                                                                                      bias_rows):
    rng = np.random.default_rng(RNG_SEED)
    held = model_weights(rng, hidden, bias_rows=bias_rows)
    X, y = rng.normal(size=(9, 2)), rng.integers(0, 2, size=9)
    grads, updates = standins.answer("backward", [X, y], {}, held, {})
    assert updates == {}
    for name, grad in zip(oracle.PARAMS, grads):
        assert grad.shape == held[name].shape
        expected = oracle.bce_grad(grader_shapes(held), X, y, name).reshape(grad.shape)
        assert expect.rel_error(grad, expected) < 1e-6, name


def test_the_workers_own_forward_update_and_loss_keep_the_models_dtype_and_shapes():
    local = generic.computed(str(WORKER_STANDINS))  # as the worker loads them
    assert set(local) == {"forward", "update", "mean_bce"}
    rng = np.random.default_rng(RNG_SEED + 1)
    model = SimpleNamespace(**model_weights(rng, 4, np.float32, bias_rows=True))
    held = dict(vars(model))
    X, y = rng.normal(size=(5, 2)), rng.integers(0, 2, size=(5, 1))
    Z1, A1, Z2, A2 = local["forward"](model, X)
    assert all(a.dtype == np.float32 for a in (Z1, A1, Z2, A2)) and Z2.shape == A2.shape == (5, 1)
    logits = np.maximum(X @ held["W1"].astype(float) + held["b1"], 0) @ held["W2"].astype(float) + held["b2"]
    assert np.allclose(Z2, logits, rtol=1e-5) and np.allclose(A2, scipy.special.expit(logits), rtol=1e-5)
    from sklearn.metrics import log_loss
    loss = local["mean_bce"](model, X, y)
    assert loss == pytest.approx(log_loss(y.ravel(), scipy.special.expit(logits.ravel()), labels=[0, 1]), rel=1e-5)
    local["update"](model, *[np.full(p.shape, 0.5) for p in held.values()], learning_rate=0.1)
    for name, old in held.items():
        new = getattr(model, name)
        assert new.dtype == np.float32 and new.shape == old.shape and np.allclose(new, old - np.float32(0.05))


def test_the_activations_match_independent_formulas_and_stay_stable():
    x = np.array([[-1000.0, -2.0, 0.5], [3.0, 1000.0, 0.0]])
    relu, drelu = standins.ACTIVATIONS["relu"](x), standins.ACTIVATIONS["relu_derivative"](x)
    assert np.array_equal(relu, np.where(x > 0, x, 0.0)) and np.array_equal(drelu, np.where(x > 0, 1.0, 0.0))
    assert np.allclose(standins.ACTIVATIONS["sigmoid"](x), scipy.special.expit(x), atol=0)
    s = scipy.special.expit(x)
    assert np.allclose(standins.ACTIVATIONS["sigmoid_derivative"](x), s * (1 - s))
    assert np.allclose(standins.ACTIVATIONS["softmax"](x), scipy.special.softmax(x, axis=1))
    assert standins.ACTIVATIONS["relu"](x.astype(np.float32)).dtype == np.float32


def _callback(name: str, payload) -> tuple[dict, list[bytes]]:
    blobs: list[bytes] = []
    return {"op": "callback", "name": name, "args": protocol.encode_value(payload, blobs, "args")}, blobs


def test_only_the_stand_ins_a_request_installed_or_isolated_are_answered():
    installed = {3: {"forward"}}
    assert allowed_standins({"op": "call", "handle": 3, "isolate": ["relu"]}, installed) == {"forward", "relu"}
    assert allowed_standins({"op": "call", "handle": 4}, installed) == frozenset()
    assert allowed_standins({"op": "get", "handle": 3}, installed) == frozenset()
    x = np.ones((2, 2))
    refused, _ = answer_callback(standins.answer, frozenset({"relu"}), *_callback("backward", [[x, x], {}, {}, {}]))
    assert refused["op"] == "answer" and "not available" in refused["error"]
    answered, blobs = answer_callback(standins.answer, frozenset({"relu"}), *_callback("relu", [[x], {}, {}, {}]))
    value, updates = protocol.decode_value(answered["value"], blobs)
    assert np.array_equal(value, x) and updates == {}


plain = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=4), max_leaves=12)


@pytest.mark.fuzz
@given(name=st.sampled_from([*standins.ACTIVATIONS, *standins.METHODS, "other"]), payload=plain)
def test_whatever_the_students_process_sends_a_callback_gets_an_answer_or_a_refusal(name, payload):
    message, blobs = _callback(name, payload)
    answer, _ = answer_callback(standins.answer, frozenset({name}), message, blobs)
    assert answer["op"] == "answer" and ("value" in answer) != ("error" in answer)


def test_the_sandbox_holds_no_backward_pass_or_activation():
    """The worker computes only what the assignment's text states (the forward pass, an SGD step, the stable loss),
    from the assignment's own file; the engine's files hold no formula; the graded work stays with the grader."""
    tree = ast.parse((INSIDE_DIR / "standins.py").read_text(encoding="utf-8"))
    assert {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} == {"function", "method", "computed"}
    tree = ast.parse(WORKER_STANDINS.read_text(encoding="utf-8"))
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert defined == {"_layers", "_dtype", "forward_pass", "update_weights", "mean_bce"}
    for path in [*INSIDE_DIR.glob("*.py"), WORKER_STANDINS]:
        source = path.read_text(encoding="utf-8")
        assert ".T @" not in source and "sum(axis=0)" not in source and "def relu" not in source, path.name
    assert "import numpy" not in (INSIDE_DIR / "standins.py").read_text(encoding="utf-8")


def test_the_assignments_worker_file_imports_only_the_standard_library_and_numpy():
    """It runs in the sandbox, where nothing of the grader can be imported."""
    imported = set()
    for node in ast.walk(ast.parse(WORKER_STANDINS.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "typing", "numpy"}, imported


def test_a_missing_or_malformed_stand_ins_file_is_refused(tmp_path):
    assert generic.computed(None) == {}
    bad = tmp_path / "bad.py"
    bad.write_text("LOCAL = {'forward': 3}\n")
    with pytest.raises(TypeError, match="LOCAL"):
        generic.computed(str(bad))


# a backward_prop that digs the worker out of memory and asks it for the grader's own gradients
ASKS_FOR_GRADIENTS = v(
    "backward_asks_the_grader", "        n = X.shape[0]\n        dZ2 = (A2 - y.reshape(-1, 1)) / n",
    "        import gc\n        worker = next(o for o in gc.get_objects() if type(o).__name__ == 'Worker')\n"
    "        weights = {k: getattr(self, k) for k in ('W1', 'b1', 'W2', 'b2')}\n"
    "        return worker.ask('backward', (X, y), {}, weights, {})[0]\n"
    "        n = X.shape[0]\n        dZ2 = (A2 - y.reshape(-1, 1)) / n", "backward accuracy")


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_students_code_cannot_have_the_grader_compute_its_own_answers(tmp_path):
    import nbformat

    path = tmp_path / "asks.ipynb"
    nbformat.write(apply(ASKS_FOR_GRADIENTS, nbformat.read(paths.SOLUTION, as_version=4)), path)
    report = grade_submission(path)
    lost = {t.area for t in report.tests if not t.passed}
    assert lost == set(ASKS_FOR_GRADIENTS.areas)  # train runs with the grader's own backward_prop, as it should
    backward = [t for t in report.tests if t.area == "backward"]
    assert all(t.score == 0 and "not available" in t.message for t in backward)


def test_a_backward_call_the_grader_cannot_afford_is_refused_before_any_computation():
    wide = {"W1": np.ones((1, 40000)), "b1": np.zeros(40000), "W2": np.ones((40000, 1)), "b2": np.zeros(1)}
    with pytest.raises(ValueError, match="W1 of shape"):
        standins.answer("backward", [np.ones((40000, 1)), np.ones(40000)], {}, wide, {})
    rng = np.random.default_rng(RNG_SEED + 2)
    held = model_weights(rng, 3000)
    with pytest.raises(ValueError, match="n \\* H"):
        standins.answer("backward", [np.ones((5000, 2)), np.ones(5000)], {}, held, {})
    with pytest.raises(ValueError, match="n labels"):
        standins.answer("backward", [np.ones((10, 2)), np.ones(9)], {}, model_weights(rng, 3), {})


def test_a_header_with_a_dtype_numpy_does_not_have_is_a_channel_error():
    blobs: list[bytes] = []
    protocol.encode_value(np.zeros(3, dtype="<i4"), blobs, "x")
    forged = blobs[0].replace(b"'<i4'", b"'<i3'")
    with pytest.raises(protocol.ChannelError):
        protocol.decode_array(forged)


def test_a_wrong_answer_is_reported_before_the_students_error_and_that_before_a_stand_ins_refusal():
    from grader.errors import StudentError

    def raises(exc):
        def attempt():
            raise exc
        return attempt
    refused = StudentError("not available", exc_type="StandinRefused")
    own = StudentError("ValueError: shapes", exc_type="ValueError")
    wrong = expect.Mismatch("expected 1, got 2")
    for order in ((refused, own), (own, refused)):
        with pytest.raises(StudentError) as caught:
            expect.charged_once(*map(raises, order))
        assert caught.value is own
    with pytest.raises(expect.Mismatch) as caught:
        expect.charged_once(raises(refused), raises(own), raises(wrong))
    assert caught.value is wrong
    expect.charged_once(raises(refused), lambda: None)  # one passing attempt is enough

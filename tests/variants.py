"""Single-bug variants of the reference solution, declared as data, and the areas each must lose.

Each variant is one edit (find -> replace) of the solution notebook's code, made at test time from
solution/backprop.ipynb so the variants follow the solution as it changes. `find` must occur exactly once.
`areas` is the exact set of rubric areas that lose points; `why` says why when it is more or less than one might
think: every area but accuracy runs the tested code with the grader's own versions of what it calls, and accuracy
is end-to-end.
The first of `areas` is where the bug is (`home`): `hint` is a substring that failing tests of that area must carry in
their hint ("" when none is expected).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import paths
from grader.backprop import hints


@dataclass(frozen=True)
class Variant:
    name: str
    find: str
    replace: str
    areas: frozenset[str]
    hint: str = ""
    why: str = ""
    message: str = ""
    home: str = ""


def v(name: str, find: str, replace: str, areas: str, hint: str = "", why: str = "", message: str = "") -> Variant:
    return Variant(name, find, replace, frozenset(areas.split()), hint, why, message, areas.split()[0])


OUTPUT_DELTA = "dZ2 = (A2 - y.reshape(-1, 1)) / n"
UPDATE = ("        self.W1 = self.W1 - self.learning_rate * dW1\n        self.b1 = self.b1 - self.learning_rate * db1\n"
          "        self.W2 = self.W2 - self.learning_rate * dW2\n        self.b2 = self.b2 - self.learning_rate * db2")
INIT = ("        W1 = self.rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, hidden_dim))\n"
        "        b1 = np.zeros(hidden_dim)\n"
        "        W2 = self.rng.normal(0.0, np.sqrt(1.0 / hidden_dim), size=(hidden_dim, 1))")
BIASES = ("db2 = dZ2.sum(axis=0)\n        dZ1 = (dZ2 @ self.W2.T) * relu_derivative(Z1)\n        dW1 = X.T @ dZ1\n"
          "        db1 = dZ1.sum(axis=0)")
# from backward_prop's dW1 to update_weights' step of W1: one edit changes both
TRANSPOSED_SPAN = ("dW1 = X.T @ dZ1\n        db1 = dZ1.sum(axis=0)\n        ### END SOLUTION\n        return dW1, db1, dW2, "
                   "db2\n\n    def update_weights(self, dW1, db1, dW2, db2):\n        \"\"\"One step of gradient descent "
                   "with self.learning_rate.\"\"\"\n        ### BEGIN SOLUTION\n        self.W1 = self.W1 - self.learning_rate * dW1")
SYMMETRIC = ("        W1 = np.full((input_dim, hidden_dim), 0.5)\n        b1 = np.zeros(hidden_dim)\n"
             "        W2 = np.full((hidden_dim, 1), 0.5)")

VARIANTS: tuple[Variant, ...] = (
    v("softmax_unstable", "    e = np.exp(shifted)\n", "    e = np.exp(a)\n", "softmax", hints.UNSTABLE_SOFTMAX),
    v("softmax_grad_sign", "grad = softmax(a) - t", "grad = t - softmax(a)", "softmax_grad", hints.FLIPPED_SIGN),
    v("softmax_ce_mean", "E = float(-np.sum(t * log_y))", "E = float(-np.sum(t * log_y) / a.shape[0])",
      "softmax_grad", hints.E_MEAN),
    v("sigmoid_unstable", "out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))",
      "out = np.exp(x) / (1.0 + np.exp(x))", "activations", hints.UNSTABLE_SIGMOID,
      "forward_pass gives nan only for logits past 709, which only the loss test's saturated weights reach, and "
      "the loss is computed from Z2"),
    v("sigmoid_overflows", "out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))", "out = 1.0 / (1.0 + np.exp(-x))",
      "activations", hints.UNSTABLE_SIGMOID, "its values are right; numpy's overflow warning gives it away"),
    v("sigmoid_derivative_of_activation", "    s = sigmoid(x)\n    out = s * (1.0 - s)", "    out = x * (1.0 - x)",
      "derivatives", hints.DERIVATIVE_OF_ACTIVATION, "backward_prop does not call sigmoid_derivative"),
    v("zero_init", INIT, INIT.replace("self.rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, hidden_dim))",
                                      "np.zeros((input_dim, hidden_dim))", 1),
      "init", hints.ZERO_INIT, "the accuracy area trains from the grader's own starting weights"),
    v("symmetric_init", INIT, SYMMETRIC, "init", hints.SYMMETRIC_INIT,
      "the accuracy area trains from the grader's own starting weights"),
    v("init_fixed_seed", "self.rng = np.random.default_rng(seed)",
      "self.rng = np.random.default_rng(0 if seed is None else seed)", "init", hints.NOT_RANDOM),
    v("forward_skips_relu", "Z2 = A1 @ self.W2 + self.b2", "Z2 = Z1 @ self.W2 + self.b2",
      "forward accuracy",
      why="loss, predict and train get the grader's own forward values; a network without its ReLU cannot fit XOR, "
          "and accuracy is end-to-end"),
    v("init_raises", "b1 = np.zeros(hidden_dim)", "b1 = np.zeros(hidden_dim, dtype='no such dtype')",
      "init train accuracy",
      why="the other unit tests run on an instance built without __init__; train needs the model's own rng"),
    v("backward_output_sigmoid_prime", OUTPUT_DELTA, "dZ2 = (A2 - y.reshape(-1, 1)) * sigmoid_derivative(Z2) / n",
      "backward", hints.EXTRA_SIGMOID_PRIME, "it still trains to the accuracy thresholds, only more slowly"),
    v("backward_sum_not_mean", OUTPUT_DELTA, "dZ2 = A2 - y.reshape(-1, 1)", "backward accuracy",
      hints.SUM_NOT_MEAN, "train is judged with the grader's own backward_prop; in accuracy, steps 32 times too "
      "large make the student's own training diverge"),
    v("backward_bias_sum", BIASES, BIASES.replace(".sum(axis=0)", ".sum(axis=0) * n"), "backward",
      hints.SUM_NOT_MEAN, why="train is judged with the grader's own backward_prop, and the bias steps alone still train"),
    v("backward_flipped_sign", OUTPUT_DELTA, "dZ2 = (y.reshape(-1, 1) - A2) / n", "backward accuracy",
      hints.FLIPPED_SIGN, "gradient ascent cannot train (accuracy is end-to-end)"),
    v("backward_transposed_dW1", "dW1 = X.T @ dZ1", "dW1 = dZ1.T @ X", "backward accuracy",
      "the transpose of", "the student's own update_weights cannot subtract a (16, 2) gradient from W1, so their "
      "own train raises in accuracy"),
    v("backward_and_update_transposed_dW1", TRANSPOSED_SPAN,
      TRANSPOSED_SPAN.replace("dW1 = X.T @ dZ1", "dW1 = dZ1.T @ X").replace("rate * dW1", "rate * dW1.T"),
      "backward", "the transpose of", "update_weights is right for the layout its own backward_prop gives"),
    v("update_adds_gradient", UPDATE, UPDATE.replace(" - self.learning_rate", " + self.learning_rate"),
      "update accuracy", hints.ADDS_GRADIENT, "train is judged with the grader's own update_weights; gradient "
      "ascent cannot train (accuracy is end-to-end)"),
    v("update_ignores_learning_rate", "self.W1 = self.W1 - self.learning_rate * dW1", "self.W1 = self.W1 - dW1",
      "update", hints.NO_LEARNING_RATE, "W1's steps twice as large still train"),
    v("relu_leaks", "out = np.maximum(0.0, x)", "out = np.maximum(0.1 * x, x)", "activations",
      why="forward_pass, backward_prop and train are judged with the grader's own relu; a leaky one still trains"),
    v("relu_derivative_shifted", "out = (x > 0).astype(float)", "out = (x > 1).astype(float)", "derivatives",
      why="backward_prop is judged with the grader's own relu_derivative"),
    v("softmax_normalises_everything", "y = e / np.sum(e, axis=1, keepdims=True)", "y = e / np.sum(e)", "softmax",
      why="softmax_cross_entropy_grad is judged with the grader's own softmax"),
    v("loss_unstable", "loss = float(np.mean(np.logaddexp(0.0, Z2) - y * Z2))",
      "A2 = sigmoid(Z2)\n        loss = float(-np.mean(y * np.log(A2) + (1 - y) * np.log(1 - A2)))", "loss",
      hints.UNSTABLE_LOSS),
    v("loss_sum", "loss = float(np.mean(np.logaddexp(0.0, Z2) - y * Z2))",
      "loss = float(np.sum(np.logaddexp(0.0, Z2) - y * Z2))", "loss", hints.LOSS_SUM,
      "train records and stops on the student's own loss, consistently"),
    v("predict_threshold", "ravel() > 0.5).astype(int)", "ravel() > 0.7).astype(int)", "predict"),
    v("predict_logit", "self.forward_pass(X)[3].ravel() > 0.5", "self.forward_pass(X)[2].ravel() > 0.5", "predict",
      hints.LOGIT_THRESHOLD),
    v("train_reads_globals", "        n = X.shape[0]\n        for _ in range(self.epochs):",
      "        X, y = X_train, y_train\n        n = X.shape[0]\n        for _ in range(self.epochs):",
      "train accuracy", hints.READS_GLOBALS, "the accuracy area trains on rotated data, which a train that reads the notebook's own "
      "data never sees"),
    v("train_reads_validation_globals", "def train(self, X, y, X_val, y_val):", "def train(self, X, y, X_v, y_v):",
      "train", hints.READS_GLOBALS),
    v("train_stops_on_train_loss", 'if history["val_loss"][-1] < self.tol:', 'if history["train_loss"][-1] < self.tol:',
      "train"),
    v("train_never_stops", "                break\n", "                pass\n", "train"),
    v("train_never_updates", "self.update_weights(*self.backward_prop(X[batch], y[batch], Z1, A1, Z2, A2))",
      "self.backward_prop(X[batch], y[batch], Z1, A1, Z2, A2)", "train accuracy", hints.NO_SGD,
      why="a train that only records losses must not earn the train points"),
    v("bad_hyperparameters", "HYPERPARAMETERS = dict(hidden_dim=16, learning_rate=0.5,",
      "HYPERPARAMETERS = dict(hidden_dim=16, learning_rate=0.0005,", "accuracy",
      "tune HYPERPARAMETERS"),
    v("hyperparameters_smuggle_a_grader_option", "epochs=100, tol=0.02)", "epochs=100, tol=0.02, _timeout=1000)",
      "accuracy", why="only the documented keys reach the grader's call: this one would set its time limit",
      message="keys the grader does not use: _timeout"),
)

# Hostile single-bug variants: a function that returns the wrong type, nan, an object, raises, hangs or kills its
# process. Only that test fails, and its message says what came back (`message` is a substring of it).
HOSTILE: tuple[Variant, ...] = (
    v("returns_tuple", "E = float(-np.sum(t * log_y))", "E = (float(-np.sum(t * log_y)), 0.0)", "softmax_grad",
      message="expected a float, got a tuple of length 2"),
    v("returns_nan", "grad = softmax(a) - t", "grad = np.full(a.shape, np.nan)", "softmax_grad",
      message="expected finite values, got nan"),
    v("returns_object", "grad = softmax(a) - t", "grad = iter(softmax(a) - t)", "softmax_grad",
      message="not plain data"),
    v("raises", "acc = float(np.mean(self.predict(X) == np.asarray(y).ravel()))",
      'raise RuntimeError("accuracy is not ready")', "predict", message="accuracy is not ready"),
    v("hangs", "    s = sigmoid(x)\n    out = s * (1.0 - s)", "    while True:\n        pass", "derivatives",
      message="did not finish within"),
    v("kills_its_process", "    s = sigmoid(x)\n    out = s * (1.0 - s)", "    import os\n    os._exit(3)",
      "derivatives", message="process"),
    v("returns_a_huge_integer", "E = float(-np.sum(t * log_y))", "E = 10 ** 400", "softmax_grad",
      message="an integer with 401 digits"),
)


def apply(variant: Variant, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the notebook with the variant's edit made; the find string must occur exactly once."""
    count = sum(cell.source.count(variant.find) for cell in notebook.cells if cell.cell_type == "code")
    if count != 1:
        raise ValueError(f"variant {variant.name}: {variant.find!r} occurs {count} times in the solution's code")
    out = nbformat.from_dict(notebook)
    for cell in out.cells:
        if cell.cell_type == "code" and variant.find in cell.source:
            cell.source = cell.source.replace(variant.find, variant.replace)
    return out


def write_variant(variant: Variant, folder: Path) -> Path:
    """The variant as a notebook file named after it, in `folder`."""
    path = folder / f"{variant.name}.ipynb"
    nbformat.write(apply(variant, nbformat.read(paths.SOLUTION, as_version=4)), path)
    return path

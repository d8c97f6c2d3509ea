"""Whole-notebook rewrites of the reference solution for the fairness cases: correct equivalents that must score
100, partial ones that lose points only in their own area, and cheats that must earn nothing in train or accuracy.

Each case is a list of edits (find -> replace, `find` occurring exactly once in the solution's code), optional code
cells appended at the end, and an optional cell moved up to follow the imports. `lost` is the exact set of areas
that lose points; `zero` the areas that must score 0; `hint` a text the failing tests or the notes must carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import paths


@dataclass(frozen=True)
class Case:
    name: str
    edits: tuple[tuple[str, str], ...] = ()
    lost: frozenset[str] = frozenset()
    zero: frozenset[str] = frozenset()
    hint: str = ""
    appended: tuple[str, ...] = ()
    moved_up: str = ""
    why: str = ""


def case(name: str, *edits: tuple[str, str], lost: str = "", zero: str = "", hint: str = "",
         appended: tuple[str, ...] = (), moved_up: str = "", why: str = "") -> Case:
    return Case(name, edits, frozenset(lost.split()), frozenset(zero.split()), hint, appended, moved_up, why)


B1, B2 = "        b1 = np.zeros(hidden_dim)\n", "        b2 = np.zeros(1)\n"
UPDATE = ("        self.W1 = self.W1 - self.learning_rate * dW1\n        self.b1 = self.b1 - self.learning_rate * db1\n"
          "        self.W2 = self.W2 - self.learning_rate * dW2\n        self.b2 = self.b2 - self.learning_rate * db2")
IN_PLACE = UPDATE.replace("= self.W1 -", "-=").replace("= self.b1 -", "-=").replace("= self.W2 -", "-=").replace(
    "= self.b2 -", "-=")
OUTPUT_DELTA = "dZ2 = (A2 - y.reshape(-1, 1)) / n"
LOSS = "loss = float(np.mean(np.logaddexp(0.0, Z2) - y * Z2))"
PREDICT = "labels = (self.forward_pass(X)[3].ravel() > 0.5).astype(int)"
ACCURACY = "acc = float(np.mean(self.predict(X) == np.asarray(y).ravel()))"
SPLIT = 'print("train", X_train.shape, "validation", X_val.shape, "test", X_test.shape)'
TRAIN_BODY = ("        n = X.shape[0]\n        for _ in range(self.epochs):\n            order = self.rng.permutation(n)\n"
              "            for start in range(0, n, self.batch_size):\n"
              "                batch = order[start:start + self.batch_size]\n"
              "                Z1, A1, Z2, A2 = self.forward_pass(X[batch])\n"
              "                self.update_weights(*self.backward_prop(X[batch], y[batch], Z1, A1, Z2, A2))\n")
RECORD = ("            history[\"train_loss\"].append(self.cross_entropy_loss(X, y))\n"
          "            history[\"val_loss\"].append(self.cross_entropy_loss(X_val, y_val))\n")
HAND_WEIGHTS = ("        W1 = np.zeros(self.W1.shape)\n        W2 = np.zeros(self.W2.shape)\n"
                "        W1[:, :4] = [[1, -1, 1, -1], [-1, 1, 1, -1]]  # |x1 - x2| > |x1 + x2| exactly when signs differ\n"
                "        W2[:4, 0] = [10, 10, -10, -10]\n"
                "        self.W1, self.b1, self.W2, self.b2 = W1, np.zeros(self.b1.shape), W2, np.zeros(self.b2.shape)\n"
                "        for _ in range(self.epochs):\n")
NUDGE = "        for _ in range(self.epochs):\n            self.W1 = self.W1 + 1e-9\n"

EQUIVALENT: tuple[Case, ...] = (
    case("biases_2d", (B1, "        b1 = np.zeros((1, hidden_dim))\n"), (B2, "        b2 = np.zeros((1, 1))\n"),
         ("db2 = dZ2.sum(axis=0)", "db2 = dZ2.sum(axis=0, keepdims=True)"),
         ("db1 = dZ1.sum(axis=0)", "db1 = dZ1.sum(axis=0, keepdims=True)"), (UPDATE, IN_PLACE)),
    case("float32",
         ("size=(input_dim, hidden_dim))", "size=(input_dim, hidden_dim)).astype(np.float32)"),
         ("size=(hidden_dim, 1))", "size=(hidden_dim, 1)).astype(np.float32)"),
         (B1, "        b1 = np.zeros(hidden_dim, dtype=np.float32)\n"),
         (B2, "        b2 = np.zeros(1, dtype=np.float32)\n"),
         ("        Z1 = X @ self.W1 + self.b1", "        X = np.asarray(X, dtype=np.float32)\n"
          "        Z1 = X @ self.W1 + self.b1"),
         ("x = np.asarray(x, dtype=float)", "x = np.asarray(x, dtype=np.float32)"),
         (OUTPUT_DELTA, "dZ2 = (A2 - y.reshape(-1, 1).astype(np.float32)) / n"),
         ("    shifted = a - np.max(a, axis=1, keepdims=True)\n    e = np.exp(shifted)",
          "    a = np.asarray(a, dtype=np.float32)\n    shifted = a - np.max(a, axis=1, keepdims=True)\n"
          "    e = np.exp(shifted)"),
         ("    shifted = a - np.max(a, axis=1, keepdims=True)\n    log_y",
          "    a = np.asarray(a, dtype=np.float32)\n    shifted = a - np.max(a, axis=1, keepdims=True)\n    log_y")),
    case("labels_column", (SPLIT, "y_train, y_val, y_test = y_train.reshape(-1, 1), y_val.reshape(-1, 1), "
                                  "y_test.reshape(-1, 1)\n" + SPLIT),
         (OUTPUT_DELTA, "dZ2 = (A2 - y) / n"),
         ("Z2 = self.forward_pass(X)[2].ravel()\n        y = np.asarray(y).ravel()\n", "Z2 = self.forward_pass(X)[2]\n"),
         (PREDICT, "labels = (self.forward_pass(X)[3] > 0.5).astype(int)"),
         (ACCURACY, "acc = float(np.mean(self.predict(X) == y))")),
    case("bool_predict", (PREDICT, "labels = self.forward_pass(X)[3].ravel() > 0.5"),
         (ACCURACY, "acc = float(np.mean(self.predict(X) == y))")),
    case("loops", ("db1 = dZ1.sum(axis=0)", "db1 = np.zeros(dZ1.shape[1])\n        for row in dZ1:\n"
                                            "            db1 = db1 + row"),
         ("out = np.maximum(0.0, x)", "out = np.array([max(0.0, v) for v in np.ravel(x)]).reshape(np.shape(x))")),
    case("failing_last_cell", appended=('raise RuntimeError("scratch work, not finished")',)),
    case("cell_order", moved_up="def relu(x):"),
    case("extra_helpers",
         ("seed=None):", "seed=None, momentum=0.0, verbose=False):\n        self.momentum = momentum"),
         ("        Z1 = X @ self.W1 + self.b1", "        Z1 = self._affine(X, self.W1, self.b1)"),
         ("    def forward_pass(self, X):", "    def _affine(self, X, W, b):\n        return X @ W + b\n\n"
                                          "    def forward_pass(self, X):"),
         ("def relu(x):", "def clip_probability(p, eps=1e-12):\n    return np.clip(p, eps, 1 - eps)\n\n\n"
                          "def relu(x):")),
)

PARTIAL: tuple[Case, ...] = (
    case("loss_per_sample", (LOSS, "loss = np.logaddexp(0.0, Z2) - y * Z2"), lost="loss",
         why="train and accuracy train with the grader's own loss"),
    case("train_no_shuffle", ("order = self.rng.permutation(n)", "order = np.arange(n)"), lost="train"),
    case("train_full_batch", ("for start in range(0, n, self.batch_size):\n"
                              "                batch = order[start:start + self.batch_size]",
                              "for start in range(0, n, n):\n                batch = order[start:start + n]"),
         lost="train", why="it loses the mini-batch test only: it learns, slowly, and reaches the accuracy thresholds"),
    case("labels_mixed", (OUTPUT_DELTA, "dZ2 = (A2 - y) / n"), ("        y = np.asarray(y).ravel()\n", ""),
         lost="backward accuracy", hint="(n, n)",
         why="backward_prop assumes (n, 1) labels and the loss (n,): train is judged with the grader's own "
             "backward_prop, and in accuracy the submission's own steps go wrong"),
)

NOTED: tuple[Case, ...] = (
    case("import_outside", ("from sklearn.model_selection import train_test_split",
                            "from sklearn.model_selection import train_test_split\nimport torch"),
         hint="torch", why="the import comes last in its cell, so only the note tells"),
    case("near_miss_function", ("def relu(x):", "def reLu(x):"), ("A1 = relu(Z1)", "A1 = reLu(Z1)"),
         lost="activations", hint="did you mean `reLu`"),
    case("near_miss_method", ("def train(self, X, y, X_val, y_val):", "def train_model(self, X, y, X_val, y_val):"),
         ("history = model.train(", "history = model.train_model("), lost="train accuracy",
         hint="did you mean `train_model`"),
)

CHEATS: tuple[Case, ...] = (
    case("hand_crafted_weights", (TRAIN_BODY, HAND_WEIGHTS), lost="train accuracy", zero="train accuracy"),
    case("nudged_weights", (TRAIN_BODY, NUDGE), lost="train accuracy", zero="train accuracy"),
)


def rewrite(c: Case, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the notebook with the case's edits, appended cells and moved cell."""
    out = nbformat.from_dict(notebook)
    code = [cell for cell in out.cells if cell.cell_type == "code"]
    for find, replace in c.edits:
        hits = [cell for cell in code if find in cell.source]
        if len(hits) != 1 or hits[0].source.count(find) != 1:
            raise ValueError(f"case {c.name}: {find!r} does not occur exactly once in the solution's code")
        hits[0].source = hits[0].source.replace(find, replace)
    if c.moved_up:
        cell = next(cell for cell in out.cells if cell.cell_type == "code" and c.moved_up in cell.source)
        out.cells.remove(cell)
        out.cells.insert(out.cells.index(code[0]) + 1, cell)
    out.cells += [nbformat.v4.new_code_cell(source) for source in c.appended]
    return out


def write_case(c: Case, folder: Path, notebook: nbformat.NotebookNode | None = None) -> Path:
    path = folder / f"{c.name}.ipynb"
    nbformat.write(rewrite(c, notebook or nbformat.read(paths.SOLUTION, as_version=4)), path)
    return path

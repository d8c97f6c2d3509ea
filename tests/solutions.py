"""Two correct solutions written independently of the reference one, in other styles, for the similarity tests.

Each is the list of bodies of the solution's `### BEGIN SOLUTION` regions, in order; fill() puts them in place of
the reference's own bodies, so the rest of the notebook (the skeleton the students got) stays the same.
"""

from __future__ import annotations

import re

import nbformat

from grader import paths

REGION = re.compile(r"(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION", re.S)

STUDENT_A = [
    """m = a.max(axis=1)[:, None]
ex = np.exp(a - m)
y = ex / ex.sum(axis=1)[:, None]""",
    """y_hat = softmax(a)
E = float(-(t * np.log(np.clip(y_hat, 1e-300, None))).sum())""",
    """probabilities = softmax(a)
grad = probabilities - t""",
    """out = x * (x > 0)""",
    """out = np.where(x > 0, 1.0, 0.0)""",
    """out = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))""",
    """sx = sigmoid(x)
out = sx - sx ** 2""",
    """scale1 = 1.0 / np.sqrt(input_dim)
scale2 = 1.0 / np.sqrt(hidden_dim)
W1 = scale1 * self.rng.standard_normal((input_dim, hidden_dim))
W2 = scale2 * self.rng.standard_normal((hidden_dim, 1))
b1 = np.zeros(hidden_dim)
b2 = np.zeros(1)""",
    """Z1 = np.dot(X, self.W1) + self.b1
A1 = np.maximum(Z1, 0)
Z2 = np.dot(A1, self.W2) + self.b2
A2 = sigmoid(Z2)""",
    """m = len(X)
target = np.reshape(y, (m, 1))
delta_out = (A2 - target) / m
dW2 = np.dot(A1.T, delta_out)
db2 = np.sum(delta_out, axis=0)
delta_hidden = np.dot(delta_out, self.W2.T) * relu_derivative(Z1)
dW1 = np.dot(X.T, delta_hidden)
db1 = np.sum(delta_hidden, axis=0)""",
    """step = self.learning_rate
self.W1 = self.W1 - step * dW1
self.W2 = self.W2 - step * dW2
self.b1 = self.b1 - step * db1
self.b2 = self.b2 - step * db2""",
    """logits = self.forward_pass(X)[2][:, 0]
labels = np.reshape(y, -1)
per_sample = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
loss = float(per_sample.mean())""",
    """probs = self.forward_pass(X)[3][:, 0]
labels = np.where(probs > 0.5, 1, 0)""",
    """predicted = self.predict(X)
acc = float((predicted == np.reshape(y, -1)).sum() / len(predicted))""",
    """count = len(X)
epoch = 0
while epoch < self.epochs:
    shuffled = self.rng.permutation(count)
    Xs, ys = X[shuffled], y[shuffled]
    for i in range(0, count, self.batch_size):
        xb, yb = Xs[i:i + self.batch_size], ys[i:i + self.batch_size]
        cache = self.forward_pass(xb)
        grads = self.backward_prop(xb, yb, *cache)
        self.update_weights(*grads)
    history["train_loss"].append(self.cross_entropy_loss(X, y))
    history["val_loss"].append(self.cross_entropy_loss(X_val, y_val))
    epoch += 1
    if history["val_loss"][-1] < self.tol:
        break""",
    """HYPERPARAMETERS = dict(hidden_dim=12, learning_rate=0.4, batch_size=16, epochs=80, tol=0.03)""",
]

STUDENT_B = [
    """rows = []
for row in a:
    z = np.exp(row - row.max())
    rows.append(z / z.sum())
y = np.array(rows)""",
    """E = 0.0
for logit_row, target_row in zip(a, t):
    top = logit_row.max()
    log_norm = top + np.log(np.exp(logit_row - top).sum())
    E -= float(np.dot(target_row, logit_row - log_norm))""",
    """grad = np.empty_like(a, dtype=float)
for n in range(a.shape[0]):
    p = np.exp(a[n] - np.max(a[n]))
    grad[n] = p / np.sum(p) - t[n]""",
    """out = np.clip(x, 0, None)""",
    """out = np.heaviside(x, 0.0)""",
    """x = np.asarray(x, dtype=float)
out = np.empty_like(x)
pos = x >= 0
out[pos] = 1 / (1 + np.exp(-x[pos]))
ex = np.exp(x[~pos])
out[~pos] = ex / (1 + ex)""",
    """out = sigmoid(x) * sigmoid(-x)""",
    """limit = np.sqrt(6.0 / (input_dim + hidden_dim))
W1 = self.rng.uniform(-limit, limit, size=(input_dim, hidden_dim))
b1 = np.full(hidden_dim, 0.01)
W2 = self.rng.uniform(-limit, limit, size=(hidden_dim, 1))
b2 = np.array([0.0])""",
    """hidden_in = X.dot(self.W1)
Z1 = hidden_in + self.b1
A1 = relu(Z1)
Z2 = A1.dot(self.W2) + self.b2
A2 = sigmoid(Z2)""",
    """batch = X.shape[0]
err = A2[:, 0] - np.ravel(y)
dW2 = (A1 * err[:, None]).sum(axis=0, keepdims=True).T / batch
db2 = np.array([err.sum() / batch])
back = np.outer(err, self.W2[:, 0]) * (Z1 > 0)
dW1 = X.T.dot(back) / batch
db1 = back.sum(axis=0) / batch""",
    """for name, g in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
    setattr(self, name, getattr(self, name) - self.learning_rate * g)""",
    """z = np.ravel(self.forward_pass(X)[2])
t = np.ravel(y).astype(float)
loss = float(np.mean(np.logaddexp(0, -z) * t + np.logaddexp(0, z) * (1 - t)))""",
    """labels = (np.ravel(self.forward_pass(X)[3]) > 0.5).astype(np.int64)""",
    """acc = float(np.count_nonzero(self.predict(X) == np.ravel(y))) / X.shape[0]""",
    """for _ in range(self.epochs):
    idx = np.arange(X.shape[0])
    self.rng.shuffle(idx)
    batches = [idx[k:k + self.batch_size] for k in range(0, len(idx), self.batch_size)]
    for b in batches:
        out = self.forward_pass(X[b])
        self.update_weights(*self.backward_prop(X[b], y[b], *out))
    tr, va = self.cross_entropy_loss(X, y), self.cross_entropy_loss(X_val, y_val)
    history["train_loss"].append(tr)
    history["val_loss"].append(va)
    if va < self.tol:
        break""",
    """HYPERPARAMETERS = dict(hidden_dim=24, learning_rate=0.3, batch_size=40, epochs=150, tol=0.02)""",
]


def fill(bodies: list[str]) -> nbformat.NotebookNode:
    """The reference notebook with each solution region's body replaced by the next of `bodies`."""
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    queue = list(bodies)

    def put(match: re.Match) -> str:
        indent = match.group("indent")
        body = "\n".join(indent + line for line in queue.pop(0).splitlines())
        return f"{indent}### BEGIN SOLUTION\n{body}\n{indent}### END SOLUTION"

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = REGION.sub(put, cell.source)
    assert not queue, f"{len(queue)} bodies left over: the solution has fewer regions than expected"
    return nb


def edited(bodies: list[str]) -> nbformat.NotebookNode:
    """A copy of a solution with the usual disguise: names changed, a comment added, the hyperparameters retuned."""
    nb = fill(bodies)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for old, new in (("delta_out", "err_out"), ("delta_hidden", "err_hidden"), ("scale1", "s_in"),
                             ("shuffled", "perm"), ("hidden_dim=12", "hidden_dim=14")):
                cell.source = cell.source.replace(old, new)
            cell.source = cell.source.replace("def relu(x):", "# my own work\ndef relu(x):")
    return nb

"""The XOR distribution behind the public data and the grader's hidden test set.

Points are standard normal in two features, x ~ N(0, I). Points closer than MARGIN to either axis are
redrawn, so the classes are separated by a thin band. The label is 1 when the two features have different
signs (XOR of x1 > 0 and x2 > 0), else 0. The classes are balanced in expectation.
"""

from __future__ import annotations

import numpy as np

MARGIN = 0.1


def sample_xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw n points: X of shape (n, 2) float64 and y of shape (n,) int64 in {0, 1}."""
    kept = np.empty((0, 2))
    while len(kept) < n:
        draw = rng.normal(size=(2 * n, 2))
        kept = np.concatenate([kept, draw[np.min(np.abs(draw), axis=1) >= MARGIN]])
    X = kept[:n]
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    return X, y


def make_dataset(seed: int, n_train: int = 800, n_test: int = 200) -> dict[str, np.ndarray]:
    """The dict stored in xordata.pkl: X_train (n_train, 2), y_train, X_test (n_test, 2), y_test."""
    rng = np.random.default_rng(seed)
    X_train, y_train = sample_xor(n_train, rng)
    X_test, y_test = sample_xor(n_test, rng)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}

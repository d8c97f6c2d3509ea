"""The data the grader uses: the public split (as the notebook makes it) and the hidden test set."""

from __future__ import annotations

import math
import pickle
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader import paths
from grader.backprop.xor import sample_xor

if TYPE_CHECKING:
    from grader.grading.rubric import Rubric

VALIDATION_SPLIT = dict(test_size=0.5, random_state=0)  # the notebook's own train_test_split of the test part


def split_like_sklearn(X: np.ndarray, y: np.ndarray, *, test_size: float,
                       random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, X_test, y_train, y_test exactly as sklearn's train_test_split(X, y, test_size=, random_state=) gives
    them (a float test_size, no stratify): without importing scikit-learn and scipy, which cost a grade CPU time.

    Like sklearn's ShuffleSplit: permute 0..n-1 with RandomState(random_state); the first ceil(test_size * n)
    indices are the test part, the rest the train part.
    """
    n = len(y)
    n_test = math.ceil(test_size * n)
    order = np.random.RandomState(random_state).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


@lru_cache(maxsize=4)
def public_data(path: Path = paths.PUBLIC_DATA) -> dict[str, np.ndarray]:
    """X_train, y_train, and the public test part split into X_val/y_val and X_test/y_test as students do."""
    with open(path, "rb") as f:  # the project's own file, not a submission's
        raw = pickle.load(f)
    X_val, X_test, y_val, y_test = split_like_sklearn(raw["X_test"], raw["y_test"], **VALIDATION_SPLIT)
    return {"X_train": raw["X_train"], "y_train": raw["y_train"], "X_val": X_val, "y_val": y_val,
            "X_test": X_test, "y_test": y_test}


def hidden_set(rubric: Rubric) -> dict[str, np.ndarray] | None:
    """The hidden test set, drawn from the public distribution with the rubric's secret seed (None without one)."""
    if rubric.hidden_seed is None:
        return None
    X, y = sample_xor(rubric.hidden_size, np.random.default_rng(rubric.hidden_seed))
    return {"X": X, "y": y}

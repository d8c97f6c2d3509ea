"""The public XOR data: regenerated identically, the documented shapes, and the intended difficulty."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from grader import paths
from grader.backprop.xor import MARGIN, make_dataset

LINEAR_CEILING = 0.62  # "no linear model can fit above about 60%"
NETWORK_FLOOR = 0.97  # "a 2-layer ReLU network separates it to at least 97%"


def load(path=paths.PUBLIC_DATA) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f)


def test_regenerating_gives_identical_arrays_and_bytes(tmp_path):
    out = tmp_path / "xordata.pkl"
    subprocess.run([sys.executable, str(paths.ROOT / "data" / "make_xor.py"), "--out", str(out)], check=True,
                   capture_output=True)
    fresh, committed = load(out), load()
    assert fresh.keys() == committed.keys()
    for key in committed:
        np.testing.assert_array_equal(fresh[key], committed[key])
    assert out.read_bytes() == paths.PUBLIC_DATA.read_bytes()


def test_shapes_and_dtypes_follow_the_contract():
    data = load()
    assert data["X_train"].shape == (800, 2) and data["X_train"].dtype.kind == "f"
    assert data["y_train"].shape == (800,) and data["y_train"].dtype.kind == "i"
    assert data["X_test"].shape == (200, 2) and data["y_test"].shape == (200,)
    for key in ("y_train", "y_test"):
        assert set(np.unique(data[key])) == {0, 1}


def test_labels_are_xor_of_the_feature_signs_with_a_margin():
    data = load()
    for X, y in ((data["X_train"], data["y_train"]), (data["X_test"], data["y_test"])):
        np.testing.assert_array_equal(y, np.logical_xor(X[:, 0] > 0, X[:, 1] > 0).astype(int))
        assert np.min(np.abs(X)) >= MARGIN


def test_no_linear_model_fits_it_but_a_small_relu_network_does():
    data = load()
    linear = LogisticRegression().fit(data["X_train"], data["y_train"])
    assert linear.score(data["X_train"], data["y_train"]) <= LINEAR_CEILING
    assert linear.score(data["X_test"], data["y_test"]) <= LINEAR_CEILING
    net = MLPClassifier((8,), activation="relu", max_iter=2000, random_state=0)
    net.fit(data["X_train"], data["y_train"])
    assert net.score(data["X_test"], data["y_test"]) >= NETWORK_FLOOR


def test_other_seeds_draw_other_points_from_the_same_distribution():
    a, b = make_dataset(1), make_dataset(2)
    assert not np.array_equal(a["X_train"], b["X_train"])
    assert abs(a["y_train"].mean() - 0.5) < 0.06 and abs(b["y_train"].mean() - 0.5) < 0.06


def test_the_public_split_is_sklearns_train_test_split_without_importing_it():
    """The grader splits the public test part itself (sklearn's import costs every grade CPU time); the oracle is
    sklearn's own train_test_split, for the real data and for odd sizes, other seeds and fractions."""
    from sklearn.model_selection import train_test_split

    from grader.backprop.data import VALIDATION_SPLIT, public_data, split_like_sklearn

    raw = load()
    X_val, X_test, y_val, y_test = train_test_split(raw["X_test"], raw["y_test"], **VALIDATION_SPLIT)
    ours = public_data()
    for name, expected in (("X_val", X_val), ("X_test", X_test), ("y_val", y_val), ("y_test", y_test)):
        assert ours[name].dtype == expected.dtype
        np.testing.assert_array_equal(ours[name], expected)
    rng = np.random.default_rng(5)
    for n, fraction, seed in ((7, 0.5, 0), (201, 0.5, 3), (50, 0.3, 42), (33, 0.25, 1)):
        X, y = rng.normal(size=(n, 3)), rng.integers(0, 2, size=n)
        for got, want in zip(split_like_sklearn(X, y, test_size=fraction, random_state=seed),
                             train_test_split(X, y, test_size=fraction, random_state=seed)):
            np.testing.assert_array_equal(got, want)


def test_loading_the_public_data_does_not_import_sklearn():
    code = ("import sys; from grader.backprop.data import public_data; public_data(); "
            "sys.exit('sklearn' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=paths.ROOT).returncode == 0

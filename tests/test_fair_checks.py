"""The pieces behind fair grades, without a sandbox: dtype-aware tolerances, student-shaped weights, the grading
secret, the import check and the near-miss names."""

from __future__ import annotations

import re

import numpy as np
import pytest

from grader.backprop import checks, names
from grader.errors import ConfigError
from grader.grading import secret
from grader.grading.rubric import DEFAULT_PACKAGES, load_rubric, parse_rubric
from grader.notebook import imports
from grader.notebook.definitions import definitions
from grader.grading import expect

SECRET = "0123456789abcdef" * 4


def test_a_float32_answer_is_held_to_float32_precision_and_a_float64_one_to_the_tolerance():
    exact = np.linspace(0.1, 1.0, 7)
    rounded = exact.astype(np.float32)
    expect.close(rounded, exact, "float32", 1e-9)  # float32 rounding, within 100 epsilons of float32
    with pytest.raises(expect.Mismatch):
        expect.close(rounded.astype(np.float64), exact, "float64", 1e-9)
    with pytest.raises(expect.Mismatch):
        expect.close((exact * 1.001).astype(np.float32), exact, "a real error", 1e-9)


def test_a_failure_shows_enough_digits_to_see_the_difference():
    expected = np.array([0.123456789])
    with pytest.raises(expect.Mismatch) as info:
        expect.close(expected * (1 + 1e-7), expected, "value", 1e-9)
    shown = re.findall(r"\[([^\]]+)\]", info.value.message)
    assert len(shown) == 2 and shown[0] != shown[1], info.value.message


def test_bool_predictions_and_column_shapes_are_accepted_as_ints():
    got = expect.as_array(np.array([[True], [False]]), "predict", (2,), also=((2, 1),), integer=True)
    assert got.dtype == np.int64 and got.tolist() == [1, 0]


def test_the_grader_weights_take_the_students_own_shapes_and_dtype():
    params = {"b1": np.arange(3.0), "b2": np.array([0.5]), "W2": np.ones((3, 1))}
    layout = {"b1": ((1, 3), np.dtype(np.float32)), "b2": ((1, 1), np.dtype(np.float64))}
    sent = checks.in_layout(params, layout)
    assert sent["b1"].shape == (1, 3) and sent["b1"].dtype == np.float32
    assert sent["b2"].shape == (1, 1) and sent["W2"].shape == (3, 1)


def test_a_new_secret_has_256_bits_and_one_under_128_is_refused():
    fresh = secret.new_secret()
    assert len(fresh) == 64 and secret.check_secret(fresh) is None and fresh != secret.new_secret()
    assert secret.check_secret("ab" * 15) and secret.check_secret("not hex at all!") and secret.check_secret(731902455)


def test_inputs_depend_on_the_secret_and_on_the_submission_and_on_nothing_else():
    salt = secret.input_salt(SECRET, "a" * 64)
    assert salt == secret.input_salt(SECRET, "a" * 64)
    assert salt != secret.input_salt(SECRET, "b" * 64)
    assert salt != secret.input_salt("fe" * 32, "a" * 64)
    assert salt.bit_length() > 128


def test_new_secret_replaces_the_old_one_in_place_and_the_rubric_never_shows_it(tmp_path):
    rubric_file = tmp_path / "rubric.toml"
    rubric_file.write_text(f'[thresholds]\nattempts = 2\n\n[hidden]\nsecret = "{SECRET}"\nsize = 100\n')
    secret.write_secret(rubric_file)
    rubric = load_rubric(rubric_file)
    assert rubric.secret and rubric.secret != SECRET and rubric.hidden_size == 100 and rubric.attempts == 2
    assert rubric.secret not in repr(rubric) and str(rubric.hidden_seed) not in repr(rubric)
    assert rubric_file.read_text().count("secret =") == 1


def test_a_numeric_seed_is_refused_with_the_command_to_run():
    with pytest.raises(ConfigError, match="new-secret"):
        parse_rubric("[hidden]\nseed = 731_902_455\n")
    with pytest.raises(ConfigError, match="128 bits") as info:
        parse_rubric('[hidden]\nsecret = "abcd"\n')
    assert "abcd" not in str(info.value)


def test_the_allowed_packages_have_one_home_with_the_contracts_default():
    assert parse_rubric("").packages == DEFAULT_PACKAGES == ("numpy", "scipy", "scikit-learn", "matplotlib", "pandas")
    assert parse_rubric('[packages]\nallowed = ["numpy", "seaborn"]\n').packages == ("numpy", "seaborn")
    with pytest.raises(ConfigError, match="packages"):
        parse_rubric("[packages]\nallowed = 3\n")


def test_imports_outside_the_allowed_set_are_found_without_running_the_code():
    sources = ["import os, numpy as np\nfrom sklearn.model_selection import train_test_split",
               "import pandas as pd\nimport torch.nn\nfrom . import mine\ndef f():\n    import seaborn",
               "this does not parse ("]
    assert imports.outside_imports(sources, DEFAULT_PACKAGES) == ["seaborn", "torch"]
    message = imports.imports_message(["torch"], DEFAULT_PACKAGES)
    assert "`torch`" in message and "numpy, scipy, scikit-learn, matplotlib, pandas" in message
    assert imports.imports_message([], DEFAULT_PACKAGES) == ""


def test_a_near_miss_name_is_named_once_with_the_required_signature():
    sources = ["def reLu(x):\n    return x\n\ndef sigmoid(x):\n    return x\n",
               "class TwoLayerPerceptron:\n    def train_model(self, X, y, X_val, y_val):\n        pass\n"
               "    def predict(self, X):\n        pass\n"]
    notes = names.source_notes(sources)
    assert any("`relu`" in n and "`reLu`" in n and "relu(x)" in n for n in notes), notes
    assert any("`train_model`" in n and "train(self, X, y, X_val, y_val)" in n for n in notes), notes
    assert not any("sigmoid" in n or "predict" in n for n in notes)
    assert definitions(["x = (\n"]).names == frozenset()


def test_a_class_with_another_capitalisation_is_a_near_miss():
    notes = names.source_notes(["class TwoLayerperceptron:\n    def train(self, X, y, X_val, y_val):\n        pass\n"])
    assert any("did you mean `TwoLayerperceptron`" in n for n in notes), notes
    assert not any("train" in n.split("did you mean")[0] for n in notes if "method" in n)


MODEL = '''\
# %%
import numpy as np


class Model:
    def __init__(self):
        self.W1, self.b1 = np.ones((2, 3)), np.zeros((1, 3))
        self.W2, self.b2 = np.ones((3, 1)), np.zeros((1, 1))

    def step(self, X, y):
        return len(X)

    def cross_entropy_loss(self, X, y):
        return np.zeros(len(y))  # per sample: not what the contract asks

    def epoch(self, X, y):
        return [self.step(X[i:i + 2], y[i:i + 2]) for i in range(0, len(X), 2)], self.cross_entropy_loss(X, y)
'''


@pytest.mark.sandbox
def test_the_sandbox_watches_calls_and_swaps_in_the_graders_loss(tmp_path):
    from grader.backprop import WORKER_STANDINS, oracle, standins
    from grader.sandbox.client import open_submission

    path = tmp_path / "model.py"
    path.write_text(MODEL)
    X, y = np.arange(10.0).reshape(5, 2) / 10, np.array([0, 1, 1, 0, 1])
    with open_submission(path, standins_file=WORKER_STANDINS) as student:
        student.standin_answer = standins.answer
        model = student.new("Model")
        model.spy("step")
        model.use_grader_method("cross_entropy_loss", "mean_bce", oracle.PARAMS)
        sizes, loss = model.call("epoch", X, y)
        calls = model.calls("step")
    params = {"W1": np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 1)), "b2": np.zeros(1)}
    assert sizes == [2, 2, 1] and [rows for rows, _ in calls] == [2, 2, 1]
    assert [first for _, first in calls] == [X[0].tolist(), X[2].tolist(), X[4].tolist()]
    assert isinstance(loss, float) and abs(loss - oracle.mean_bce(params, X, y)) < 1e-12


def test_the_grading_environment_and_the_bundle_install_the_allowed_packages():
    import importlib.util
    import tomllib

    from grader import paths

    allowed = load_rubric().packages
    assert all(importlib.util.find_spec(imports.import_names(d)[0]) for d in allowed), allowed
    pins = {line.split("==")[0].lower() for line in (paths.ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line}
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.split(r"[<>=;\[ ]", d, maxsplit=1)[0].lower() for d in project}
    assert set(DEFAULT_PACKAGES) <= declared and set(DEFAULT_PACKAGES) <= pins  # pandas and scipy included
    setup = (paths.ROOT / "grader/bundles/templates/gradescope/setup.sh").read_text()
    assert "-m grader packages" in setup and "pip install" in (paths.ROOT / "Makefile").read_text()
    assert "-m grader packages" in (paths.ROOT / "Makefile").read_text()

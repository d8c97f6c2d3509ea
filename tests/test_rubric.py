"""The rubric file: defaults in code, overrides from TOML, and bad values reported with their place."""

from __future__ import annotations

import pytest

from grader import paths
from grader.errors import ConfigError
from grader.sandbox.limits import Limits
from grader.grading.rubric import AREAS, Rubric, load_rubric, parse_rubric


def test_the_committed_rubric_is_valid_and_matches_the_contract_defaults():
    rubric = load_rubric()
    assert rubric.threshold("train_accuracy") == 0.95 and rubric.threshold("hidden_accuracy") == 0.95
    assert rubric.limits.memory_bytes == 2 * 1024**3  # "2 GiB default"
    assert rubric.hidden_seed is not None and rubric.source == str(paths.RUBRIC)
    assert AREAS == ("softmax", "softmax_grad", "activations", "derivatives", "init", "forward", "loss", "backward",
                     "update", "predict", "train", "accuracy")


def test_an_empty_file_gives_the_defaults_in_code():
    rubric = parse_rubric("")
    assert rubric.limits == Limits() and rubric.attempts == 3 and rubric.points == {} and rubric.public is None
    assert rubric.hidden_seed is None  # the secret seed has no default in code, which ships to students


def test_overrides_are_converted_to_the_limits_units():
    rubric = parse_rubric("[limits]\nmemory_mb = 512\ncell_seconds = 2.5\noutput_kb = 8\n[thresholds]\nattempts = 2\n")
    assert rubric.limits.memory_bytes == 512 * 1024**2 and rubric.limits.cell_seconds == 2.5
    assert rubric.limits.output_bytes == 8192 and rubric.attempts == 2


@pytest.mark.parametrize("text, place", [
    ('[limits]\ncell_seconds = 5\nmemory_mb = "lots"\n', "line 3: [limits] memory_mb"),
    ("[thresholds]\ntrain_accuracy = 1.5\n", "line 2: [thresholds] train_accuracy"),
    ("[thresholds]\nattempts = 2.5\n", "line 2: [thresholds] attempts"),
    ("[limits]\nmemroy_mb = 5\n", "line 2: [limits] memroy_mb: unknown key"),
    ('[points]\n"backward: dW1" = -1\n', "line 2: [points] backward: dW1"),
    ('[points]\n"backprop: dW1" = 5\n', "starts with its area id"),
    ("[public]\ntests = 3\n", "[public] tests"),
    ("[extras]\nx = 1\n", "unknown table [extras]"),
    ("[limits\n", "not valid TOML"),
])
def test_bad_values_are_reported_with_their_place_in_the_file(text, place):
    with pytest.raises(ConfigError) as info:
        parse_rubric(text, "course/rubric.toml")
    assert str(info.value).startswith("course/rubric.toml") and place in str(info.value)


def test_a_missing_rubric_file_given_explicitly_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such rubric file"):
        load_rubric(tmp_path / "nope.toml")


def test_the_fingerprint_changes_with_the_text():
    assert parse_rubric("[thresholds]\nattempts = 2\n").fingerprint() != parse_rubric("").fingerprint()
    assert Rubric().fingerprint() == parse_rubric("").fingerprint()


def test_the_assignment_table_picks_a_folder_beside_the_engine_and_an_unknown_one_is_named():
    rubric = parse_rubric('[assignment]\nname = "backprop"\n')
    assert rubric.assignment == "backprop" and rubric.areas == AREAS
    with pytest.raises(ConfigError, match=r"line 2: \[assignment\] name"):
        parse_rubric('[assignment]\nname = "../etc"\n', "course/rubric.toml")
    with pytest.raises(ConfigError, match="no package grader/algebra"):
        parse_rubric('[assignment]\nname = "algebra"\n')


def test_an_assignment_package_lacking_a_name_of_the_interface_is_refused(tmp_path, monkeypatch):
    import sys
    import types

    from grader.grading import assignment

    half = types.ModuleType("grader.halfdone")
    half.AREAS = ("one",)
    monkeypatch.setitem(sys.modules, "grader.halfdone", half)
    with pytest.raises(ConfigError, match="lacks SUITE_DIR, DATA_FILES"):
        assignment.load("halfdone")
    assert set(assignment.NAMES) <= set(dir(assignment.load()))

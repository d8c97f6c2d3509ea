"""Student identities from LMS file names (grader/batch/names.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from grader.errors import ConfigError
from grader.batch.names import Identity, compile_patterns, disambiguate, identify, junk_reason, safe_id


@pytest.mark.parametrize("relpath, student, late, resubmission, user_id, attachment_id", [
    ("smith_john_12345_67890_backprop.ipynb", "smith_john", False, 0, "12345", "67890"),
    ("smith_john_LATE_12345_67890_backprop.ipynb", "smith_john", True, 0, "12345", "67890"),
    ("smith_john_late_12345_67890_backprop-2.ipynb", "smith_john", True, 2, "12345", "67890"),
    ("smithjohn_12345_67890_backprop-1.ipynb", "smithjohn", False, 1, "12345", "67890"),
    ("smith_john_12345_67890_my-notebook.ipynb", "smith_john", False, 0, "12345", "67890"),
    ("export/smith_john_12345_67890_backprop.ipynb", "smith_john", False, 0, "12345", "67890"),
    ("alice/backprop.ipynb", "alice", False, 0, "", ""),
    ("alice/work/hw/backprop.ipynb", "alice", False, 0, "", ""),
    ("bob.ipynb", "bob", False, 0, "", ""),
    ("student-42.ipynb", "student-42", False, 0, "", ""),
    ("carol.py", "carol", False, 0, "", ""),
])
def test_default_patterns_read_canvas_folders_and_plain_names(relpath, student, late, resubmission, user_id,
                                                              attachment_id):
    assert identify(relpath) == Identity(student, student, late, resubmission, user_id, attachment_id)


@pytest.mark.parametrize("relpath, anonymous_id, late, attachment_id, resubmission", [
    ("anon_7ar9n_67890_backprop.ipynb", "7ar9n", False, "67890", 0),
    ("anon_Vq2Ka_67890_backprop-3.ipynb", "vq2ka", False, "67890", 3),
    ("late_anon_x1y2z_555_my_backprop.ipynb", "x1y2z", True, "555", 0),
    ("submissions/anon_x1y2z_late_555_backprop.ipynb", "x1y2z", True, "555", 0),
    ("anon_12345_67890_backprop.ipynb", "12345", False, "67890", 0),  # base58 ids may be all digits
])
def test_anonymous_grading_downloads_give_the_anonymous_id_and_no_user_id(relpath, anonymous_id, late,
                                                                          attachment_id, resubmission):
    ident = identify(relpath)
    assert (ident.anonymous_id, ident.late, ident.attachment_id, ident.resubmission, ident.user_id) == \
        (anonymous_id, late, attachment_id, resubmission, "")
    assert ident.student.lower() == f"anon_{anonymous_id}"


BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789")


@pytest.mark.fuzz
@given(name=st.text(NAME_CHARS, min_size=1, max_size=20).filter(lambda n: not n.isdigit()),
       late=st.booleans(), user_id=st.integers(1, 10**12), attachment_id=st.integers(1, 10**12),
       original=st.text(st.sampled_from("abcdefghij_-.0123456789 "), min_size=1, max_size=30),
       resubmission=st.integers(0, 9))
def test_every_canvas_download_name_gives_back_its_ids(name, late, user_id, attachment_id, original, resubmission):
    """Built the way Canvas's download builds names: <name>[_LATE]_<user id>_<attachment id>_<file>[-n].ipynb"""
    file = f"{original}{f'-{resubmission}' if resubmission else ''}.ipynb"
    relpath = f"{name}{'_LATE' if late else ''}_{user_id}_{attachment_id}_{file}"
    ident = identify(relpath)
    assert (ident.user_id, ident.attachment_id, ident.late) == (str(user_id), str(attachment_id), late)
    assert ident.raw == name and ident.anonymous_id == ""


@pytest.mark.fuzz
@given(anonymous_id=st.text(st.sampled_from(BASE58), min_size=5, max_size=5), late=st.booleans(),
       attachment_id=st.integers(1, 10**12), original=st.text(st.sampled_from("abc_-0123"), min_size=1, max_size=20))
def test_every_anonymous_download_name_gives_back_its_ids(anonymous_id, late, attachment_id, original):
    """Canvas lowercases the whole name, anonymous id included."""
    relpath = f"{'late_' if late else ''}anon_{anonymous_id}_{attachment_id}_{original}.ipynb".lower()
    ident = identify(relpath)
    assert (ident.anonymous_id, ident.attachment_id, ident.late, ident.user_id) == \
        (anonymous_id.lower(), str(attachment_id), late, "")


def test_a_custom_pattern_replaces_the_defaults():
    patterns = compile_patterns([r"hw3_(?P<student>[a-z]+)_v(?P<resubmission>\d+)\.ipynb"])
    assert identify("hw3_alice_v3.ipynb", patterns) == Identity("alice", "alice", resubmission=3)
    assert identify("bob.ipynb", patterns) is None


@pytest.mark.parametrize("text, words", [("hw3_(", "not a regular expression"), (r"(\w+)\.ipynb", "student")])
def test_a_bad_pattern_is_a_config_error_naming_it(text, words):
    with pytest.raises(ConfigError, match=words):
        compile_patterns([text])


@pytest.mark.parametrize("relpath, words", [
    (".DS_Store", "hidden"), ("__MACOSX/._bob.ipynb", "hidden"), ("alice/.ipynb_checkpoints/x.ipynb", "hidden"),
    ("README.txt", "not a notebook"), ("alice/data.pkl", "not a notebook"),
])
def test_junk_is_recognised(relpath, words):
    assert words in junk_reason(relpath)


def test_submissions_are_not_junk():
    assert junk_reason("alice/backprop.ipynb") == "" and junk_reason("bob.PY") == ""


@pytest.mark.parametrize("raw, expected", [
    ("smith_john", "smith_john"), ("Jos\u00e9 M\u00fcller", "Jose_Muller"), ("../../etc", "etc"),
    ("a/b\\c", "a_b_c"), (".hidden", "hidden"), ("O'Brien, Pat", "O_Brien_Pat"),
    ("gradebook.csv", "gradebook.csv_"), ("Summary.PNG", "Summary.PNG_"), ("john.smith", "john.smith"),
])
def test_safe_ids_are_plain_folder_names(raw, expected):
    assert safe_id(raw) == expected


def test_safe_ids_are_never_empty_or_too_long():
    assert safe_id("..").startswith("student-") and safe_id("\u4e2d\u6587") != safe_id("\u65e5\u672c")
    long = safe_id("x" * 500)
    assert len(long) <= 80 and long != safe_id("x" * 499)


def test_two_people_with_one_name_are_told_apart_by_user_id():
    a1, a2, b = Identity("smith", "smith", user_id="1"), Identity("smith", "smith", user_id="2"), Identity("bo", "bo")
    again = Identity("smith", "smith", user_id="1", resubmission=1)
    assert disambiguate([a1, a2, b, again]) == {a1: "smith-1", a2: "smith-2", b: "bo", again: "smith-1"}


@pytest.mark.parametrize("name", ["similarity", "Similarity", "gradebook.csv", "summary.md", "canvas_import.csv",
                                  "grades.csv", "gradebook_detail.csv", "hand_grades.csv"])
def test_no_student_folder_takes_the_name_of_something_the_batch_writes_beside_them(name):
    from grader.batch.names import safe_id

    assert safe_id(name).lower() != name.lower() and safe_id(name)

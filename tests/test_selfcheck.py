"""The in-process self-check: the public suite run on a namespace's functions, as in a student's kernel.

It must reach the same verdict, test by test, as the sandboxed check of the same notebook, leave the notebook's
random state as it was, and report an untouched skeleton in a few lines without tracebacks.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from grader import paths
from grader.backprop import hints
from grader.grading.grade import grade_submission
from grader.selfcheck import check_namespace
from grader.selfcheck.summary import NOT_IMPLEMENTED, SHOWN_FAILURES, CheckReport
from tests.notebook_exec import run_cells
from tests.variants import VARIANTS, write_variant

MAX_SKELETON_LINES = 40  # the budget for the untouched skeleton's report
# Bugs that go through each kind of request: values, overflow warnings read from stderr, methods with the grader's
# weights, training, a constructor that raises (the suite falls back to new_bare), and seeding.
AGREEING = ("sigmoid_overflows", "backward_sum_not_mean", "train_stops_on_train_loss", "init_raises", "init_fixed_seed")


def verdicts(tests) -> dict[str, bool]:
    return {t.name: t.passed for t in tests}


@pytest.fixture
def in_data(in_data_dir):
    return in_data_dir


def test_the_solution_passes_and_the_notebooks_random_state_is_left_as_it_was(in_data):
    namespace, _ = run_cells(paths.SOLUTION)
    random.seed(7)
    np.random.seed(7)
    before = random.getstate(), np.random.get_state()[1].copy(), np.random.default_rng
    namespace["my_rng_factory"] = np.random.default_rng
    report = check_namespace(namespace)
    assert report.passed and len(report.tests) >= 20, report.text()
    assert random.getstate() == before[0] and np.array_equal(np.random.get_state()[1], before[1])
    assert np.random.default_rng is before[2] and namespace["my_rng_factory"] is before[2]
    assert "Every public test passes." in report.text() and report.text().count("\n") < 20


@pytest.mark.slow
def test_the_skeleton_gets_one_short_line_per_unwritten_function_and_no_traceback(in_data):
    namespace, _ = run_cells(paths.SKELETON)
    report = check_namespace(namespace)
    lines = report.text().splitlines()
    assert not any(t.passed for t in report.tests)
    assert len(lines) <= MAX_SKELETON_LINES, report.text()
    unwritten = [line.split(": ", 1)[1] for line in lines if line.strip().startswith(NOT_IMPLEMENTED)]
    assert len(unwritten) == len(set(unwritten)) and {"softmax", "sigmoid", "forward_pass", "backward_prop",
                                                      "train"} <= set(unwritten)
    assert "Traceback" not in report.text() and "NotImplementedError" not in report.text().replace(
        "`raise NotImplementedError`", "")
    assert re.search(r"^total\s+0 / \d+", report.text(), re.M)
    html = report._repr_html_()
    assert "<table>" in html and "not implemented yet: <code>softmax</code>" in html


def test_one_area_runs_alone_and_an_unknown_area_names_the_known_ones(in_data):
    namespace, _ = run_cells(paths.SOLUTION)
    report = check_namespace(namespace, ["backward"])
    assert {t.area for t in report.tests} == {"backward"} and report.passed
    with pytest.raises(Exception, match="the areas are: softmax"):
        check_namespace(namespace, ["backwards"])


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("name", AGREEING)
def test_in_process_and_sandboxed_checks_agree_test_by_test(name, in_data, tmp_path):
    variant = next(v for v in VARIANTS if v.name == name)
    path = write_variant(variant, tmp_path)
    namespace, _ = run_cells(path)
    inside = check_namespace(namespace)
    sandboxed = grade_submission(path, public_only=True)
    assert verdicts(inside.tests) == verdicts(sandboxed.tests), inside.text()
    failed = {t.area for t in inside.tests if not t.passed}
    assert failed and failed <= variant.areas, inside.text()
    home = [t for t in inside.tests if t.area == variant.home and not t.passed]
    if variant.hint and variant.hint != hints.NOT_RANDOM:
        assert any(variant.hint in t.hint for t in home[:SHOWN_FAILURES]), inside.text()
    if name == "init_raises":  # the terminal check says where in the student's cells the error came from
        terminal = CheckReport(path.name, tuple(sandboxed.tests)).text()
        assert "where   : Cell [12], line 22, in initialize_parameters" in terminal, terminal


def test_an_import_outside_the_allowed_packages_is_reported_once_even_where_it_is_installed(in_data):
    namespace, _ = run_cells(paths.SOLUTION)
    # jsonschema is installed here (a test dependency) but is not among the packages submissions may import
    sources = ["import numpy as np\nimport jsonschema", "from backprop_check import check\nimport jsonschema.validators"]
    text = check_namespace(namespace, ["softmax"], sources=sources).text()
    assert text.count("`jsonschema`") == 1 and "numpy, scipy, scikit-learn, matplotlib, pandas" in text
    assert "backprop_check" not in text.split("Submissions may import")[0]
    assert "jsonschema" not in check_namespace(namespace, ["softmax"], sources=["import pandas"]).text()


def test_the_notebook_display_escapes_whatever_the_student_wrote():
    from html.parser import HTMLParser

    from grader.grading.results import TestResult

    hostile = "<script>alert(1)</script>"
    tests = (TestResult("softmax: rows sum to 1", "softmax", 0, 2, False, message=hostile, public=True),
             TestResult("relu: values", "activations", 1, 1, True, public=True))
    html = CheckReport(f"{hostile}.ipynb", tests, (f"note {hostile}",))._repr_html_()

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:
            self.tags.append(tag)

    parser = Tags()
    parser.feed(html)
    assert "script" not in parser.tags and html.count("&lt;script&gt;") == 3
    assert parser.tags.count("tr") == 3 and parser.tags.count("pre") == 1  # header + two areas; one failure shown

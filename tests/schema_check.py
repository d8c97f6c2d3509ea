"""Validate a Gradescope results.json against tests/schemas/gradescope_results.schema.json (a test-only helper)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent / "schemas" / "gradescope_results.schema.json"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(results: dict) -> list[str]:
    """Every way `results` breaks Gradescope's format, as "path: message" lines (empty when it is valid)."""
    errors = sorted(_validator().iter_errors(results), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]


def assert_gradescope_results(results: dict | str | Path) -> dict:
    """Fail with every schema error at once; return the parsed results. Accepts a dict or a results.json path."""
    if not isinstance(results, dict):
        results = json.loads(Path(results).read_text(encoding="utf-8"))
    errors = schema_errors(results)
    assert not errors, "results.json breaks Gradescope's format:\n" + "\n".join(errors)
    return results

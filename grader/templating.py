"""The one place HTML pages get their Jinja2 environment: autoescape on, and a missing variable is an error.

Each package that renders pages keeps its templates (and their CSS, inlined by the page so it stays one
self-contained file) in a `templates/` folder beside its code and asks here for that folder's environment.
Nothing is marked safe in a template except the output of a sanitiser (report/math.py's MathML allow-list).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

FOLDER = "templates"


@functools.lru_cache(maxsize=None)
def environment(package_dir: str) -> jinja2.Environment:
    """The environment of the templates in `package_dir`/templates/ (the folder of the module that renders them)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(Path(package_dir) / FOLDER), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(module_file: str, template: str, **values: object) -> str:
    """`template` from the templates folder beside `module_file` (pass __file__), rendered with `values`."""
    return environment(str(Path(module_file).resolve().parent)).get_template(template).render(**values)

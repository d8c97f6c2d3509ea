"""Stand-ins for a student's functions and methods, answered by the grader: a test of forward_pass runs it with
the grader's relu and sigmoid in place of the notebook's, a test of train runs the student's loop with the grader's
forward_pass, backward_prop and update_weights. A bug in one function then costs points in its own area only.

The backward pass and the activations are not computed here, so the student's code can neither read nor call
them: each call sends its arguments back to the grader (the worker's `ask`) and returns the grader's answer, and
the grader answers only the stand-ins the running request's test put in place. The few stand-ins the worker
computes itself (a forward pass called once per mini-batch) are the assignment's own, from a file it supplies and the
sandbox ships beside this one (`computed`). Standard library only.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

# ask(name, args, kwargs, attributes, options) -> (value, attributes to set); raises when it cannot be answered
Ask = Callable[[str, tuple, dict, dict, dict], "tuple[Any, dict]"]


def function(ask: Ask, name: str) -> Callable[..., Any]:
    """A notebook function whose value the grader computes."""
    def standin(*args: Any, **kwargs: Any) -> Any:
        return ask(name, args, kwargs, {}, {})[0]
    standin.__name__ = standin.__qualname__ = name
    return standin


def method(ask: Ask, name: str, attributes: Sequence[str], options: dict, arguments: int) -> Callable[..., Any]:
    """A method whose value the grader computes from its first `arguments` arguments and the object's `attributes`
    (its weights); the attributes the grader sends back (an update's new weights) are set on the object."""
    def standin(self: Any, *args: Any, **kwargs: Any) -> Any:
        value, updates = ask(name, args[:arguments], {}, {a: getattr(self, a) for a in attributes}, options)
        for attribute, new in updates.items():
            setattr(self, attribute, new)
        return value
    standin.__name__ = standin.__qualname__ = name
    return standin


def computed(path: str | None) -> dict[str, Callable[..., Any]]:
    """The assignment's stand-ins the worker computes itself: the table LOCAL (name -> function(obj, *args,
    **options)) of the file at `path`, run as a module of its own that no `import` can reach; none without a file."""
    if not path:
        return {}
    spec = importlib.util.spec_from_file_location("_assignment_standins", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"the assignment's stand-ins cannot be loaded from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = getattr(module, "LOCAL", None)
    if not isinstance(table, dict) or not all(isinstance(k, str) and callable(f) for k, f in table.items()):
        raise TypeError(f"{path}: LOCAL must map stand-in names to functions")
    return dict(table)

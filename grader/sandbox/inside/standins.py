"""Stand-ins for a student's functions and methods, answered by the grader: a test of forward_pass runs it with
the grader's relu and sigmoid in place of the notebook's, a test of train runs the student's loop with the grader's
forward_pass, backward_prop and update_weights. A bug in one function then costs points in its own area only.

No reference computation lives here, so none can be read or imported by the student's code: each call sends its
arguments back to the grader (the worker's `ask`) and returns the grader's answer. Standard library only.
"""

from __future__ import annotations

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


def method(ask: Ask, name: str, attributes: Sequence[str], options: dict) -> Callable[..., Any]:
    """A method whose value the grader computes from the object's `attributes` (its weights); the attributes the
    grader sends back (an update's new weights) are set on the object."""
    def standin(self: Any, *args: Any, **kwargs: Any) -> Any:
        value, updates = ask(name, args, kwargs, {a: getattr(self, a) for a in attributes}, options)
        for attribute, new in updates.items():
            setattr(self, attribute, new)
        return value
    standin.__name__ = standin.__qualname__ = name
    return standin

"""The process that runs a submission inside the sandbox: cells first, then the grader's requests.

It is bound into the sandbox alone with protocol.py and standins.py (never the grader package), beside the
assignment's own stand-ins file when it has one, and imports only the standard library and numpy up front. Everything it sends is data only (see protocol.py); the grader trusts none of it.
Usage: python -I -S worker.py CONFIG_JSON
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import gc
import io
import itertools
import json
import linecache
import os
import random
import re
import signal
import sys
import threading
import time
import traceback
import types
import warnings
from typing import Any, Callable, Iterator

if __name__ == "__main__":  # numpy and protocol.py must be importable before the imports below
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), *json.loads(sys.argv[1]).get("site", [])]
    gc.disable()  # main() turns it back on: no garbage worth collecting comes of these imports
import numpy as np  # noqa: E402

if __package__:  # imported as grader.sandbox.inside.worker: the in-process self-check reuses its handlers
    from grader.sandbox.inside import protocol, standins
else:  # the sandbox runs this file alone, next to protocol.py and standins.py
    import protocol  # noqa: E402
    import standins  # noqa: E402 - before any student code, so none of it can stand in for the grader's

    del sys.modules["standins"]  # the student's code cannot just import the grader's own versions

_WORKER_FILES = [os.path.abspath(f) for f in (__file__, protocol.__file__, standins.__file__)]  # left out of tracebacks
_ORIGINAL_DEFAULT_RNG = np.random.default_rng
INSTRUMENTS = (protocol.Op.SPY, protocol.Op.SPIED, protocol.Op.GRADER_METHOD)  # the grader's own instruments on an object (see Worker.instrument)


class TimeLimitExceeded(BaseException):
    """Raised inside the student's code when a cell or request runs past its limit (not an Exception on purpose)."""


class _Clock:
    armed = False
    exchanging = False  # a stand-in's frames are crossing the channel: the interrupt waits until they have
    pending = False


def _on_alarm(signum: int, frame: Any) -> None:
    if _Clock.armed and _Clock.exchanging:
        _Clock.pending = True
    elif _Clock.armed:
        raise TimeLimitExceeded()


def limited(fn: Callable[[], Any], seconds: float) -> Any:
    """Run fn with a cooperative wall-clock limit; the timer repeats so one swallowed interrupt is not enough."""
    signal.signal(signal.SIGALRM, _on_alarm)  # re-installed each time: the student may have replaced it
    _Clock.armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)
    try:
        return fn()
    finally:
        _Clock.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


class Capture(io.TextIOBase):
    """A stdout/stderr stand-in that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int, fd: int) -> None:
        self.limit, self.fd, self.parts, self.kept, self.dropped = limit, fd, [], 0, 0

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd  # raw writes reach the grader's capped pipe

    @property
    def encoding(self) -> str:
        return "utf-8"

    def text(self) -> str:
        note = f"\n[... {self.dropped} bytes dropped]" if self.dropped else ""
        return "".join(self.parts) + note


class Worker:
    """The student's namespace, the objects the grader holds handles to, and the request handlers."""

    def __init__(self, output_bytes: int, namespace: dict | None = None, standins_file: str | None = None) -> None:
        if namespace is None:
            module = types.ModuleType("__main__")
            module.__dict__["__builtins__"] = builtins
            sys.modules["__main__"] = module  # dataclasses and pickle look classes up here
            namespace = module.__dict__
        self.ns = namespace  # given: an existing __main__ (a notebook's kernel, for the in-process self-check)
        self.handles: dict[int, Any] = {}
        self.next_handle = itertools.count(1)
        self.output_bytes = output_bytes
        self.watched: dict[tuple[int, str], list] = {}  # (handle, method) -> its calls, for the grader's "spied"
        self.channel: tuple[int, int, int] | None = None  # (rfd, wfd, pid) to the grader, for the stand-ins' calls
        self.computed = computed_standins(standins_file)  # the assignment's stand-ins this process computes itself

    def captured(self, fn: Callable[[], dict], seconds: float) -> dict:
        """Run fn under the time limit with stdout/stderr captured; returns fn's reply plus the output."""
        out, err = Capture(self.output_bytes, 1), Capture(self.output_bytes, 2)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            reply = limited(fn, seconds)
        except TimeLimitExceeded as e:
            reply = {"ok": False, "kind": protocol.Kind.TIMEOUT, **describe(e)}
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: Jupyter records them and goes on
            reply = {"ok": False, "kind": protocol.Kind.RAISED, **describe(e)}
        finally:
            sys.stdout, sys.stderr = saved
        _tame_pyplot()
        return {**reply, "stdout": out.text(), "stderr": err.text()}

    def run_cell(self, msg: dict) -> dict:
        index, source = int(msg["index"]), str(msg["source"])
        filename = f"Cell [{index}]"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        start = time.monotonic()
        with _FewerCollections(imports_only(source)):  # set and reset outside the cell's timer
            reply = self.captured(lambda: _exec(source, filename, self.ns), float(msg["seconds"]))
        _close_figures()
        return {**reply, "seconds": time.monotonic() - start}

    def resolve(self, msg: dict) -> tuple[Any, str]:
        """The object a request names (a global, or an attribute of a handle) and a description for messages."""
        name = str(msg["name"])
        if msg.get("handle") is None:
            if name not in self.ns:
                raise LookupError(f"the notebook does not define `{name}`")
            return self.ns[name], f"`{name}`"
        obj = self.handles.get(int(msg["handle"]))
        if obj is None:
            raise LookupError("the object handle is no longer valid")
        what = "method" if msg["op"] == protocol.Op.CALL else "attribute"
        try:
            return getattr(obj, name), f"{type(obj).__name__}.{name}"
        except AttributeError:
            raise LookupError(f"{type(obj).__name__} has no {what} `{name}`") from None

    def request(self, msg: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        """call / new / get / set, under the request's time limit; the result is encoded inside the limit too."""
        out_blobs: list[bytes] = []
        reply = self.captured(lambda: _graders_conditions(lambda: self._serve(msg, blobs, out_blobs)),
                              float(msg.get("seconds", 10.0)))
        return reply, out_blobs if reply.get("ok") else []

    def _serve(self, msg: dict, blobs: list[bytes], out_blobs: list[bytes]) -> dict:
        op = msg["op"]
        if op in INSTRUMENTS:
            return self.instrument(msg)
        if op == protocol.Op.SET:
            obj = self.handles.get(int(msg.get("handle") or 0))
            if obj is None:
                return {"ok": False, "kind": protocol.Kind.MISSING, "message": "the object handle is no longer valid"}
            value = protocol.decode_value(msg["value"], blobs)
            setattr(obj, str(msg["name"]), _returning(value) if msg.get("as_method") else value)
            return {"ok": True, "value": None}
        try:
            target, label = self.resolve(msg)
        except LookupError as e:
            return {"ok": False, "kind": protocol.Kind.MISSING, "message": str(e)}
        result = target
        if op == protocol.Op.NEW and msg.get("bare"):
            return self._bare(target, label, protocol.decode_value(msg.get("kwargs", {"d": []}), blobs))
        if op in (protocol.Op.CALL, protocol.Op.NEW):
            if not callable(target):
                return {"ok": False, "kind": protocol.Kind.MISSING, "message": f"{label} is not callable "
                        f"(it is a {type(target).__name__})"}
            args = protocol.decode_value(msg.get("args", []), blobs)
            kwargs = protocol.decode_value(msg.get("kwargs", {"d": []}), blobs)
            with self.standing_in(msg.get("isolate") or ()):
                result = target(*args, **kwargs)
        if op == protocol.Op.NEW:
            handle = next(self.next_handle)
            self.handles[handle] = result
            return {"ok": True, "handle": handle, "type": type(result).__name__}
        try:
            return {"ok": True, "value": protocol.encode_value(result, out_blobs, "the result")}
        except protocol.NotPlainData as e:
            return {"ok": False, "kind": protocol.Kind.UNSENDABLE, "type_name": e.type_name, "where": e.where}

    def instrument(self, msg: dict) -> dict:
        """The grader's own instruments on a handle: watch a method's calls ("spy"), read what was watched
        ("spied"), or swap in one of the grader's methods ("grader_method"). Runs no student code but getattr."""
        obj = self.handles.get(int(msg.get("handle") or 0))
        if obj is None:
            return {"ok": False, "kind": protocol.Kind.MISSING, "message": "the object handle is no longer valid"}
        name, key = str(msg["name"]), (int(msg["handle"]), str(msg["name"]))
        if msg["op"] == protocol.Op.SPIED:
            return {"ok": True, "value": protocol.encode_value(self.watched.get(key, []), [], "the calls")}
        if msg["op"] == protocol.Op.GRADER_METHOD:
            attributes = [str(a) for a in msg.get("attributes") or ()]
            options = {str(k): float(v) for k, v in (msg.get("options") or {}).items()}
            kind = str(msg["method"])
            standin = functools.partial(self.computed[kind], **options) if kind in self.computed else \
                standins.method(self.ask, kind, attributes, options, int(msg.get("arguments") or 0))
            setattr(obj, name, types.MethodType(standin, obj))
            return {"ok": True, "value": None}
        try:
            method = getattr(obj, name)
        except AttributeError:
            return {"ok": False, "kind": protocol.Kind.MISSING, "message": f"{type(obj).__name__} has no method `{name}`"}
        calls = self.watched[key] = []

        def watched(*args: Any, **kwargs: Any) -> Any:
            calls.append(_call_summary(args))
            return method(*args, **kwargs)
        setattr(obj, name, watched)
        return {"ok": True, "value": None}

    @contextlib.contextmanager
    def standing_in(self, names: Any) -> Iterator[None]:
        """The notebook's functions `names` replaced by the grader's own (answered by the grader, see standins.py)
        while one request runs, so a method that calls them is judged apart from them; put back however the
        request ends. Only those globals: the area that grades `relu(x)` grades the global, so a helper of the
        student's own (a method `self.relu`) is part of the code under test and stays."""
        saved = {}
        for name in names if isinstance(names, (list, tuple)) else ():
            name = str(name)
            if name in self.ns:
                saved[name] = self.ns[name]
                self.ns[name] = standins.function(self.ask, name)
        try:
            yield
        finally:
            self.ns.update(saved)

    def ask(self, name: str, args: tuple, kwargs: dict, attributes: dict, options: dict) -> tuple[Any, dict]:
        """A stand-in's call answered by the grader: the arguments go back over the channel as a callback inside
        the running request, and the grader's value (and attributes to set) come back. The request's time limit waits
        until both frames have crossed, so it never cuts one in half (the grader's own deadline still bounds the
        exchange); only the process's main thread may ask, so two exchanges never interleave."""
        if self.channel is None or os.getpid() != self.channel[2] or \
                threading.current_thread() is not threading.main_thread():
            raise StandinRefused(f"the grader's own {name} can only be called from the grader's own request")
        blobs: list[bytes] = []
        payload = protocol.encode_value([list(args), kwargs, attributes, options], blobs, "the arguments")
        rfd, wfd, _ = self.channel
        _Clock.exchanging = True
        try:
            protocol.send(wfd, {"op": protocol.Op.CALLBACK, "name": name, "args": payload}, blobs)
            answer, answer_blobs = protocol.receive(rfd, max_json=protocol.MAX_MESSAGE_BYTES)
        finally:
            _Clock.exchanging = False
        if _Clock.pending:
            _Clock.pending = False
            raise TimeLimitExceeded()
        return answered(name, answer, answer_blobs)

    def _bare(self, cls: Any, label: str, attributes: dict) -> dict:
        """An instance made without running __init__, with the given attributes: the grader's way to test the other
        methods of a class whose constructor fails."""
        if not isinstance(cls, type):
            return {"ok": False, "kind": protocol.Kind.MISSING, "message": f"{label} is not a class"}
        obj = cls.__new__(cls)
        for name, value in attributes.items():
            setattr(obj, str(name), value)
        handle = next(self.next_handle)
        self.handles[handle] = obj
        return {"ok": True, "handle": handle, "type": type(obj).__name__}

    def defined(self) -> dict:
        kinds = {}
        for name, value in list(self.ns.items()):
            if not name.startswith("_"):
                kinds[name] = _kind(value)
        return {"ok": True, "value": {"d": [[k, v] for k, v in kinds.items()]}}

    def seed(self, value: int) -> dict:
        """Seed random and numpy, and make unseeded default_rng() deterministic (derived from the seed)."""
        random.seed(value)
        np.random.seed(value % 2**32)
        counter = itertools.count()

        def default_rng(seed: Any = None) -> np.random.Generator:
            if seed is None:
                seed = np.random.SeedSequence([value % 2**64, next(counter)])
            return _ORIGINAL_DEFAULT_RNG(seed)

        previous = np.random.default_rng
        np.random.default_rng = default_rng
        for name, obj in list(self.ns.items()):
            if obj is previous or obj is _ORIGINAL_DEFAULT_RNG:  # `from numpy.random import default_rng`
                self.ns[name] = default_rng
        return {"ok": True, "value": None}


def computed_standins(path: str | None) -> dict[str, Callable[..., Any]]:
    """The assignment's stand-ins from its file (standins.computed), whose frames tracebacks leave out like ours."""
    if path and os.path.abspath(path) not in _WORKER_FILES:
        _WORKER_FILES.append(os.path.abspath(path))
    return standins.computed(path)


class StandinRefused(RuntimeError):
    """The grader would not answer a stand-in's call (not this test's, or arguments it cannot take)."""

    __module__ = "__main__"  # named as in the sandbox (where this file is __main__), also by the in-process check


def answered(name: str, answer: dict, blobs: list[bytes]) -> tuple[Any, dict]:
    """The grader's answer to a stand-in's call: (value, attributes to set), or its refusal raised."""
    if answer.get("op") != protocol.Op.ANSWER or "error" in answer:
        raise StandinRefused(str(answer.get("error", f"the grader did not answer {name}"))[:2000])
    value, updates = protocol.decode_value(answer["value"], blobs)
    return value, dict(updates)


def _call_summary(args: tuple) -> list:
    """[rows of the first argument, its first row's first entries]: enough to count batches and see their order."""
    first = args[0] if args else None
    if not isinstance(first, np.ndarray) or first.ndim == 0 or first.dtype.kind not in "biuf":
        return [-1, []]
    head = first[0].ravel()[:4].astype(float).tolist() if len(first) else []
    return [int(first.shape[0]), head]


def _exec(source: str, filename: str, ns: dict) -> dict:
    code = compile(source, filename, "exec", dont_inherit=True)  # not this file's `from __future__ import annotations`
    exec(code, ns)  # noqa: S102 - running the student's code is the point
    return {"ok": True}


IMPORTS_CELL_CHARS = 20_000  # longer cells are not looked at: an imports cell is short
IMPORTS_GC_THRESHOLD = 100_000  # allocations between young-generation collections while a cell only imports
_QUIET_STATEMENTS = (ast.Import, ast.ImportFrom, ast.Pass)


def imports_only(source: str) -> bool:
    """A cell of import statements (and comments, docstrings, neutralised magics): a notebook's first cell."""
    if len(source) > IMPORTS_CELL_CHARS:
        return False
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # the cell reports its own error when it runs
    return bool(body) and all(isinstance(node, _QUIET_STATEMENTS) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


class _FewerCollections:
    """While a cell only imports, collect the young generation every 100,000 allocations instead of every 700.
    Loading scikit-learn or matplotlib creates hundreds of thousands of lasting objects and next to no garbage,
    and the collector spent a fifth of that time walking them. Garbage is still collected, the collector's on/off
    state is the notebook's own, and a threshold the notebook set meanwhile stays."""

    def __init__(self, active: bool) -> None:
        self.saved = gc.get_threshold() if active else None
        self.raised: tuple[int, ...] | None = None

    def __enter__(self) -> "_FewerCollections":
        if self.saved is not None:
            self.raised = (max(self.saved[0], IMPORTS_GC_THRESHOLD), *self.saved[1:])
            gc.set_threshold(*self.raised)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.raised is not None and gc.get_threshold() == self.raised:
            gc.set_threshold(*self.saved)


def _kind(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return "module"
    if isinstance(value, type):
        return "class"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return "function"
    return "data" if protocol.is_plain(value) else "other"


def describe(exc: BaseException) -> dict:
    """exc_type, a one-line message and a traceback trimmed to the student's cells ("Cell [7], line 12")."""
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename not in _WORKER_FILES])
    te.__cause__ = te.__context__ = None
    if isinstance(exc, TimeLimitExceeded):
        exc_type, last = "TimeoutError", "TimeoutError: the time limit was reached here"
    else:
        exc_type = type(exc).__name__
        only = "".join(te.format_exception_only()).strip().splitlines()
        last = only[-1] if only else exc_type
    lines = list(te.format())
    if isinstance(exc, TimeLimitExceeded):
        lines[-1] = last + "\n"
    text = re.sub(r'File "(Cell \[\d+\])", line', r"\1, line", "".join(lines))
    return {"exc_type": exc_type, "message": last[:2000], "traceback": text[-20000:]}


def _tame_pyplot() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and not getattr(plt.show, "_grader_tamed", False):
        def show(*args: Any, **kwargs: Any) -> None:
            plt.close("all")  # like the inline backend: the figure is "shown" and released
        show._grader_tamed = True
        plt.show = show


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # a student's broken figure must not stop the notebook
            pass


class _NoIPython:
    """What get_ipython() returns: every magic or shell call is a no-op."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _seed_matplotlib(seed: str, config_dir: str) -> None:
    """Copy the grader's prebuilt font list into this sandbox's own MPLCONFIGDIR, so matplotlib need not scan the
    system's fonts again; without it matplotlib simply builds the list itself."""
    try:
        os.makedirs(config_dir, exist_ok=True)
        for name in os.listdir(seed):
            target = os.path.join(config_dir, name)
            if name.startswith("fontlist-v") and name.endswith(".json") and not os.path.exists(target):
                with open(os.path.join(seed, name), "rb") as src, open(target, "xb") as dst:
                    dst.write(src.read())
    except OSError:
        pass


def setup(cfg: dict) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("MPLCONFIGDIR", "/tmp/matplotlib")
    if cfg.get("mpl_seed"):
        _seed_matplotlib(str(cfg["mpl_seed"]), os.environ["MPLCONFIGDIR"])
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(_WORKER_FILES[0])]
    sys.path[:0] = [os.getcwd()]  # Jupyter puts the notebook's folder first
    sys.argv[:] = [os.path.join(os.getcwd(), "notebook")]  # argparse in a script must not see our config
    builtins.display = lambda *args, **kwargs: None
    builtins.get_ipython = _NoIPython
    warnings.filterwarnings("ignore", message=".*(non-interactive|non-GUI backend).*")
    for fd in (cfg["rfd"], cfg["wfd"]):
        os.set_inheritable(fd, False)  # the student's subprocesses must not hold the channel
    if cfg.get("nproc"):  # in the sandbox's own user namespace this counts only the sandbox's processes
        import resource  # POSIX only: the in-notebook check imports this module on Windows too

        hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        n = int(cfg["nproc"]) if hard == resource.RLIM_INFINITY else min(int(cfg["nproc"]), hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def _returning(value: Any) -> Callable[..., Any]:
    """A stand-in method that returns the grader's value: isolates one method from a bug in another it calls."""
    def method(*args: Any, **kwargs: Any) -> Any:
        return value
    return method


def _graders_conditions(fn: Callable[[], dict]) -> dict:
    """Every request sees numpy's default error handling and every RuntimeWarning, whatever the notebook set,
    so an overflow shows up on each call and not only the first time its line runs."""
    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
        warnings.simplefilter("always", RuntimeWarning)
        return fn()


def dispatch(worker: Worker, msg: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    op = msg.get("op")
    if op == protocol.Op.CELL:
        return worker.run_cell(msg), []
    if op in (protocol.Op.CALL, protocol.Op.NEW, protocol.Op.GET, protocol.Op.SET, *INSTRUMENTS):
        return worker.request(msg, blobs)
    if op == protocol.Op.DEFINED:
        return worker.defined(), []
    if op == protocol.Op.SEED:
        return worker.seed(int(msg["value"])), []
    if op in (protocol.Op.PING, protocol.Op.STOP):
        return {"ok": True, "value": None}, []
    return {"ok": False, "kind": protocol.Kind.INTERNAL, "message": f"unknown request {op!r}"}, []


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    setup(cfg)
    gc.enable()
    worker = Worker(int(cfg.get("output_bytes", 65536)), standins_file=cfg.get("standins"))
    if cfg.get("seed") is not None:
        worker.seed(int(cfg["seed"]))
    rfd, wfd, pid = cfg["rfd"], cfg["wfd"], os.getpid()
    worker.channel = (rfd, wfd, pid)
    limit = int(cfg.get("max_message_bytes", protocol.MAX_MESSAGE_BYTES))
    protocol.send(wfd, {"op": protocol.Op.READY, "pid": pid})
    while True:
        msg, blobs = protocol.receive(rfd, max_json=protocol.MAX_MESSAGE_BYTES)  # cell sources may be long
        try:
            reply, out = dispatch(worker, msg, blobs)
        except Exception as e:  # a malformed request or a bug here; the grader reports it
            reply, out = {"ok": False, "kind": protocol.Kind.INTERNAL, "message": f"{type(e).__name__}: {e}"[:2000]}, []
        if os.getpid() != pid:
            os._exit(0)  # a child the student forked came back from the cell: only the worker itself may answer
        frame = protocol.pack({**reply, "id": msg.get("id")}, out)
        if len(frame) > limit:
            frame = protocol.pack({"ok": False, "kind": protocol.Kind.TOO_LARGE, "size": len(frame), "id": msg.get("id")})
        protocol.send_frame(wfd, frame)
        if msg.get("op") == protocol.Op.STOP:
            os._exit(0)


if __name__ == "__main__":
    main(sys.argv)

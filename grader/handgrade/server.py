"""The hand-grading app's HTTP side: a standard-library server on 127.0.0.1 that answers only requests that carry
its token and name it by its own host.

Every URL starts with /<token>/, compared in constant time; without it the answer is 403 and a sentence saying
why. A Host header other than 127.0.0.1:PORT or localhost:PORT is refused too (a page on another site that
rebinds its name to this machine cannot reach the app). Changes are POSTs of JSON that repeat the token (a form
on another site can send neither), and every answer carries a strict Content-Security-Policy: the page runs only
its own script, and everything from a submission reaches it escaped (the answer's Markdown as fixed tags around
escaped text, its MathML through an allowlist).
"""

from __future__ import annotations

import hmac
import json
import sqlite3
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from grader.handgrade.exchange import comment_text
from grader.handgrade.fields import Problem, bad, flag, number, text, whole
from grader.handgrade.render import render_markdown
from grader.handgrade.session import Session
from grader.handgrade.store import Conflict, Grade, Refused, StoreError

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MAX_BODY = 64 * 1024
DISCARD = 1024 * 1024  # an oversized body is read and dropped up to this much, so the browser sees the refusal
TIMEOUT = 30.0  # seconds a connection may sit idle or trickle its request
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
          "index.html": "text/html; charset=utf-8"}
NO_TOKEN = ("403 Forbidden: this hand-grading server answers only the URL with its token, as `hand-grade` printed "
            "it (http://127.0.0.1:PORT/TOKEN/). Copy that whole line from its terminal.")


def _static(name: str) -> bytes:
    return resources.files("grader.handgrade").joinpath("static", name).read_bytes()


class App:
    """The routes, on one Session. Each returns a JSON-able dict or raises Problem, Refused or Conflict."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def _sub(self, key: object):
        sub = self.s.by_key.get(key) if isinstance(key, str) else None
        if sub is None:
            raise Problem(HTTPStatus.NOT_FOUND, "no such submission (the batch changed? reload the page)")
        return sub

    def _item(self, item: object):
        if not isinstance(item, str):
            raise bad("item", "text", item)
        return self.s.store.item(item)

    def _grade(self, g: Grade) -> dict:
        return {"points": g.points, "typed": g.typed, "comment": g.comment, "applied": list(g.applied),
                "version": g.version, "feedback": comment_text(self.s.store, g)}

    def _rubric(self, item: str) -> list[dict]:
        return [{"id": r.id, "text": r.text, "delta": r.delta, "version": r.version}
                for r in self.s.store.rubric(item)]

    def state(self, query: dict) -> dict:
        store = self.s.store
        items = [{"id": i.id, "title": i.title, "max": i.max_points, "start": store.start(i.id),
                  "rubric": self._rubric(i.id),
                  "graded": [s.key for s in self.s.subs if store.grade(s.student, i.id).points is not None]}
                 for i in self.s.items]
        subs = [{"key": s.key, "number": s.number, "status": s.status} for s in self.s.subs]
        return {"batch": self.s.out.name, "items": items, "subs": subs, "status": self.s.status}

    def grade(self, query: dict) -> dict:

        sub, item = self._sub(query.get("key")), self._item(query.get("item"))
        reveal = query.get("reveal") == "1"
        answer, note = sub.answer(item, reveal)
        reply = {"key": sub.key, "number": sub.number, "graded_by": sub.status, "note": note,
                 "answer": render_markdown(answer.text) if answer and answer.text.strip() else "",
                 "grade": self._grade(self.s.store.grade(sub.student, item.id)), "rubric": self._rubric(item.id)}
        if reveal:
            reply["name"] = sub.student
        return reply

    def status(self, query: dict) -> dict:
        return {"status": self.s.status}

    def post_grade(self, body: dict) -> dict:
        sub, item = self._sub(body.get("key")), self._item(body.get("item"))
        g = self.s.store.set_grade(sub.student, item.id, whole(body, "version"),
                                   number(body.get("points"), "points"), text(body, "comment", ""))
        return self._changed({"grade": self._grade(g)})

    def post_apply(self, body: dict) -> dict:
        sub, item = self._sub(body.get("key")), self._item(body.get("item"))
        g = self.s.store.toggle(sub.student, item.id, whole(body, "version"), whole(body, "rubric"),
                                flag(body, "on"))
        return self._changed({"grade": self._grade(g)})

    def post_rubric(self, body: dict) -> dict:
        item = self._item(body.get("item"))
        rid = whole(body, "id", optional=True)
        delta = number(body.get("delta"), "the change")
        version = 0 if rid is None else whole(body, "version")
        self.s.store.save_rubric(item.id, rid, version, text(body, "text"), 0.0 if delta is None else delta)
        return self._changed({"rubric": self._rubric(item.id)})

    def post_rubric_delete(self, body: dict) -> dict:
        item = self._item(body.get("item"))
        self.s.store.delete_rubric(item.id, whole(body, "id"), whole(body, "version"))
        return self._changed({"rubric": self._rubric(item.id)})

    def post_start(self, body: dict) -> dict:
        item = self._item(body.get("item"))
        self.s.store.set_start(item.id, text(body, "start"))
        return self._changed({"start": self.s.store.start(item.id)})

    def post_publish(self, body: dict) -> dict:
        done = self.s.wait(self.s.publish())
        return {"status": self.s.status if done else "still updating the files"}

    def _changed(self, reply: dict) -> dict:
        self.s.publish()
        return {**reply, "status": self.s.status}

    GET = {"api/state": state, "api/grade": grade, "api/status": status}
    POST = {"api/grade": post_grade, "api/apply": post_apply, "api/rubric": post_rubric,
            "api/rubric/delete": post_rubric_delete, "api/start": post_start, "api/publish": post_publish}


class Handler(BaseHTTPRequestHandler):
    """Checks host and token, then hands the route to App; every reply gets the security headers."""

    server_version = "hand-grade"
    timeout = TIMEOUT  # a client that stops sending is dropped, not waited for
    sys_version = ""
    app: App
    token: str
    hosts: frozenset[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the URLs hold the token: not logged
        pass

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        for name, value in (("Content-Type", kind), ("Content-Length", str(len(body))),
                            ("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"),
                            ("Cache-Control", "no-store"), ("Cross-Origin-Resource-Policy", "same-origin")):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, data: dict) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _route(self) -> str:
        """The path after /<token>/, once host and token are checked."""
        if self.headers.get("Host", "") not in self.hosts:
            raise Problem(HTTPStatus.FORBIDDEN, f"403 Forbidden: host {self.headers.get('Host', '')[:80]!r} is not "
                          "this server's; open it as http://127.0.0.1:PORT/ (a page that renamed itself to this "
                          "machine is refused)")
        _, given, rest = (urlsplit(self.path).path + "/").split("/", 2)
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise Problem(HTTPStatus.FORBIDDEN, NO_TOKEN)
        return rest.rstrip("/")

    def _refuse(self, exc: Exception) -> None:
        if isinstance(exc, Problem):
            status = exc.status
        else:
            status = HTTPStatus.CONFLICT if isinstance(exc, Conflict) else HTTPStatus.BAD_REQUEST
        if "api/" in self.path:
            self._json(status, {"error": str(exc)})
        else:
            self._send(status, (str(exc) + "\n").encode(), "text/plain; charset=utf-8")

    def _answer(self, reply) -> None:
        """Run one request's handling; every failure becomes a reply that says what went wrong."""
        try:
            reply()
        except (Problem, Refused, Conflict, StoreError) as exc:
            self._refuse(exc)
        except sqlite3.OperationalError as exc:  # locked past the wait, disk full, file gone
            self._refuse(Problem(HTTPStatus.SERVICE_UNAVAILABLE, f"the hand grades database could not be used "
                                 f"({exc}); nothing was changed: try again"))
        except ValueError as exc:  # a request line or query that cannot be read
            self._refuse(Problem(HTTPStatus.BAD_REQUEST, f"a malformed request: {str(exc)[:200]}"))
        except Exception as exc:  # noqa: BLE001 - a clear 500 instead of a dropped connection
            traceback.print_exc(file=sys.stderr)
            self._refuse(Problem(HTTPStatus.INTERNAL_SERVER_ERROR, f"the server failed on this request "
                                 f"({type(exc).__name__}: {str(exc)[:200]}); see its terminal"))

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self._answer(self._get)

    def _get(self) -> None:
        route = self._route()
        if not route and not urlsplit(self.path).path.endswith("/"):  # the page's own links are relative
            self.send_response(HTTPStatus.PERMANENT_REDIRECT)
            self.send_header("Location", f"/{self.token}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route in ("", "app.js", "app.css"):
            name = route or "index.html"
            self._send(HTTPStatus.OK, _static(name), STATIC[name])
        elif route in App.GET:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            self._json(HTTPStatus.OK, App.GET[route](self.app, query))
        else:
            raise Problem(HTTPStatus.NOT_FOUND, f"404: no page {route[:80]!r} here")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _post(self) -> None:
        route = self._route()
        body = self._body()
        token = body.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
            raise Problem(HTTPStatus.FORBIDDEN, "403 Forbidden: a change must repeat the token in its body")
        if route not in App.POST:
            raise Problem(HTTPStatus.NOT_FOUND, f"404: no action {route[:80]!r} here")
        self._json(HTTPStatus.OK, App.POST[route](self.app, body))

    def _body(self) -> dict:
        origin = self.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in self.hosts:
            raise Problem(HTTPStatus.FORBIDDEN, "403 Forbidden: a change from another site's page")
        if self.headers.get_content_type() != "application/json":
            raise Problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "a change is sent as application/json")
        given = (self.headers.get("Content-Length") or "0").strip()
        length = int(given) if given.isdigit() else -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            left = min(length, DISCARD)  # read what is sent, within a bound, so the browser sees the reply
            while left > 0 and self.rfile.read(min(65536, left)):
                left -= 65536
            raise Problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else HTTPStatus.BAD_REQUEST,
                          f"a change is 1 to {MAX_BODY} bytes of JSON with a Content-Length")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deeply
            raise Problem(HTTPStatus.BAD_REQUEST, f"a change is a JSON object; this body is not JSON "
                          f"({str(exc)[:120]})") from None
        if not isinstance(body, dict):
            raise Problem(HTTPStatus.BAD_REQUEST, "a change is a JSON object")
        return body


def make_server(session: Session, token: str, port: int) -> ThreadingHTTPServer:
    """Bound to 127.0.0.1 only; port 0 takes a free one (server.server_address says which)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    bound = server.server_address[1]
    handler = type("BoundHandler", (Handler,), {"app": App(session), "token": token,
                                                 "hosts": frozenset({f"127.0.0.1:{bound}", f"localhost:{bound}"})})
    server.RequestHandlerClass = handler
    return server

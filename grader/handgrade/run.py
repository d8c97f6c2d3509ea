"""The `hand-grade` verb: open the batch, start the server on 127.0.0.1, print the URL, serve until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import sys
import webbrowser
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    """What `hand-grade` was asked to do. browser: "auto" (open one where there is a display), "open", "no"."""

    out: Path
    rubric: Path | None = None
    port: int = 0
    browser: str = "auto"
    import_csv: Path | None = None
    discard_csv: bool = False
    times: Path | None = None


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(opts: Options) -> int:
    from grader.errors import ConfigError
    from grader.grading.rubric import load_rubric
    from grader.handgrade.server import make_server
    from grader.handgrade.session import Session

    if not 0 <= opts.port <= 65535:
        raise ConfigError(f"--port {opts.port}: a port is 0 (any free one) to 65535")
    session = Session(opts.out, load_rubric(opts.rubric), import_csv=opts.import_csv, discard_csv=opts.discard_csv,
                      times=opts.times)
    try:
        token = secrets.token_urlsafe(24)
        try:
            server = make_server(session, token, opts.port)
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1:{opts.port}: {exc.strerror}; try --port 0") from None
        url = f"http://127.0.0.1:{server.server_address[1]}/{token}/"
        try:  # from the moment the URL is out, Ctrl-C or SIGTERM is a clean stop
            print(f"hand grading {len(session.subs)} submissions x {len(session.items)} items of {opts.out}\n"
                  f"open: {url}\n(only this URL works; Ctrl-C stops the server, every change is already saved)",
                  flush=True)
            if opts.browser == "open" or (opts.browser == "auto" and _has_display()):
                if not webbrowser.open(url) and opts.browser == "open":
                    print("could not start a browser: open the URL above yourself", file=sys.stderr)
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        server.server_close()
    finally:
        print("stopping: bringing the files up to date...", flush=True)
        session.close()
    if session.csv_edited:  # said when it was found; again, as the last thing the TA reads
        print(f"stopped; {session.csv_edited}", file=sys.stderr)
    else:
        print(f"stopped; {session.status}: {opts.out / 'hand_grades.csv'}, the LMS files and the feedback pages")
    return 0

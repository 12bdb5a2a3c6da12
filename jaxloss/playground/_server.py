"""The playground's local web server (private): the pages, the JSON API and the training stream.

Python's standard ``http.server`` (one thread per connection), bound to 127.0.0.1 only. Every request
must name this server in its ``Host`` header and, when it has one, its ``Origin``: a page of another
site (or a DNS-rebinding name resolving to 127.0.0.1) gets 403. POST bodies are JSON of at most
64 KiB; every value goes through ``_state`` and is answered, when wrong, with HTTP 400 and
``{"error": message}``, which the page shows while the server keeps running. Training frames go to
the page as server-sent events (``GET /api/train/stream``).
"""

from __future__ import annotations

import functools
import http.server
import importlib.resources
import json
import re
import secrets
import sys
import threading
import time
import traceback
import urllib.parse
from typing import Any

from jaxloss.playground import _anatomy, _catalog, _data, _session, _state
from jaxloss.playground._state import AnatomyState, TrainState

MAX_BODY = 64 * 1024
#: At most this many frames per second while playing (each frame runs ``steps_per_frame`` steps).
MAX_FPS = 40
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json"}
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'")


class Rejected(Exception):
    """A request answered with an HTTP error status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_INCLUDE = re.compile(rb"^[ \t]*<!--#include (_[\w.-]+)-->\n", re.M)
_LEADING_COMMENT = re.compile(rb"\A<!--.*?-->\n", re.S)   # a part's own note, not served


def _static_files() -> dict[str, bytes]:
    """The served files, read once: a page's ``<!--#include _part.html-->`` line is replaced by that part
    (the header both pages share); parts (names starting with ``_``) are not served themselves."""
    folder = importlib.resources.files("jaxloss.playground") / "static"
    files = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")}
    parts = {name: _LEADING_COMMENT.sub(b"", body) for name, body in files.items() if name.startswith("_")}
    return {name: _INCLUDE.sub(lambda m: parts[m.group(1).decode()], body) for name, body in files.items()
            if not name.startswith("_")}


@functools.cache
def catalog() -> dict[str, Any]:
    """What the pages offer (``GET /api/catalog``), read from the registry and the state's vocabularies."""
    tasks = list(_data.PlaygroundTask)
    return {
        "tasks": [str(t) for t in tasks],
        "datasets": [{"name": d.name, "task": str(d.task), "label": d.label, "classes": d.classes}
                     for d in _data.DATASETS],
        "losses": {str(t): [_catalog.describe(e, t) for e in _catalog.losses(t)] for t in tasks},
        "anatomy": {axis: [_catalog.describe(e, None) for e in _state.anatomy_losses(axis)] for axis in _state.AXES},
        "axis_labels": _anatomy.LABELS,
        "metrics": {str(t): list(_catalog.METRICS[t]) for t in tasks},
        "optimizers": list(_state.OPTIMIZERS), "activations": list(_state.ACTIVATIONS),
        "regularizations": list(_state.REGULARIZATIONS),
        "features": [{"name": k, "label": label} for k, (label, _) in _data.FEATURES.items()],
        "learning_rates": list(_state.LEARNING_RATES), "regularization_rates": list(_state.REGULARIZATION_RATES),
        "limits": {"max_layers": _state.MAX_LAYERS, "max_neurons": _state.MAX_NEURONS,
                   "max_losses": _state.MAX_LOSSES, **{k: list(v) for k, v in _state.LIMITS.items()}},
        "defaults": {"train": TrainState().__dict__, "anatomy": AnatomyState().__dict__},
    }


def _state_from(cls: type, body: dict, previous: Any = None) -> Any:
    """A state from ``{"state": {...}}``, ``{"hash": "..."}`` or ``{"json": "..."}`` (exactly one)."""
    given = [k for k in ("state", "hash", "json") if k in body]
    if len(given) != 1:
        raise ValueError(f"{cls.WHAT}: send exactly one of 'state' (an object), 'hash' (the URL state) or "
                         f"'json' (an exported file's text); got {sorted(body) or 'nothing'}.")
    key = given[0]
    if key == "state":
        return cls.from_mapping(body["state"], previous=previous)
    if not isinstance(body[key], str):
        raise ValueError(f"{cls.WHAT}: {key!r} must be a string.")
    return cls.from_hash(body[key]) if key == "hash" else cls.from_json(body[key])


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)

    # -- answers ---------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, *, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", _CSP)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- checks ----------------------------------------------------------------------------------

    def _check_origin(self) -> None:
        port = self.server.server_address[1]
        allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
        host = self.headers.get("Host", "")
        if host not in allowed:
            raise Rejected(403, f"this server answers requests for 127.0.0.1:{port} only, not Host {host!r}.")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{a}" for a in allowed}:
            raise Rejected(403, f"requests from another site ({origin}) are refused.")

    def _body(self) -> dict:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise Rejected(415, "send JSON with Content-Type: application/json.")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Rejected(411, "a POST needs a Content-Length.") from None
        if not 0 <= length <= MAX_BODY:
            raise Rejected(413, f"the request body is over {MAX_BODY // 1024} KiB.")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise Rejected(400, f"the request body is not valid JSON ({err}).") from None
        if not isinstance(body, dict):
            raise Rejected(400, "the request body must be a JSON object.")
        return body

    def _guarded(self, work: Any) -> None:
        try:
            self._check_origin()
            work()
        except Rejected as err:
            if self.command == "POST":  # the body may be unread: never parse it as the next request
                self.close_connection = True
            self._error(err.status, str(err))
        except (ValueError, KeyError, TypeError) as err:
            self._error(400, str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # the server keeps running; the page shows what went wrong
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error: {type(err).__name__}: {err}")

    # -- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802  (the base class's name)
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _get(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/":
            self.send_response(302)
            self.send_header("Location", "/train")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon", cache="max-age=86400")
        elif path in ("/train", "/anatomy"):
            self._static(path[1:] + ".html")
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path == "/api/catalog":
            self._json(200, catalog())
        elif path == "/api/train/stream":
            query = urllib.parse.parse_qs(url.query)
            self._stream(self.server.sessions.get(query.get("session", [None])[0]))
        else:
            raise Rejected(404, f"nothing at {path}.")

    def _static(self, name: str) -> None:
        files = self.server.files
        if name not in files:
            raise Rejected(404, f"no file {name!r}.")
        suffix = "." + name.rsplit(".", 1)[-1]
        self._send(200, files[name], _TYPES.get(suffix, "application/octet-stream"), cache="no-cache")

    def _post(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        sessions = self.server.sessions
        if path == "/api/train/state":
            s = _state_from(TrainState, body)
            self._json(200, {"state": s.__dict__, "hash": s.to_hash()})
        elif path == "/api/train/session":
            s = _state_from(TrainState, body)
            key = secrets.token_urlsafe(12)
            sessions.add(key, _session.Session(s))
            self._json(200, {"session": key, "state": s.__dict__, "hash": s.to_hash()})
        elif path == "/api/train/update":
            session = sessions.get(body.pop("session", None))
            s = _state_from(TrainState, body, previous=session.state)
            reset = session.update(s)
            self._json(200, {"state": s.__dict__, "hash": s.to_hash(), "reset": reset})
        elif path == "/api/train/control":
            session = sessions.get(body.get("session"))
            self._json(200, session.control(body.get("action")))
        elif path == "/api/anatomy/state":
            a = _state_from(AnatomyState, body)
            self._json(200, {"state": a.__dict__, "hash": a.to_hash()})
        elif path == "/api/anatomy":
            a = _state_from(AnatomyState, body)
            self._json(200, {"state": a.__dict__, "hash": a.to_hash(), **_anatomy.answer(a)})
        else:
            raise Rejected(404, f"nothing at {path}.")

    # -- the training stream ---------------------------------------------------------------------

    def _event(self, name: str, payload: Any) -> None:
        data = json.dumps(payload, allow_nan=False, separators=(",", ":"))
        self.wfile.write(f"event: {name}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _stream(self, session: _session.Session) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        with session.changed:
            session.stream_token += 1  # a newer stream (a reloaded page) takes the session over
            token = session.stream_token
            session.send_data = True
        last_version, last_frame = -1, 0.0

        def idle() -> bool:  # nothing to show: paused, no step asked for, nothing changed since the last frame
            return not session.playing and not session.pending_steps and session.version == last_version

        while not self.server.stopping.is_set():
            with session.changed:
                if idle() and token == session.stream_token:
                    session.changed.wait(timeout=5.0)
                if token != session.stream_token:
                    return
                work = None
                if not idle():
                    last_version = session.version
                    count = session.state.steps_per_frame * (1 if session.playing else session.pending_steps)
                    session.pending_steps = 0
                    work = session.take(count)
            if work is None:
                self.wfile.write(b": still here\n\n")  # finds a closed page
                self.wfile.flush()
                continue
            done = _session.compute(work)  # without the lock: the page's requests go on meanwhile
            with session.changed:
                frame = session.commit(work, done)
                problem, session.problem = session.problem, ""
                if frame is None:  # reset meanwhile: compute the new run's frame
                    last_version = -1
                    continue
            self._event("frame", frame)
            if problem:
                self._event("problem", {"error": problem})
            if frame["playing"]:
                wait = last_frame + 1.0 / MAX_FPS - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                last_frame = time.perf_counter()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the page went away (a closed tab, a reload): nothing to report
        super().handle_error(request, client_address)

    def __init__(self, port: int, verbose: bool) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.verbose = verbose
        self.sessions = _session.Sessions()
        self.files = _static_files()
        self.stopping = threading.Event()


class PlaygroundServer:
    """The playground's web server on ``127.0.0.1:port`` (0: a free port).

    ``start()`` serves from a background thread, ``serve_forever()`` from this one (the command line);
    ``stop()`` shuts it down. ``url(page, state=...)`` is a page's address with a URL state.
    """

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"playground: port must be a whole number from 0 to 65535; got {port!r}.")
        self._httpd = _HTTPServer(port, verbose)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, page: str = "train", *, state: str = "") -> str:
        hash_part = ("#" + state.lstrip("#")) if state else ""
        return f"http://127.0.0.1:{self.port}/{page}{hash_part}"

    def start(self) -> PlaygroundServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="jaxloss-playground", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.stopping.set()
            self._httpd.server_close()

    def stop(self) -> None:
        self._httpd.stopping.set()
        with self._httpd.sessions.lock:
            sessions = list(self._httpd.sessions.items.values())
        for session in sessions:
            with session.changed:
                session.changed.notify_all()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> PlaygroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PlaygroundServer({self.url()})"

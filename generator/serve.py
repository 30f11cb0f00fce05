"""`serve`: build, serve site/ on localhost, rebuild on save, reload the open page.

Files are watched with watchfiles. Every HTML page served gets one external script
(allowed by the pages' Content-Security-Policy) that listens on a server-sent event
stream: a good rebuild reloads the page, a failed one shows the located errors over
the page while the last good site keeps being served.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from .build import Project
from .builder import Builder
from .load import EDITOR_FILES

log = logging.getLogger(__name__)
RELOAD_JS = "/__papercat__/reload.js"
EVENTS = "/__papercat__/events"
CLIENT = (Path(__file__).parent / "reload.js").read_bytes()  # served to pages in preview


@dataclass
class BuildState:
    """The latest build outcome, shared between the watcher and the HTTP threads."""

    generation: int = 0
    error: str = ""
    closing: bool = False  # serve is stopping: event streams end

    def __post_init__(self):
        self.changed = threading.Condition()

    def close(self) -> None:
        """End every event stream (serve is stopping)."""
        with self.changed:
            self.closing = True
            self.changed.notify_all()

    def publish(self, error: str) -> None:
        """Record a build outcome and wake every waiting event stream."""
        with self.changed:
            self.generation += 1
            self.error = error
            self.changed.notify_all()


def rebuild(state: BuildState, builder: Builder, changed: Iterable[str] = ()) -> bool:
    """Build once; report to open pages (the builder logs to the terminal). True if it succeeded."""
    report, written = builder.build(changed)
    if report is not None:
        state.publish(report)
        return False
    if written or state.error or not state.generation:
        state.publish("")  # open pages reload (no file changed: nothing to show, no reload)
    return True


class _WatchFilter(watchfiles.DefaultFilter):
    """watchfiles' default filter, and the editor files the build ignores (load.EDITOR_FILES)."""

    def __call__(self, change, path: str) -> bool:
        return super().__call__(change, path) and not EDITOR_FILES.search(os.path.basename(path))


def _with_reload(html: bytes) -> bytes:
    """A page with the reload script added before </body>."""
    return html.replace(b"</body>", f'<script src="{RELOAD_JS}"></script>\n</body>'.encode(), 1)


def make_handler(site_dir: Path, state: BuildState):
    """A request handler serving site_dir with the reload script injected into pages."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site_dir), **kwargs)

        def log_message(self, fmt, *args):
            log.debug(fmt, *args)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == RELOAD_JS:
                return self._send(CLIENT, "text/javascript")
            if path == EVENTS:
                return self._events()
            target = Path(self.translate_path(path))
            if target.is_dir() and path.endswith("/"):
                target = target / "index.html"
            if target.suffix == ".html" and target.is_file():
                return self._send(_with_reload(target.read_bytes()), "text/html; charset=utf-8")
            if not target.exists() and (site_dir / "404.html").is_file():
                return self._not_found()
            return super().do_GET()

        def _not_found(self) -> None:
            """The site's 404 page, as a host shows it, its links (to the site's path on the
            host, base_url's) made to start at this server's root."""
            html = (site_dir / "404.html").read_bytes()
            root = re.search(rb'<html[^>]* data-root="(/[^"]*)"', html)
            if root and root.group(1) != b"/":
                html = re.sub(rb'(href|src|action)="' + re.escape(root.group(1)), rb'\1="/', html)
            self._send(_with_reload(html), "text/html; charset=utf-8", 404)

        def _send(self, body: bytes, ctype: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = state.generation
            try:
                if state.error:
                    self._event("error-report", state.error)
                while True:
                    with state.changed:
                        state.changed.wait_for(
                            lambda s=seen: state.generation != s or state.closing, timeout=15
                        )
                        generation, error = state.generation, state.error
                    if state.closing:
                        return
                    if generation == seen:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                        continue
                    seen = generation
                    self._event("error-report" if error else "reload", error)
            except (BrokenPipeError, ConnectionResetError):
                return

        def _event(self, name: str, data: str) -> None:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

    return Handler


class _Polled:
    """The stop event as watchfiles sees it: watchfiles polls it only once its watches are in
    place, so the first poll sets `watching`."""

    def __init__(self, stop: threading.Event, watching: threading.Event) -> None:
        self.stop, self.watching = stop, watching

    def is_set(self) -> bool:
        self.watching.set()
        return self.stop.is_set()


def watch_loop(
    project: Project, state: BuildState, stop: threading.Event, builder: Builder, watching: threading.Event
) -> None:
    """Rebuild whenever content/ or templates/ change, until `stop` is set; `watching` is set
    once changes are being noticed."""
    for changes in watchfiles.watch(
        project.content,
        project.templates,
        watch_filter=_WatchFilter(),
        stop_event=_Polled(stop, watching),
        debounce=200,
        step=50,
    ):
        rebuild(state, builder, [path for _, path in changes])


def serve(
    project: Project,
    host: str = "127.0.0.1",
    port: int = 8000,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Build, then serve and watch until interrupted (or `stop` is set)."""
    state = BuildState()
    builder = Builder(project)  # before any thread starts (see builder.py)
    try:
        _serve(project, host, port, ready, stop, state, builder)
    finally:
        builder.close()


def _serve(project, host, port, ready, stop, state: BuildState, builder: Builder) -> None:
    project.output.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer((host, port), make_handler(project.output, state))
    server.daemon_threads = True  # bound now: a busy port fails at once; requests wait for the build
    stop, watching = stop or threading.Event(), threading.Event()
    watcher = threading.Thread(target=watch_loop, args=(project, state, stop, builder, watching), daemon=True)
    watcher.start()  # before the first build, so that a save during it is built after it
    try:
        if not watching.wait(30):
            log.warning("the file watcher is slow to start: saves made until it does may not rebuild")
        url = f"http://{host}:{server.server_address[1]}/"
        log.info("building %s; it is served at %s once built", project.output, url)
        rebuild(state, builder)
        # Started before "serving" is said: a Ctrl-C that comes in Thread.start can make Python's
        # threading raise "release unlocked lock" (see __main__.main); in serve_forever it cannot
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
        log.info("serving %s at %s (Ctrl-C to stop)", project.output, url)
        if ready:
            ready.port = server.server_address[1]
            ready.set()
        server.serve_forever()
    finally:
        stop.set()
        builder.close()  # a build running is abandoned (the old site stays): the watcher returns
        state.close()
        server.server_close()
        watcher.join(5)

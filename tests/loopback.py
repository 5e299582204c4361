"""Slack's Web API, its interaction response URLs and webhook receivers on a loopback HTTP server (tests run
offline): records every request and answers as those services do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs


class Loopback(ThreadingHTTPServer):
    """Slack's Web API (/api/...), interaction response URLs (/actions/...) and webhook receivers (/hook/...):
    records every request and answers as they do; ``hook_status`` lists the webhook's next answers."""

    def __init__(self) -> None:
        self.requests: list[SimpleNamespace] = []
        self.hook_status: list[int] = []
        self.slow_post = 0.0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                status, reply = server.answer(self.path, body)
                with server.lock:
                    server.requests.append(
                        SimpleNamespace(path=self.path, headers=dict(self.headers), raw=raw, body=body)
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, body: dict) -> tuple[int, bytes]:
        if path.startswith("/hook/"):
            with self.lock:
                status = self.hook_status.pop(0) if self.hook_status else 200
            return status, b"{}"
        if path == "/api/chat.postMessage":
            time.sleep(self.slow_post)
            with self.lock:
                ts = f"1700000000.{len(self.requests):06d}"
            return 200, json.dumps({"ok": True, "channel": body.get("channel"), "ts": ts}).encode()
        if path.startswith("/api/"):
            return 200, json.dumps({"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}).encode()
        return 200, b"ok"

    def calls(self, path: str) -> list[SimpleNamespace]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def serving() -> Iterator[Loopback]:
    """A ``Loopback`` answering on a thread for the block's duration."""
    server = Loopback()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

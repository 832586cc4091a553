"""A headless Chromium driven over the DevTools protocol on a pipe (no extra packages).

``--remote-debugging-pipe`` makes Chromium read protocol messages from file descriptor 3 and write
them to descriptor 4, each a JSON text ended by a NUL byte. :class:`Chromium` opens a page in a
fresh tab and records what the page did: console messages and exceptions, log entries (a blocked
request is logged there) and every network request.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Chromium", "PageVisit", "find_chromium"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` or the first of the usual names on ``PATH``."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class PageVisit:
    """What one page load produced (:meth:`Chromium.visit`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.session = ""


class Chromium:
    """A headless Chromium process with a DevTools pipe; use as a context manager."""

    def __init__(self, executable: str, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="mollifier-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # runs in the child before exec: the pipe ends onto fds 3 and 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)  # dup2 clears close-on-exec on the new descriptor
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--window-size=1200,900",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            # fds 3 and 4 are made in ``wire``, after close_fds would run; every other descriptor
            # this process opened is close-on-exec (PEP 446), so none leaks into Chromium.
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._send("Browser.close", {}, wait=False)
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from Chromium in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ConnectionError("Chromium closed its DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _send(
        self, method: str, params: dict[str, Any], session: str = "", wait: bool = True
    ) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        if not wait:
            return {}
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _wait_event(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for e in self._events:
                if e["method"] == method and e.get("sessionId") == session:
                    return
            self._events.append(self._read_message(deadline))

    # -- pages --------------------------------------------------------------------------------

    def visit(self, url: str, *, settle: float = 0.3) -> PageVisit:
        """Open ``url`` in a new tab, wait for its load event and record what it did."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self._send(f"{domain}.enable", {}, session)
        self._events.clear()
        self._send("Page.navigate", {"url": url}, session)
        self._wait_event("Page.loadEventFired", session)
        end = time.monotonic() + settle  # let late console messages arrive
        while time.monotonic() < end:
            try:
                self._events.append(self._read_message(end))
            except TimeoutError:
                break
        visit = PageVisit(url)
        visit.session = session
        for e in self._events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                visit.console_errors.append(" ".join(str(a.get("value")) for a in p["args"]))
            elif e["method"] == "Runtime.exceptionThrown":
                visit.console_errors.append(str(p["exceptionDetails"].get("text")))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                visit.console_errors.append(str(p["entry"].get("text")))
            elif e["method"] == "Network.requestWillBeSent":
                visit.requests.append(p["request"]["url"])
        return visit

    def evaluate(self, visit: PageVisit, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (scripts run through DevTools, which the
        page's Content-Security-Policy does not restrict)."""
        reply = self._send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            visit.session,
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, visit: PageVisit, path: Path) -> Path:
        """A PNG of the visible part of the page."""
        data = self._send("Page.captureScreenshot", {"format": "png"}, visit.session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

"""A real headless Chromium driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: commands
on file descriptor 3, replies on 4, each a JSON message ended by a NUL byte). Standard library only: no webdriver,
no server, no network.

    with Browser.start() as b:          # skips the test, saying why, without a chromium binary
        b.open(Path("page.html"))
        b.click("#some-button")         # a real mouse press and release at the element's centre
        b.eval("document.title")
        b.screenshot(Path("shot.png"))
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--allow-file-access-from-files", "--remote-debugging-pipe"]


def chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    """One headless Chromium with one page (a tab) attached."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int, profile: str) -> None:
        self.proc, self.w, self.r, self.profile = proc, to_browser, from_browser, profile
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=True)

    @classmethod
    def start(cls, width: int = 1400, height: int = 1000) -> Browser:
        exe = chromium()
        if exe is None:
            pytest.skip("no chromium binary on PATH (apt-get install -y chromium): the page check needs a real browser")
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        profile = tempfile.mkdtemp(prefix="annokit_chromium_")

        def fds() -> None:
            os.dup2(r1, 3)
            os.dup2(w2, 4)

        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                 "about:blank"], pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        os.close(r1)
        os.close(w2)
        return cls(proc, w1, r2, profile)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            if time.monotonic() > end:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False,
             timeout: float = 120.0) -> dict[str, Any]:
        """Send one protocol command and return its ``result`` (events that arrive meanwhile are kept)."""
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                out: dict[str, Any] = reply.get("result", {})
                return out
            self.events.append(reply)

    def open(self, page: Path, *, timeout: float = 120.0) -> float:
        """Load ``page`` and wait for its load event; returns the seconds it took."""
        self.events.clear()
        t0 = time.perf_counter()
        self.send("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read(timeout))
        return time.perf_counter() - t0

    def eval(self, expression: str, *, timeout: float = 120.0) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); a thrown error fails the test."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                        session=True, timeout=timeout)
        if "exceptionDetails" in res:
            raise AssertionError(f"{expression!r} threw: {res['exceptionDetails']}")
        return res["result"].get("value")

    def click(self, selector: str) -> None:
        """A real left click (mouse pressed and released) at the centre of the first element ``selector`` names,
        scrolled into view first."""
        box = self.eval(f"(()=>{{const e=document.querySelector({json.dumps(selector)});if(!e)return null;"
                        "e.scrollIntoView({block:'center'});const r=e.getBoundingClientRect();"
                        "return [r.left+r.width/2,r.top+r.height/2];})()")
        assert box is not None, f"no element {selector!r} on the page"
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1}, session=True)

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        """A PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params, session=True)["data"]
        path.write_bytes(base64.b64decode(data))

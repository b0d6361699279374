"""Open a page in headless Chromium and report what a person would see go wrong.

Talks the DevTools protocol over a WebSocket (``websocket-client``, a test extra): console errors and
uncaught exceptions (``Runtime``), browser log errors such as a failed image load (``Log``), every
request the page makes (``Network``), then asks the page for its broken ``<img>`` elements and takes a
full-page screenshot.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1280,900")

_BROKEN_IMAGES_JS = """JSON.stringify(Array.from(document.images)
    .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')))"""


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@dataclass
class PageCheck:
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class _Session:
    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float = 60.0) -> int:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not port_file.exists() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit status {process.poll()})")
        time.sleep(0.1)
    return int(port_file.read_text().split()[0])


def check_page(page: Path, screenshot: Path, browser: str | None = None, settle_s: float = 0.5) -> PageCheck:
    """Load ``page`` (a local HTML file) in a fresh headless Chromium profile; save a full-page PNG."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError("no chromium found")
    with tempfile.TemporaryDirectory(prefix="uhr4k-chromium-") as profile:
        process = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = _devtools_port(Path(profile), process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
                target = next(t for t in json.load(r) if t["type"] == "page")
            session = _Session(target["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log", "Network"):
                session.call(f"{domain}.enable")
            session.call("Page.navigate", url=Path(page).resolve().as_uri())
            session.wait_for("Page.loadEventFired")
            time.sleep(settle_s)                       # late console messages
            broken = json.loads(session.call("Runtime.evaluate", expression=_BROKEN_IMAGES_JS)["result"]["value"])
            count = session.call("Runtime.evaluate", expression="document.images.length")["result"]["value"]
            metrics = session.call("Page.getLayoutMetrics")["cssContentSize"]
            shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                                      "scale": 1})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            session.call("Runtime.evaluate", expression="1")   # drain events that arrived meanwhile
            session.ws.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return _summarize(session.events, broken, count)


def _summarize(events: list[dict], broken: list[str], count: int) -> PageCheck:
    check = PageCheck(images=count, broken_images=broken)
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            check.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            check.console_errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            check.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            check.requests.append(params["request"]["url"])
    return check


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")

"""A small Chrome DevTools Protocol driver over aiohttp's websocket client, for e2e and screenshots.

Chosen over selenium + chromedriver: no extra dependency (aiohttp is already o2's HTTP stack), it
runs on the test's own event loop next to the store writes, and in-page promises let a test
await a DOM change (MutationObserver) instead of polling, which keeps latency numbers honest.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import signal
import subprocess
import tempfile
from types import TracebackType
from typing import Any

import aiohttp

from procutil import signal_group

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
_WAIT_FOR = """new Promise((resolve, reject) => {
  const check = () => { try { return !!(PREDICATE); } catch (e) { return false; } };
  if (check()) return resolve(true);
  const obs = new MutationObserver(() => {
    if (check()) { obs.disconnect(); resolve(true); }
  });
  const all = { subtree: true, childList: true, characterData: true, attributes: true };
  obs.observe(document, all);
  setTimeout(() => { obs.disconnect(); reject(new Error("timed out: " + PREDICATE_TEXT)); },
             TIMEOUT_MS);
})"""
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CdpError(RuntimeError):
    """A DevTools command failed or a page expression threw."""


class Browser:
    """Headless Chromium in its own session and temp profile, one page, driven over CDP."""

    def __init__(self, *, width: int = 1600, height: int = 1000) -> None:
        self.width = width
        self.height = height
        self.proc: subprocess.Popen[bytes] | None = None
        self._profile = tempfile.TemporaryDirectory(prefix="o2-chromium-")
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.session = ""
        self.console: list[str] = []
        self.exceptions: list[str] = []
        """Uncaught page exceptions: e2e tests assert there are none."""

    async def __aenter__(self) -> Browser:
        binary = find_chromium()
        if binary is None:
            raise CdpError("chromium is not installed (run hack/install-browser.sh)")
        self.proc = self._spawn(binary)
        url = await asyncio.to_thread(self._read_ws_url)
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        await self.send("Runtime.enable")
        await self.send("Page.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return self

    def _spawn(self, binary: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # chromium's helper processes die with it (killpg)
        )

    def _read_ws_url(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            found = _LISTENING.search(raw.decode(errors="replace"))
            if found:
                return found.group(1)
        raise CdpError(f"chromium exited ({self.proc.poll()}) before opening DevTools")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.proc is not None and self.proc.poll() is None:
            signal_group(self.proc.pid, signal.SIGKILL)  # our own session: chromium's helpers
            await asyncio.to_thread(self.proc.wait)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self._profile.cleanup()

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._calls:
                fut = self._calls.pop(data["id"])
                if not fut.done():
                    fut.set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"].get("args", [])
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif data.get("method") == "Runtime.exceptionThrown":
                self.exceptions.append(str(data["params"]["exceptionDetails"]))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = fut
        await self._ws.send_str(json.dumps(message))
        reply = await fut
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, predicate: str, *, within: float = 10.0) -> None:
        """Until the JS expression `predicate` is truthy, re-checked on every DOM mutation."""
        script = (
            _WAIT_FOR.replace("PREDICATE_TEXT", json.dumps(predicate))
            .replace("PREDICATE", predicate)
            .replace("TIMEOUT_MS", str(int(within * 1000)))
        )
        await self.evaluate(script)

    async def text(self, selector: str) -> str | None:
        value = await self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent ?? null"
        )
        return None if value is None else str(value).strip()

    async def click(self, selector: str) -> None:
        """A real mouse click at the element's centre (press and release)."""
        box = await self.evaluate(
            f"""(() => {{ const r = document.querySelector({json.dumps(selector)})
              .getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    async def type_into(self, selector: str, text: str) -> None:
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", text=text)
        await self.evaluate(
            f"document.querySelector({json.dumps(selector)})"
            ".dispatchEvent(new Event('change', {bubbles: true}))"
        )

    async def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        return base64.b64decode(shot["data"])

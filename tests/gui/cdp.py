"""A small Chrome DevTools Protocol driver over aiohttp's websocket client, for e2e and screenshots.

Chosen over selenium + chromedriver: no extra dependency (aiohttp is already o2's HTTP stack), it
runs on the test's own event loop next to the store writes, and in-page promises let a test
await a DOM change (MutationObserver) instead of polling, which keeps latency numbers honest.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from types import TracebackType
from typing import IO, Any

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


class Chromium:
    """One headless Chromium process. Alone it serves one Browser; shared (the session-wide
    `chromium` fixture), each Browser opens its own browser context in it, with cookies, storage
    and cache of its own as a fresh profile has: a Chromium started per test cost seconds of
    startup each."""

    def __init__(self, *, width: int = 1600, height: int = 1000) -> None:
        self.width = width
        self.height = height
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws_url = ""
        self._profile: tempfile.TemporaryDirectory[str] | None = None

    def ensure_started(self) -> str:
        """The DevTools URL; (re)starts the process when it is not running (blocking)."""
        if self.proc is not None and self.proc.poll() is None:
            return self.ws_url
        self.stop()
        binary = find_chromium()
        if binary is None:
            raise CdpError("chromium is not installed (run hack/install-browser.sh)")
        self._profile = tempfile.TemporaryDirectory(prefix="o2-chromium-")
        self.proc = subprocess.Popen(
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
            # its temporary files (a SingletonSocket directory, which only a clean exit removes)
            # in the profile, removed with it: in /tmp, one was left by each kill
            env={**os.environ, "TMPDIR": self._profile.name},
        )
        self.ws_url = self._read_ws_url(self.proc)
        return self.ws_url

    @staticmethod
    def _read_ws_url(proc: subprocess.Popen[bytes]) -> str:
        assert proc.stderr is not None
        for raw in proc.stderr:
            found = _LISTENING.search(raw.decode(errors="replace"))
            if found:
                # read on: a long-lived Chromium writing to a full pipe would block
                threading.Thread(target=_drain, args=(proc.stderr,), daemon=True).start()
                return found.group(1)
        raise CdpError(f"chromium exited ({proc.poll()}) before opening DevTools")

    def stop(self) -> None:
        """Kill the process group (blocking) and remove the profile."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            signal_group(proc.pid, signal.SIGKILL)  # our own session: chromium's helpers
            proc.wait()
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()
        if self._profile is not None:
            _remove(self._profile)
            self._profile = None


def _remove(profile: tempfile.TemporaryDirectory[str]) -> None:
    """Remove the profile. Chromium's helpers die with the group's kill, not at once: one may
    still write a file while it is removed (OSError: directory not empty); then again."""
    for _ in range(40):
        try:
            profile.cleanup()
            return
        except OSError:
            time.sleep(0.05)
    profile.cleanup()


def _drain(stream: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):  # closed by Chromium.stop
        for _ in stream:
            pass


class Browser:
    """One page driven over CDP: in a Chromium of its own, or in its own browser context of a
    shared `chromium`."""

    def __init__(
        self, *, width: int = 1600, height: int = 1000, chromium: Chromium | None = None
    ) -> None:
        self.width = width
        self.height = height
        self._own = chromium is None
        self.chromium = Chromium(width=width, height=height) if chromium is None else chromium
        self._context: str | None = None
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
        url = await asyncio.to_thread(self.chromium.ensure_started)
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        where: dict[str, Any] = {}
        if not self._own:
            self._context = (await self.send("Target.createBrowserContext"))["browserContextId"]
            where = {"browserContextId": self._context, "width": self.width}
            where["height"] = self.height
        target = await self.send("Target.createTarget", url="about:blank", **where)
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context is not None and self._reader is not None and not self._reader.done():
            with contextlib.suppress(CdpError, OSError, TimeoutError):  # dies with the process
                async with asyncio.timeout(10):
                    await self.send("Target.disposeBrowserContext", browserContextId=self._context)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self._own:
            await asyncio.to_thread(self.chromium.stop)

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

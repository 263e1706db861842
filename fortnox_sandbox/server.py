"""Running the sandbox: in a background thread (tests, benchmarks) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from .app import build_app
from .state import SandboxState


class ServerThread(threading.Thread):
    """An aiohttp server on its own event loop in a daemon thread; `port` is set once bound."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(name="fortnox-sandbox", daemon=True)
        self.state = state
        self.host = host
        self.port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(build_app(self.state), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:  # surfaced to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def start_and_wait(self, timeout: float = 10.0) -> None:
        self.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("sandbox server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"sandbox server failed to start: {self._error}") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self.join(timeout)


def serve_forever(state: SandboxState, host: str, port: int, access_log: bool = False) -> None:
    """Run in the foreground until interrupted."""
    web.run_app(
        build_app(state), host=host, port=port, print=None,
        access_log=web.AccessLogger if access_log else None,  # type: ignore[arg-type]
    )

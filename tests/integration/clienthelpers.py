"""Shared by the client's integration tests: run the same test on `Coder` and on `AsyncCoder`."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

from coder_jupyter import AsyncCoder, Coder
from coder_jupyter.testing import FakeCoder


class Blocking:
    """Calls an :class:`AsyncCoder` from sync code: coroutines are awaited, async iterators collected."""

    def __init__(self, coder: AsyncCoder) -> None:
        self._coder = coder
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _wait(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._coder, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if inspect.isasyncgen(result):
                async def collect() -> list[Any]:
                    return [x async for x in result]

                return iter(self._wait(collect()))
            return self._wait(result) if inspect.iscoroutine(result) else result

        return call

    def close(self) -> None:
        self._wait(self._coder.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def open_client(kind: str, fake: FakeCoder, **options: Any) -> Any:
    options.setdefault("token", fake.session_token)
    if kind == "sync":
        return Coder(fake.url, **options)
    return Blocking(AsyncCoder(fake.url, **options))

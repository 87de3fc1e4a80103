"""Progress of a workspace build: a progress bar in a notebook, plain lines in a terminal.

:func:`make_progress` picks the display: ``progress=False`` shows nothing; ``True`` or ``None``
(auto) shows an ipywidgets bar when running inside a Jupyter kernel (``ZMQInteractiveShell``,
which has a frontend to render it) and text lines on stderr everywhere else.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from .models import WorkspaceBuild

__all__ = ["Progress", "make_progress"]

# Rough position of each status on a 0..4 bar (a build is queued, then runs, then ends).
_STEP = {"pending": 1, "starting": 2, "stopping": 2, "deleting": 2, "canceling": 3}


class Progress(Protocol):
    """Receives every state of a build while waiting, then the final one."""

    def update(self, build: WorkspaceBuild, line: str | None = None) -> None: ...
    def close(self, build: WorkspaceBuild, ok: bool) -> None: ...


class _Silent:
    def update(self, build: WorkspaceBuild, line: str | None = None) -> None:
        return None

    def close(self, build: WorkspaceBuild, ok: bool) -> None:
        return None


def _label(build: WorkspaceBuild) -> str:
    return f"{build.workspace_full_name}: {build.transition}"


class _Text:
    """One line per status change (and per new log stage) on a stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._t0 = time.monotonic()
        self._last: tuple[str, str | None] | None = None

    def update(self, build: WorkspaceBuild, line: str | None = None) -> None:
        key = (build.status, line)
        if key != self._last:
            self._last = key
            tail = f" — {line}" if line else ""
            print(f"{_label(build)} … {build.status} ({time.monotonic() - self._t0:.1f}s){tail}",
                  file=self._stream, flush=True)

    def close(self, build: WorkspaceBuild, ok: bool) -> None:
        verdict = "done" if ok else "FAILED"
        print(f"{_label(build)} {verdict}: {build.status} after {time.monotonic() - self._t0:.1f}s",
              file=self._stream, flush=True)


class _Widget:
    """An ``IntProgress`` bar with a label, updated in place."""

    def __init__(self, build: WorkspaceBuild) -> None:
        import ipywidgets
        from IPython.display import display

        self._t0 = time.monotonic()
        self._bar = ipywidgets.IntProgress(value=0, min=0, max=4, description=build.transition,
                                           bar_style="info")
        self._text = ipywidgets.Label(value=_label(build))
        display(ipywidgets.HBox([self._bar, self._text]))  # type: ignore[no-untyped-call]

    def update(self, build: WorkspaceBuild, line: str | None = None) -> None:
        self._bar.value = max(self._bar.value, _STEP.get(build.status, 0))
        tail = f" — {line}" if line else ""
        self._text.value = f"{_label(build)} … {build.status} ({time.monotonic() - self._t0:.0f}s){tail}"

    def close(self, build: WorkspaceBuild, ok: bool) -> None:
        self._bar.value = 4
        self._bar.bar_style = "success" if ok else "danger"
        self._text.value = f"{_label(build)}: {build.status} after {time.monotonic() - self._t0:.1f}s"


def in_notebook_kernel() -> bool:
    """``True`` inside a Jupyter kernel whose frontend can render widgets."""
    if "IPython" not in sys.modules or "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return (
        shell is not None
        and type(shell).__name__ == "ZMQInteractiveShell"
        and getattr(shell, "kernel", None) is not None
    )


def make_progress(enabled: bool | None, build: WorkspaceBuild) -> Progress:
    """The display for waiting on ``build``: ``False`` → nothing; ``None``/``True`` → bar or text."""
    if enabled is False:
        return _Silent()
    if in_notebook_kernel():
        try:
            return _Widget(build)
        except ImportError:
            pass
    return _Text(sys.stderr)

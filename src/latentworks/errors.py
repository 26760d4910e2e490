"""User-facing errors, and interruptions.

Anything a user can cause (bad query, missing dataset, wrong checkpoint) raises ``LatentworksError``
with a one-line message that names the problem and the fix. The CLI prints it without a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class LatentworksError(Exception):
    """A problem the user can fix; ``str(err)`` is a complete one-line explanation."""


class TrainingInterrupted(LatentworksError):
    """Raised after Ctrl-C once the trainer has saved a resumable checkpoint."""


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While the block runs (main thread only), SIGTERM raises ``KeyboardInterrupt``, so that what schedulers,
    ``timeout`` and ``docker stop`` send takes Ctrl-C's clean way out; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""``latentworks`` commands run as a user would, without paying torch's import for each: a pool of workers.

A test suite that runs hundreds of commands (``tests/test_bad_inputs.py``) spent most of its time importing torch
in a fresh ``python -m latentworks`` per command. A worker is one long-lived ``python tests/cli_worker.py``: it
imports the package and torch once, then reads one JSON request a line (argv, working folder, environment) and
answers one JSON line (exit code, stdout, stderr), running ``latentworks.cli.main`` as ``python -m latentworks``
does: ``sys.argv`` set, file descriptors 1 and 2 pointed at temporary files (so C code's writes are caught too), an
uncaught exception printed as the interpreter prints it (exit 1), the folder locks a process drops at exit dropped.

What a command may change in its process is put back before the next request: working folder, environment,
``sys.argv``, signal handlers, umask, warning filters and the once-only registries, torch's thread count, default
dtype, determinism flag and random state, the root logger's handlers. Commands that need a process of their own
(signals sent to it, a lock held while it runs, whether torch was imported) still start one with :func:`fresh`.

``LATENTWORKS_TEST_WORKERS=0`` makes :class:`Pool` start a fresh process per command instead (to compare the two).
"""

from __future__ import annotations

import json
import locale
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

Request = tuple[Sequence[str], "str | Path | None"]  # argv, working folder (None: the caller's)


def fresh(argv: Sequence[str], env: dict[str, str], cwd: str | Path | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m latentworks ARGV`` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "latentworks", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def _text(data: str) -> str:
    """What ``subprocess.run(text=True)`` makes of the bytes (carried as latin-1 in JSON): the locale's decoding
    and universal newlines."""
    raw = data.encode("latin-1").decode(locale.getpreferredencoding(False))
    return raw.replace("\r\n", "\n").replace("\r", "\n")


class _Worker:
    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True, encoding="utf-8")
        self.ready = False

    def ask(self, argv: Sequence[str], cwd: str | Path | None, timeout: float) -> subprocess.CompletedProcess:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if not self.ready:  # the first answer of a new worker is that torch is imported
            line = self.proc.stdout.readline()
            assert line == "ready\n", f"a latentworks test worker did not start (exit {self.proc.wait()})"
            self.ready = True
        request = {"argv": [str(a) for a in argv], "cwd": str(cwd) if cwd is not None else None}
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            self.proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        finally:
            watchdog.cancel()
        if not line:  # killed by the watchdog, or died: the command gets what a dead process gets
            code = self.proc.wait()
            if fired.is_set():
                raise subprocess.TimeoutExpired(["latentworks", *request["argv"]], timeout)
            return subprocess.CompletedProcess(request["argv"], code, "", f"the test worker died (exit {code})")
        reply = json.loads(line)
        return subprocess.CompletedProcess(request["argv"], reply["code"], _text(reply["stdout"]),
                                           _text(reply["stderr"]))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Pool:
    """``size`` workers, started at once (each imports torch while the caller goes on); commands run in parallel,
    one at a time per worker. A worker that dies is replaced for the next command."""

    def __init__(self, env: dict[str, str], size: int = 2):
        self.env, self.size = dict(env), size
        self.fresh = os.environ.get("LATENTWORKS_TEST_WORKERS") == "0"
        self.idle: queue.Queue[_Worker] = queue.Queue()
        for _ in range(0 if self.fresh else size):
            self.idle.put(_Worker(self.env))

    def run(self, argv: Sequence[str], cwd: str | Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """``latentworks ARGV`` (in ``cwd``) as ``python -m latentworks`` would run it."""
        if self.fresh:
            return fresh(argv, self.env, cwd, timeout)
        worker = self.idle.get()
        try:
            return worker.ask(argv, cwd, timeout)
        finally:
            self.idle.put(worker if worker.alive else _Worker(self.env))

    def map(self, requests: Iterable[Request], timeout: float = 300) -> list[subprocess.CompletedProcess]:
        """Every (argv, cwd), spread over the workers; the answers in the requests' order."""
        requests = list(requests)
        with ThreadPoolExecutor(max_workers=max(1, self.size)) as threads:
            return list(threads.map(lambda r: self.run(r[0], r[1], timeout), requests))

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get().close()


# ------------------------------------------------------------------------------------------ the worker's side
def _restore_signals(saved: dict[int, Any]) -> None:
    import signal

    for signum, handler in saved.items():
        if signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


def _capture() -> dict[str, Any]:
    """What a command may change in this process, as a fresh process has it."""
    import logging
    import signal

    import torch

    signals = {}
    for signum in signal.valid_signals():
        try:
            signals[signum] = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
    umask = os.umask(0)
    os.umask(umask)
    root = logging.getLogger()
    return {"cwd": os.getcwd(), "environ": dict(os.environ), "signals": {s: h for s, h in signals.items() if h is
                                                                         not None}, "umask": umask,
            "threads": torch.get_num_threads(), "dtype": torch.get_default_dtype(),
            "deterministic": torch.are_deterministic_algorithms_enabled(), "rng": torch.get_rng_state(),
            "log_handlers": list(root.handlers), "log_level": root.level}


def _end() -> None:
    """What the end of a command's process does that matters to the files it leaves and to the next command."""
    import gc

    lock = sys.modules.get("latentworks.folder_lock")
    if lock is not None:
        lock._release_all()  # its atexit hook: the folder locks go, their .lock files with them
    gc.collect()  # files and temporary folders left to finalizers are closed and removed


def _restore(state: dict[str, Any]) -> None:
    import logging

    import torch

    os.chdir(state["cwd"])
    os.environ.clear()
    os.environ.update(state["environ"])
    _restore_signals(state["signals"])
    os.umask(state["umask"])
    if torch.get_num_threads() != state["threads"]:
        torch.set_num_threads(state["threads"])
    torch.set_default_dtype(state["dtype"])
    torch.use_deterministic_algorithms(state["deterministic"])
    torch.set_rng_state(state["rng"])
    root = logging.getLogger()
    root.handlers[:] = state["log_handlers"]
    root.setLevel(state["log_level"])


def _exit_code(code: Any) -> int:
    """What the interpreter exits with for ``sys.exit(code)`` (printing a message that is not a number)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _call(argv: list[str]) -> int:
    import traceback
    import warnings

    from latentworks.cli import main

    sys.argv = [str(Path(sys.modules["latentworks"].__file__).with_name("__main__.py")), *argv]
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    with warnings.catch_warnings():  # a fresh process shows each warning again: filters and registries reset
        warnings.onceregistry.clear()
        try:
            return _exit_code(main())  # latentworks/__main__.py: sys.exit(main())
        except SystemExit as exit_:
            return _exit_code(exit_.code)
        except BaseException:  # noqa: BLE001 - the interpreter prints any uncaught exception and exits 1
            traceback.print_exc()
            return 1


def _serve() -> None:
    import ctypes
    import tempfile

    sys.path[0] = os.getcwd()  # as `python -m latentworks` has it, not this file's folder
    requests, replies = os.fdopen(os.dup(0), "r", encoding="utf-8"), os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # a command reads no request; a user's stdin is no pipe of ours
    os.dup2(2, 1)  # between commands, a stray write goes to the worker's stderr, never into the replies
    import torch  # noqa: F401

    import latentworks.cli  # noqa: F401 - the imports this worker exists to make once

    libc = ctypes.CDLL(None)
    state = _capture()
    replies.write("ready\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        if request["cwd"]:
            os.chdir(request["cwd"])
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            saved = os.dup(1), os.dup(2)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = _call(request["argv"])
                _end()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                libc.fflush(None)  # C code's buffered writes, as the process's exit would flush them
                for fd, copy in zip((1, 2), saved):
                    os.dup2(copy, fd)
                    os.close(copy)
            texts = []
            for handle in (out, err):
                handle.seek(0)
                texts.append(handle.read().decode("latin-1"))
        _restore(state)
        replies.write(json.dumps({"code": code, "stdout": texts[0], "stderr": texts[1]}) + "\n")
        replies.flush()


if __name__ == "__main__":
    _serve()

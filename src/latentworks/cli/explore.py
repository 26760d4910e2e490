"""``latentworks explore RUN [RUN ...]``: one local web page for trained runs (see :mod:`latentworks.explore`).

The runs are found and loaded before the server starts, so a missing or damaged folder is a one-line error
(exit 2). The server binds 127.0.0.1 unless ``--host`` says otherwise, prints its URL and opens it in the
default browser unless ``--no-browser``; Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass

from latentworks.cli.common import Positional
from latentworks.cli.parsing import parse
from latentworks.config import require
from latentworks.errors import LatentworksError


@dataclass
class Explore:
    runs: Positional[list[str]]  # run folders, or study folders searched for them (e.g. runs/quick)
    port: int = 8765  # port to serve on (0: any free port)
    host: str = "127.0.0.1"  # address to bind; anything but 127.0.0.1 shows your models to the network
    browser: bool = True  # open the page in the default browser (--no-browser: only print the URL)
    threads: int | None = None  # torch intra-op threads for decoding (default: half the cores, at most 4)

    def check(self) -> None:
        require(0 <= self.port <= 65535, "port", self.port, "must lie in 0..65535 (0: any free port)")
        require(self.host.strip() != "", "host", self.host, "is empty; use 127.0.0.1")
        require(self.threads is None or self.threads >= 1, "threads", self.threads, "must be at least 1")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``; a port in use or a bad address is one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise LatentworksError(f"--host {host!r} is not an address this machine has ({err.strerror}); "
                               "use 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then, and without it every response
    # on a kept-alive connection (headers, then body) waits ~40 ms on Nagle's algorithm and the client's delayed ACK.
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise LatentworksError(f"cannot serve on {host}:{port} ({err.strerror}); pass another --port "
                               "(0 picks a free one)") from None
    return sock


def explore(argv: list[str], prog: str) -> int:
    import uvicorn

    from latentworks.config import validate
    from latentworks.explore.server import create_app

    a = validate(parse(Explore, argv, prog=prog, description="Serve one local web page for run folders: sample, "
                       "interpolate, walk and map latent spaces, ask arithmetic models, stream char-RNN text."))
    app = create_app(a.runs, threads=a.threads, host=a.host)
    sock = bind(a.host, a.port)
    port = sock.getsockname()[1]
    shown = f"[{a.host}]" if ":" in a.host else a.host
    url = f"http://{shown}:{port}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    count = len(app.state.runs.by_id)
    print(f"latentworks explore: {count} run{'s' if count != 1 else ''} at {url}  (Ctrl-C stops)", flush=True)

    def open_when_ready() -> None:
        for _ in range(200):
            if server.started:
                webbrowser.open(url)
                return
            time.sleep(0.05)

    if a.browser:
        threading.Thread(target=open_when_ready, daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("latentworks explore: stopped", file=sys.stderr)
    return 0


__all__ = ["Explore", "explore"]

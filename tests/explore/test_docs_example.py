"""docs/explore-api.md's notebook example, run as written (standard library only: no httpx) against a live
explorer serving the tiny runs: it must get past the guard (no Origin, JSON bodies) and print what it promises."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

DOC = Path(__file__).resolve().parents[2] / "docs" / "explore-api.md"


def notebook_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"From a notebook[^\n]*\n\n```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/explore-api.md should hold one notebook example"
    return blocks[0]


def test_the_notebook_example_uses_only_the_standard_library():
    imports = set(re.findall(r"^(?:import|from) (\w+)", notebook_example(), re.M))
    assert imports == {"json", "urllib"}


def test_the_notebook_example_runs_against_a_live_explorer(tiny_runs, capsys):
    import uvicorn

    from latentworks.cli.explore import bind
    from latentworks.explore.server import create_app

    sock = bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(create_app([tiny_runs], threads=1), log_level="warning", access_log=False,
                                        lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        code = notebook_example().replace('"http://127.0.0.1:8765"', f'"http://127.0.0.1:{sock.getsockname()[1]}"')
        scope: dict = {}
        exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 - the documented example, run as a reader would
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert len(scope["path"]) == 16 and all(p.startswith("data:image/png;base64,") for p in scope["path"])
    lines = capsys.readouterr().out.splitlines()
    _, expected, split = lines[0].rsplit(" ", 2)
    assert (expected, split) == ("7", "None")  # the tiny run has no config.json: its split is unknown
    assert lines[-1].startswith("{'done': True") and any(line.startswith("{'text': ") for line in lines)

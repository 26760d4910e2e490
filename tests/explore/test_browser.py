"""The explorer's page in a real headless browser (Debian's chromium driven by playwright): the grid loads, a
direction slider and two grid clicks change what is shown, char-RNN text streams in, and nothing is logged as
a console error; a text→image pen with a style code draws the answer in another hand on request. Skips only
when /usr/bin/chromium is missing (CI installs it, see .ci/run)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

CHROMIUM = Path("/usr/bin/chromium")

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def server(tiny_runs, tmp_path_factory):
    """A real uvicorn server on 127.0.0.1 (a free port) in a thread, serving the tiny runs; the VAE's weights are
    made large so that different latents decode to visibly different pictures."""
    import shutil

    import uvicorn

    from latentworks.cli.explore import bind
    from latentworks.explore.server import create_app
    from latentworks.models.io import load_model, save_model

    root = tmp_path_factory.mktemp("browser-runs")
    for name in ("generative", "charrnn", "arithmetic"):
        shutil.copytree(tiny_runs / name, root / name)
    vae = load_model(root / "generative" / "vae")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    save_model(vae, root / "generative" / "vae")

    sock = bind("127.0.0.1", 0)
    app = create_app([root], threads=1)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: install Debian's chromium (apt-get install chromium) for the browser test")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    return page, errors


def changed(page, selector, before, timeout_ms=10_000):
    """Wait until ``selector``'s src differs from ``before``; returns the new src."""
    page.wait_for_function("([sel, old]) => { const e = document.querySelector(sel); return e && e.src !== old; }",
                           arg=[selector, before], timeout=timeout_ms)
    return page.get_attribute(selector, "src")


def test_sliders_and_grid_clicks_change_the_pictures(server, browser):
    page, errors = open_page(browser, server + "#run=generative/vae")
    page.wait_for_selector("#grid img[data-index='5']")
    page.wait_for_function("document.querySelector('#walk-img').src.startsWith('data:image/png')")
    page.wait_for_selector("#dir-0")
    page.wait_for_function("document.querySelectorAll('#interp-strip img').length > 0")

    walk = page.get_attribute("#walk-img", "src")
    page.locator("#dir-0").fill("3")
    assert changed(page, "#walk-img", walk) != walk

    first = page.get_attribute("#interp-strip img", "src")
    page.click("#grid img[data-index='1']")
    page.click("#grid img[data-index='4']")
    assert changed(page, "#interp-strip img", first) != first
    assert page.locator("#grid img.picked").count() == 2
    page.wait_for_function("document.querySelector('#anim').src.startsWith('data:image/png')")

    page.wait_for_function("document.querySelector('#map-input') !== null")
    assert page.locator("#status.error").count() == 0, page.inner_text("#status")
    assert errors == []
    page.close()


def test_charrnn_text_streams_into_the_page(server, browser):
    page, errors = open_page(browser, server + "#run=charrnn/rnn")
    page.wait_for_function("document.querySelector('#generated') && "
                           "document.querySelector('#generated').textContent.length > 100")
    assert page.inner_text("#generated").startswith("The ")
    assert errors == []
    page.close()


def test_another_hand_redraws_the_answer(server, browser):
    page, errors = open_page(browser, server + "#run=arithmetic/text2img")
    page.wait_for_function("document.querySelector('#answer img.strip-img') && "
                           "document.querySelector('#answer img.strip-img').src.startsWith('data:image/png')")
    first = page.get_attribute("#answer img.strip-img", "src")
    page.click("#another-hand")
    assert changed(page, "#answer img.strip-img", first) != first
    assert errors == []
    page.close()

"""The explorer's page in a real headless browser (Debian's chromium driven by playwright): the grid loads, a
direction slider and two grid clicks change what is shown, the A/B/C hint says which click comes next, char-RNN
text streams in, and nothing is logged as a console error; a text→image pen with a style code draws the answer in
another hand on request; arithmetic answers are tagged held out / seen / outside the trained range, an image→text
answer is split into reading, computing and truth, and a red error clears on the next answer and on a run change.
Skips only when /usr/bin/chromium is missing (CI installs it, see .ci/run)."""

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
    from latentworks.runs import write_json

    root = tmp_path_factory.mktemp("browser-runs")
    for name in ("generative", "charrnn", "arithmetic"):
        shutil.copytree(tiny_runs / name, root / name)
    vae = load_model(root / "generative" / "vae")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    save_model(vae, root / "generative" / "vae")
    split = {"family": "arithmetic", "data": {"max_int": 9, "ops": "+-", "train_fraction": 0.5, "split_seed": 0}}
    write_json(root / "arithmetic" / "text2text" / "config.json", split)
    reads_glyphs(root / "arithmetic" / "reads")
    write_json(root / "arithmetic" / "reads" / "config.json", split)

    sock = bind("127.0.0.1", 0)
    app = create_app([root], threads=1)
    misread_9_8(app.state.runs.get("arithmetic/reads").model)
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


SPEC = {"max_int": 9, "ops": "+-", "layout": "v23"}


def reads_glyphs(folder: Path) -> None:
    """An image→text run whose model reads each glyph into a character itself (the glyph-columns kind)."""
    from latentworks.data.arithmetic import ArithmeticSpec
    from latentworks.models.arithmetic_shape import ArithmeticShape
    from latentworks.models.img2text import ReadComputeConfig, ReadThenCompute
    from latentworks.models.io import save_model

    spec = ArithmeticSpec(**SPEC)
    shape = ArithmeticShape(vocab_size=spec.vocab_size, charset=spec.charset, query_len=spec.query_len,
                            answer_len=spec.answer_len, layout=spec.layout)
    model = ReadThenCompute(ReadComputeConfig(shape=shape, glyph_channels=(4,), glyph_features=8, hidden=8))
    save_model(model, folder, extra={"task": "img2text", "spec": SPEC})


def misread_9_8(model) -> None:
    """Make the served model read every strip as '9-4' and compute '5' from that: right arithmetic on a misreading
    (the case the page must tell apart from a wrong sum)."""
    from latentworks.data.arithmetic import ArithmeticSpec, encode

    spec = ArithmeticSpec(**SPEC)
    read = torch.nn.functional.one_hot(torch.from_numpy(encode(["9-4"], spec)), spec.vocab_size).float()
    model.read = lambda images: read.expand(len(images), -1, -1)
    model.compute.predict = lambda ids: torch.from_numpy(encode(["5 "], spec)).expand(len(ids), -1)


def split_of_9_8() -> str:
    from latentworks.data.arithmetic import ArithmeticSpec, enumerate_queries
    from latentworks.data.arithmetic_dataset import split_queries

    spec = ArithmeticSpec(**SPEC)
    train, _ = split_queries(spec.n_queries, 0.5, 0)
    return "seen" if (9, "-", 8) in {enumerate_queries(spec)[k] for k in train} else "held_out"


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

    assert "Click the A box below, then a cell of the grid for A" in page.inner_text("#vector-hint")
    page.click("#slot-A")
    assert page.inner_text("#vector-hint").startswith("Now click a cell of the grid for A, then one for B")
    page.click("#grid img[data-index='2']")
    assert page.inner_text("#vector-hint") == "Now click a cell of the grid for B."
    page.click("#grid img[data-index='3']")
    page.click("#grid img[data-index='6']")
    assert page.inner_text("#vector-hint").startswith("decode(A − B + C) of the three cells")
    page.wait_for_function("document.querySelector('#arith-result').src.startsWith('data:image/png')")

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


def ask(page, query: str) -> str:
    """Type ``query``, ask, and wait for its answer; the answer's split tag."""
    page.fill("#query", query)
    page.click("#ask")
    page.wait_for_function("q => { const c = document.querySelector('#answer code'); "
                           "return c && c.textContent === `“${q}”`; }", arg=query)
    return page.get_attribute("#split", "data-split")


def test_answers_are_tagged_and_errors_clear(server, browser):
    page, errors = open_page(browser, server + "#run=arithmetic/text2text")
    page.wait_for_selector("#split")
    assert ask(page, "3+4") == "seen" and "seen in training" in page.inner_text("#split")
    assert ask(page, "1+2") == "held_out" and "headline claim" in page.inner_text("#split")
    assert ask(page, "123+4") == "outside" and "trained range 0..9" in page.inner_text("#split")
    assert page.inner_text("#truth").startswith("true answer 127")

    page.fill("#query", "4*4")  # an operator the run was not trained on: a red error ...
    page.click("#ask")
    page.wait_for_selector("#status.error")
    ask(page, "2+2")  # ... gone with the next answer
    assert page.locator("#status.error").count() == 0 and page.inner_text("#status") == ""
    page.fill("#query", "4*4")
    page.click("#ask")
    page.wait_for_selector("#status.error")
    page.select_option("#run-select", "charrnn/rnn")  # ... and with a run change
    page.wait_for_selector("#generated")
    assert page.locator("#status.error").count() == 0 and page.inner_text("#status") == ""

    options = page.eval_on_selector_all("#run-select option", "os => os.map(o => [o.textContent, o.title])")
    assert ["text→text encoder-decoder · not scored (no results.json)", "run arithmetic/text2text"] in options
    assert all(title.startswith("run ") and title[4:] not in text for text, title in options)
    assert [e for e in errors if "status of 400" not in e] == []  # the browser logs the two refusals asked for
    page.close()


def test_an_image_to_text_answer_shows_reading_computing_and_truth(server, browser):
    page, errors = open_page(browser, server + "#run=arithmetic/reads")
    page.wait_for_selector("#read-step")
    page.fill("#query", "9-8")
    page.press("#query", "Enter")  # written in MNIST test handwriting, then read and answered
    page.wait_for_function("document.querySelector('#read-step').textContent.includes('true query 9-8')")
    assert page.inner_text("#read-step") == "read 9-4 (true query 9-8): a reading error"
    assert page.inner_text("#compute-step") == "computed 5 from what it read (right for 9-4)"
    assert page.inner_text("#truth") == "true answer 1 ✗"
    assert page.get_attribute("#split", "data-split") == split_of_9_8()  # the true query's, not the reading's
    page.goto(server + "#run=arithmetic/img2text")  # an end-to-end model: no reading of its own
    page.reload()
    page.wait_for_function("document.querySelector('#read-step') && "
                           "document.querySelector('#read-step').textContent.includes('no reading of its own')")
    assert "digit reader reads the picture as" in page.inner_text("#read-step")
    assert errors == []
    page.close()


# ------------------------------------------------------------------ another origin, another name
FOREIGN_PAGE = """<!doctype html><meta charset="utf-8"><title>another site</title><script>
const target = new URLSearchParams(location.search).get("target");
const body = JSON.stringify({run: "vae", n: 1});
async function attempt(name, send) {
  try { const r = await send(); return [name, r.type === "opaque" ? "opaque" : String(r.status)]; }
  catch (e) { return [name, "blocked"]; }
}
window.results = Promise.all([
  attempt("runs", () => fetch(target + "api/runs")),
  attempt("sample", () => fetch(target + "api/sample",
                                {method: "POST", headers: {"Content-Type": "application/json"}, body})),
  attempt("simple", () => fetch(target + "api/sample",
                                {method: "POST", headers: {"Content-Type": "text/plain"}, body})),
  attempt("no-cors", () => fetch(target + "api/sample", {method: "POST", mode: "no-cors", body})),
]);
</script>"""


class Recorder:
    """ASGI wrapper that notes each response's (method, path, status): what the explorer answered, seen from it."""

    def __init__(self, app):
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send):
        async def spy(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, spy)


def _serve_in_thread(app):
    import uvicorn

    from latentworks.cli.explore import bind

    sock = bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    return srv, thread, sock


@pytest.fixture(scope="module")
def guarded(tiny_runs):
    """An explorer on 127.0.0.1 (a free port) whose every answer is recorded."""
    from latentworks.explore.server import create_app

    recorder = Recorder(create_app([tiny_runs / "generative" / "vae"], threads=1))
    srv, thread, sock = _serve_in_thread(recorder)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", recorder
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def foreign_site():
    """Another origin: a tiny http.server on another port of 127.0.0.1 serving a page that tries the explorer."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            raw = FOREIGN_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}/"
    site.shutdown()
    thread.join(timeout=10)
    site.server_close()


def test_a_page_of_another_origin_gets_no_answer(guarded, foreign_site, browser):
    url, recorder = guarded
    page = browser.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{foreign_site}?target={url}")
    results = dict(page.evaluate("window.results"))
    page.close()
    # the browser reads nothing (no CORS header), and the explorer refused each request before any work
    assert results == {"runs": "blocked", "sample": "blocked", "simple": "blocked", "no-cors": "opaque"}, results
    seen = [s for s in recorder.seen if s[1].startswith("/api")]
    assert seen and all(status == 403 for _, _, status in seen), seen
    assert {("GET", "/api/runs"), ("OPTIONS", "/api/sample"), ("POST", "/api/sample")} <= {s[:2] for s in seen}


def test_a_foreign_host_gets_403_and_the_own_page_still_works(guarded, browser):
    """DNS rebinding: another name resolved to 127.0.0.1 reaches the explorer with that name as its Host."""
    import urllib.error
    import urllib.request

    url, _ = guarded
    port = url.rstrip("/").rsplit(":", 1)[1]
    request = urllib.request.Request(url + "api/runs", headers={"Host": f"rebound.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    rebinding = browser.browser_type.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--host-resolver-rules=MAP rebound.example 127.0.0.1"])
    try:
        page = rebinding.new_page()
        answer = page.goto(f"http://rebound.example:{port}/api/runs")
        assert answer.status == 403 and "not this explorer's address" in answer.text()
        assert page.goto(f"http://rebound.example:{port}/").status == 403
        own = page.goto(url + "api/runs")
        assert own.status == 200 and own.json()[0]["id"] == "vae"
    finally:
        rebinding.close()

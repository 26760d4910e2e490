"""The explorer's JSON API on tiny untrained runs: every endpoint, determinism, bounds, bad requests (each a 4xx
JSON line, after which the server keeps serving), and the CLI's start-up errors and clean stop."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from latentworks.cli import main  # noqa: E402
from latentworks.explore.server import create_app  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


BASE = "http://127.0.0.1:8765"  # the explorer answers only the Host it serves on (TestClient's default is foreign)


@pytest.fixture(scope="module")
def client(tiny_runs):
    return TestClient(create_app([tiny_runs], threads=1), base_url=BASE)


def png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"] and "\n" not in body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


def test_runs_lists_every_family_with_capabilities(client):
    runs = {r["id"]: r for r in client.get("/api/runs").json()}
    assert set(runs) == {"generative/vae", "generative/cvae", "generative/cgan", "generative/dcgan",
                         "arithmetic/text2text", "arithmetic/img2text", "arithmetic/text2img", "charrnn/rnn"}
    vae, cgan, dcgan = runs["generative/vae"], runs["generative/cgan"], runs["generative/dcgan"]
    assert vae["family"] == "generative" and vae["latent_dim"] == 2 and vae["image_shape"] == [1, 28, 28]
    assert {"map", "upload", "sample"} <= set(vae["capabilities"]) and "labels" not in vae["capabilities"]
    assert cgan["num_classes"] == 10 and "labels" in cgan["capabilities"] and "map" not in cgan["capabilities"]
    assert dcgan["codes"] == 3 and "codes" in dcgan["capabilities"]
    assert runs["arithmetic/img2text"]["task"] == "img2text" and "sketch" in runs["arithmetic/img2text"]["capabilities"]
    assert [runs[f"arithmetic/{t}"]["capabilities"] for t in ("text2text", "text2img")] == [
        ["answer"], ["answer", "draw", "restyle"]]
    assert runs["charrnn/rnn"]["backend"] == "numpy"
    assert "POST /api/sample" in client.get("/api").json()["endpoints"]


def test_sample_is_seeded_and_bounded(client):
    body = {"run": "generative/vae", "n": 3, "seed": 7}
    a, b = client.post("/api/sample", json=body).json(), client.post("/api/sample", json=body).json()
    assert len(a["images"]) == 9 and a["images"][0].startswith("data:image/png;base64,")
    assert a == b
    assert client.post("/api/sample", json={**body, "seed": 8}).json()["z"] != a["z"]
    half = client.post("/api/sample", json={**body, "scale": 0.5}).json()
    assert np.allclose(np.array(half["z"]), np.array(a["z"]) * 0.5, atol=1e-4)
    assert "16" in one_line_error(client.post("/api/sample", json={**body, "n": 17}), 422)
    labelled = client.post("/api/sample", json={"run": "generative/cgan", "n": 2, "label": 7}).json()
    assert labelled["labels"] == [7] * 4
    assert client.post("/api/sample", json={"run": "generative/cgan", "n": 2}).json()["labels"] == [0, 1, 2, 3]
    coded = client.post("/api/sample", json={"run": "generative/dcgan", "n": 2, "code": 2}).json()
    assert all(int(np.argmax(z[:3])) == 2 for z in coded["z"])
    one_line_error(client.post("/api/sample", json={"run": "generative/dcgan", "code": 3}), 400)
    one_line_error(client.post("/api/sample", json={"run": "generative/vae", "label": 1}), 400)


def test_decode_interpolate_and_vector(client):
    grid = client.post("/api/sample", json={"run": "generative/vae", "n": 2, "seed": 1}).json()
    z = grid["z"]
    decoded = client.post("/api/decode", json={"run": "generative/vae", "z": z}).json()["images"]
    assert decoded == grid["images"]
    msg = one_line_error(client.post("/api/decode", json={"run": "generative/vae", "z": [[0.0, 1.0, 2.0]]}), 400)
    assert "latent_dim 2" in msg
    one_line_error(client.post("/api/decode", json={"run": "generative/vae", "z": [[0.0, 1.0]] * 257}), 422)
    nan = b'{"run": "generative/vae", "z": [[NaN, 1.0]]}'
    one_line_error(client.post("/api/decode", content=nan, headers={"content-type": "application/json"}), 422)
    path = client.post("/api/interpolate", json={"run": "generative/vae", "a": z[0], "b": z[1], "steps": 5,
                                                 "method": "slerp"}).json()
    assert len(path["images"]) == 5 and path["images"][0] == grid["images"][0]
    assert np.allclose(path["z"][-1], z[1], atol=1e-4)
    one_line_error(client.post("/api/interpolate", json={"run": "generative/vae", "a": z[0], "b": z[1],
                                                         "steps": 10**9}), 422)
    one_line_error(client.post("/api/interpolate", json={"run": "generative/vae", "a": z[0], "b": z[1],
                                                         "method": "cubic"}), 422)
    out = client.post("/api/vector", json={"run": "generative/cgan", "a": [1, 0, 0], "b": [0, 1, 0], "c": [0, 0, 1],
                                           "label": 3}).json()
    assert out["z"] == [1.0, -1.0, 1.0] and out["image"].startswith("data:image/png")


def test_directions_by_latent_size_and_kind(client):
    small = client.post("/api/directions", json={"run": "generative/vae"}).json()
    assert small["source"] == "dimensions" and [d["name"] for d in small["directions"]] == ["z[0]", "z[1]"]
    for run, source in (("generative/cvae", "pca"), ("generative/dcgan", "ganspace")):
        out = client.post("/api/directions", json={"run": run, "k": 4}).json()
        assert out["source"] == source and len(out["directions"]) == 4
        vectors = np.array([d["vector"] for d in out["directions"]])
        assert vectors.shape == (4, 20) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
        assert all(d["scale"] > 0 for d in out["directions"])
        assert client.post("/api/directions", json={"run": run, "k": 4}).json() == out  # cached, same answer
    one_line_error(client.post("/api/directions", json={"run": "generative/vae", "k": 17}), 422)


def test_map_of_heldout_images_and_its_points(client):
    body = {"run": "generative/cvae", "points": 200, "seed": 3}
    out = client.post("/api/map", json=body).json()
    assert len(out["points"]) == 200 and len(out["labels"]) == 200 and out["source"] == "pca"
    assert len(out["basis"]["components"]) == 2 and len(out["basis"]["mean"]) == 20
    assert client.post("/api/map", json=body).json() == out
    point = client.post("/api/map/point", json={**body, "index": 5}).json()
    assert point["label"] == out["labels"][5] and len(point["z"]) == 20
    plane = (np.array(point["z"]) - out["basis"]["mean"]) @ np.array(out["basis"]["components"]).T
    assert np.allclose(plane, out["points"][5], atol=1e-3)
    assert client.post("/api/map", json={"run": "generative/vae", "points": 50}).json()["source"] == "latent"
    one_line_error(client.post("/api/map", json={"run": "generative/dcgan"}), 400)
    one_line_error(client.post("/api/map", json={"run": "generative/vae", "points": 5000}), 422)
    one_line_error(client.post("/api/map/point", json={**body, "index": 1999}), 400)


def test_uploads_encode_and_reconstruct(client):
    digit = np.zeros((40, 40), np.uint8)
    digit[8:32, 18:23] = 255
    raw = png(digit)
    out = client.post("/api/reconstruct", json={"run": "generative/vae", "image": data_url(raw)}).json()
    assert len(out["z"]) == 2 and out["image"].startswith("data:image/png") and out["mse"] >= 0
    form = client.post("/api/encode", data={"run": "generative/vae"}, files={"file": ("d.png", raw, "image/png")})
    assert form.status_code == 200 and np.allclose(form.json()["z"], out["z"], atol=1e-4)
    cond = client.post("/api/encode", json={"run": "generative/cvae", "image": data_url(raw), "label": 1})
    assert cond.status_code == 200 and cond.json()["label"] == 1
    one_line_error(client.post("/api/encode", json={"run": "generative/cvae", "image": data_url(raw)}), 400)
    one_line_error(client.post("/api/encode", json={"run": "generative/dcgan", "image": data_url(raw)}), 400)
    one_line_error(client.post("/api/encode", json={"run": "generative/vae", "image": data_url(b"not a png")}), 400)
    one_line_error(client.post("/api/encode", json={"run": "generative/vae", "image": "%%%"}), 400)
    one_line_error(client.post("/api/encode", files={"file": ("x.txt", b"hello", "text/plain")},
                               data={"run": "generative/vae"}), 400)
    huge = png(np.zeros((4097, 4097), np.uint8))  # a few KB on disk, 16.8 M pixels: refused before decoding
    assert len(huge) < 2 * 2**20
    one_line_error(client.post("/api/encode", files={"file": ("big.png", huge, "image/png")},
                               data={"run": "generative/vae"}), 413)
    big = b"\x89PNG" + bytes(50 * 2**20)
    one_line_error(client.post("/api/encode", files={"file": ("big.png", big, "image/png")},
                               data={"run": "generative/vae"}), 413)
    three_mb = png((np.random.default_rng(0).random((1600, 1600)) * 255).astype(np.uint8))
    assert 2 * 2**20 < len(three_mb) < 4 * 2**20
    one_line_error(client.post("/api/encode", files={"file": ("n.png", three_mb, "image/png")},
                               data={"run": "generative/vae"}), 413)


def test_arithmetic_answers_typed_drawn_and_handwritten(client):
    out = client.post("/api/arithmetic/answer", json={"run": "arithmetic/text2text", "query": " 3 + 4 "}).json()
    assert out["query"] == "3+4" and out["expected"] == "7" and isinstance(out["answer"], str)
    wide = client.post("/api/arithmetic/answer", json={"run": "arithmetic/text2text", "query": "123+4"}).json()
    assert (wide["query"].strip(), wide["expected"], wide["split"]) == ("123+4", "127", "outside")
    assert "above the trained range 0..9" in wide["split_note"] and len(wide["answer"]) == 4  # widened to 3 digits
    assert "ops" in one_line_error(client.post("/api/arithmetic/answer",
                                               json={"run": "arithmetic/text2text", "query": "3*4"}), 400)
    assert "at most 1 digit" in one_line_error(client.post("/api/arithmetic/answer", json={
        "run": "arithmetic/img2text", "query": "33+4"}), 400)  # the reader's strip has 3 cells
    one_line_error(client.post("/api/arithmetic/answer", json={"run": "arithmetic/text2text", "query": "x" * 65}), 422)
    hand = client.post("/api/arithmetic/handwriting", json={"run": "arithmetic/img2text", "seed": 3}).json()
    assert hand == client.post("/api/arithmetic/handwriting", json={"run": "arithmetic/img2text", "seed": 3}).json()
    read = client.post("/api/arithmetic/answer", json={"run": "arithmetic/img2text", "query": hand["query"],
                                                       "image": hand["image"]}).json()
    assert read["query_image"] == hand["image"] and read["read_by"] == "digit reader"
    assert read["model_reads"] == "none" and read["split_of"] == "query"  # an end-to-end model reads nothing itself
    assert read["read"].strip() == hand["query"].strip()  # MNIST test digits: the packaged reader reads them
    drawn = np.zeros((112, 336), np.uint8)  # a '1' drawn large in the first of three cells
    drawn[20:90, 50:60] = 255
    out = client.post("/api/arithmetic/answer", json={"run": "arithmetic/img2text", "image": data_url(png(drawn))})
    assert out.status_code == 200 and out.json()["read"] == "1  " and out.json()["query"] is None
    one_line_error(client.post("/api/arithmetic/answer", json={"run": "arithmetic/img2text"}), 400)
    one_line_error(client.post("/api/arithmetic/handwriting", json={"run": "arithmetic/text2text"}), 400)
    one_line_error(client.post("/api/arithmetic/answer", json={"run": "generative/vae", "query": "1+2"}), 400)


def test_each_answer_is_tagged_exactly_as_the_pipeline_split_the_queries(tiny_runs, tmp_path):
    """Every query of the grid: 'seen' exactly for the training queries the task's own ``prepare`` builds from the
    run's config, 'held_out' for the rest; no config.json, no tag."""
    import shutil

    from latentworks.config import to_dict
    from latentworks.data.arithmetic import enumerate_queries, format_query
    from latentworks.pipelines.tasks import task
    from latentworks.recipes.arithmetic import recipe
    from latentworks.runs import write_json

    cfg = recipe("course", task="text2text", **{"data.max_int": 9, "data.train_fraction": 0.3, "data.split_seed": 5})
    prepared = task("text2text").prepare(cfg)
    shutil.copytree(tiny_runs / "arithmetic" / "text2text", tmp_path / "sums")
    write_json(tmp_path / "sums" / "config.json", {"family": "arithmetic", **to_dict(cfg)})
    shutil.copytree(tiny_runs / "arithmetic" / "text2text", tmp_path / "bare")
    with TestClient(create_app([tmp_path], threads=1), base_url=BASE) as app:
        tags = {}
        for i, op, j in enumerate_queries(prepared.spec):
            out = app.post("/api/arithmetic/answer", json={"run": "sums", "query": f"{i}{op}{j}"}).json()
            tags[format_query(i, op, j, prepared.spec)] = out["split"]
        bare = app.post("/api/arithmetic/answer", json={"run": "bare", "query": "1+2"}).json()
    assert {q for q, t in tags.items() if t == "seen"} == set(prepared.train.queries)
    assert {q for q, t in tags.items() if t == "held_out"} == set(prepared.test.queries)
    assert bare["split"] is None and "config.json" in bare["split_note"]


def test_the_runs_say_recipe_headline_and_newest_study_first(tiny_runs, tmp_path):
    import shutil

    from latentworks.runs import write_json

    for study, day in (("old", "2026-01-01"), ("new", "2026-02-01")):
        shutil.copytree(tiny_runs / "arithmetic" / "text2text", tmp_path / study / "sums")
        write_json(tmp_path / study / "sums" / "results.json", {
            "kind": "arithmetic/text2text", "config": {"recipe": "columns"}, "test": {"exact_match": 0.921},
            "finished_at": f"{day}T10:00:00+0000"})
    shutil.copytree(tiny_runs / "charrnn" / "rnn", tmp_path / "new" / "rnn")
    with TestClient(create_app([tmp_path / "old", tmp_path / "new"], threads=1), base_url=BASE) as app:
        runs = app.get("/api/runs").json()
    order = [(r["study"], r["family"]) for r in runs]
    assert order == [("new", "arithmetic"), ("new", "charrnn"), ("old", "arithmetic")]
    assert runs[0]["label"] == "text→text encoder-decoder · columns recipe · exact match 92.1 %"
    assert runs[0]["headline"] == {"name": "exact match", "key": "test.exact_match", "value": 0.921, "text": "92.1 %"}
    assert runs[1]["headline"] is None and runs[1]["label"].endswith("not scored (no results.json)")


def test_a_styled_pen_draws_a_new_hand_for_each_seed(client):
    def drawn(seed: int) -> dict:
        return client.post("/api/arithmetic/answer", json={"run": "arithmetic/text2img", "query": "3+4",
                                                           "seed": seed}).json()

    first = drawn(0)
    assert first["query"] == "3+4" and first["expected"] == "7" and first["answer_image"].startswith("data:image/png")
    assert drawn(0)["answer_image"] == first["answer_image"]
    assert drawn(1)["answer_image"] != first["answer_image"]


def test_charrnn_streams_the_same_text_as_one_answer(client):
    body = {"run": "charrnn/rnn", "prime": "The ", "length": 120, "temperature": 1.0, "seed": 5}
    with client.stream("POST", "/api/charrnn/generate", json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert len(lines) > 2 and lines[-1]["done"] and lines[-1]["chars"] == 120
    streamed = "".join(line.get("text", "") for line in lines)
    whole = client.post("/api/charrnn/generate", json={**body, "stream": False}).json()["text"]
    assert streamed == whole and len(whole) == 120
    from latentworks.pipelines.charrnn import sample_charrnn

    assert whole == sample_charrnn(client.app.state.runs.get("charrnn/rnn").path, "The ", 1.0, 120, seed=5)
    one_line_error(client.post("/api/charrnn/generate", json={**body, "prime": "x" * 501}), 422)
    one_line_error(client.post("/api/charrnn/generate", json={**body, "length": 10**6}), 422)
    assert "vocabulary" in one_line_error(client.post("/api/charrnn/generate", json={**body, "prime": "Z@"}), 400)
    one_line_error(client.post("/api/charrnn/generate", json={**body, "temperature": -1}), 422)


def test_bad_requests_are_one_line_4xx_and_the_server_keeps_serving(client):
    one_line_error(client.post("/api/sample", json={"run": "nope"}), 404)
    one_line_error(client.post("/api/sample", content=b"{not json", headers={"content-type": "application/json"}), 400)
    one_line_error(client.post("/api/sample", headers={"content-type": "application/json"}), 400)
    assert "bogus" in one_line_error(client.post("/api/sample", json={"run": "generative/vae", "bogus": 1}), 422)
    one_line_error(client.post("/api/sample", json={"run": "generative/vae", "n": "many"}), 422)
    one_line_error(client.get("/api/nothing"), 404)
    one_line_error(client.get("/api/sample"), 405)
    one_line_error(client.post("/api/sample", content=bytes(5 * 2**20), headers={"content-type": "application/json"}),
                   413)
    one_line_error(client.post("/api/reconstruct", content=b"[1, 2]", headers={"content-type": "application/json"}),
                   400)
    one_line_error(client.post("/api/reconstruct", content=b"abc", headers={"content-type": "text/plain"}), 415)
    assert client.get("/api/runs").status_code == 200
    assert client.post("/api/sample", json={"run": "generative/vae", "n": 1}).status_code == 200


def test_page_and_static_files_are_served_without_external_urls(client):
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text
    for name in ("app.js", "util.js", "gen.js", "genmap.js", "arith.js", "charrnn.js", "style.css"):
        text = client.get(f"/static/{name}").text
        assert "http://" not in text and "https://" not in text, name


def test_cli_refuses_missing_and_damaged_folders(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing"), "--no-browser"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentworks: error:") and "does not exist" in err and len(err.splitlines()) == 1
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "model.json").write_text("{ not json")
    assert main(["explore", str(damaged), "--no-browser"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["explore", str(tmp_path / "empty"), "--no-browser"]) == 2
    assert "no run folders" in capsys.readouterr().err
    assert main(["explore", str(tmp_path / "empty"), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_cli_serves_on_localhost_and_stops_cleanly_on_ctrl_c(tiny_runs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "latentworks", "explore", str(tiny_runs / "generative" / "vae"),
                             "--port", "0", "--no-browser", "--threads", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "api/runs", timeout=5) as response:
                    assert json.loads(response.read())[0]["id"] == "vae"
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server never answered")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 130) and "Traceback" not in err, err


def test_bind_asks_for_tcp_and_refuses_a_port_in_use():
    import socket

    from latentworks.cli.explore import bind
    from latentworks.errors import LatentworksError

    sock = bind("127.0.0.1", 0)
    try:
        # asyncio sets TCP_NODELAY on accepted connections only for IPPROTO_TCP sockets; without it a kept-alive
        # response waits ~40 ms on Nagle's algorithm (measured: 44 ms per request instead of 2 ms).
        assert sock.proto == socket.IPPROTO_TCP
        sock.listen()
        with pytest.raises(LatentworksError, match="--port"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


def test_a_run_that_invented_its_own_symbols_is_read_by_the_digit_reader(tmp_path):
    """An answers-only image→text model's symbol classes have no names, so the explorer shows what the packaged
    reader sees in the strip, and the model's own answer beside it."""
    from dataclasses import asdict

    from latentworks.data.arithmetic import ArithmeticSpec
    from latentworks.models.answers_reader import AnswersReader, AnswersReaderConfig
    from latentworks.models.arithmetic_shape import ArithmeticShape
    from latentworks.models.io import save_model

    spec = ArithmeticSpec(max_int=9)
    sizes = {"shape": ArithmeticShape(vocab_size=spec.vocab_size, charset=spec.charset, query_len=spec.query_len,
                                      answer_len=spec.answer_len, layout=spec.layout)}
    save_model(AnswersReader(AnswersReaderConfig(hidden=16, heads=1, glyph_features=8, **sizes)),
               tmp_path / "answers", extra={"task": "img2text", "spec": asdict(spec)})
    with TestClient(create_app([tmp_path], threads=1), base_url=BASE) as app:
        hand = app.post("/api/arithmetic/handwriting", json={"run": "answers", "seed": 1}).json()
        out = app.post("/api/arithmetic/answer", json={"run": "answers", "query": hand["query"],
                                                      "image": hand["image"]}).json()
    assert out["read_by"] == "digit reader" and out["read"].strip() == hand["query"].strip()
    assert out["model_reads"] == "invented"
    assert len(out["answer"]) == spec.answer_len


# ------------------------------------------------------------------ only its own page
SAMPLE = {"run": "generative/vae", "n": 1}


def test_only_the_bound_host_is_answered(client, tiny_runs):
    for host in ("evil.example:8765", "127.0.0.1:9999", "localhost.evil.example:8765", "127.0.0.1", ""):
        assert "Host" in one_line_error(client.get("/api/runs", headers={"host": host}), 403)
        one_line_error(client.post("/api/sample", json=SAMPLE, headers={"host": host}), 403)
    for host in ("127.0.0.1:8765", "localhost:8765", "LOCALHOST:8765"):
        assert client.get("/api/runs", headers={"host": host}).status_code == 200
    with TestClient(create_app([tiny_runs / "generative" / "vae"], threads=1, host="0.0.0.0"),
                    base_url="http://0.0.0.0:8000") as wide:  # --host 0.0.0.0: that name, with its port, too
        assert wide.get("/api/runs").status_code == 200
        one_line_error(wide.get("/api/runs", headers={"host": "rebound.example:8000"}), 403)
    with TestClient(create_app([tiny_runs / "generative" / "vae"], threads=1, host="0.0.0.0"),
                    base_url="http://192.168.1.5:8000") as lan:  # ... and the IP another machine reached it on
        assert lan.get("/api/runs").status_code == 200
        one_line_error(lan.get("/api/runs", headers={"host": "192.168.1.6:8000"}), 403)
        one_line_error(lan.get("/api/runs", headers={"host": "rebound.example:8000"}), 403)


def test_other_origins_get_no_answer_and_no_cors_headers(client):
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null", "https://127.0.0.1:8765"):
        refused = client.post("/api/sample", json=SAMPLE, headers={"origin": origin})
        assert "refused" in one_line_error(refused, 403)
        assert not any(k.lower().startswith("access-control") for k in refused.headers)
        one_line_error(client.get("/api/runs", headers={"origin": origin}), 403)
        preflight = client.options("/api/sample", headers={"origin": origin, "access-control-request-method": "POST"})
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    same = client.post("/api/sample", json=SAMPLE, headers={"origin": BASE})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert client.post("/api/sample", json=SAMPLE).status_code == 200  # scripts send no Origin


def test_posts_must_say_json_and_only_uploads_take_forms(client):
    raw = json.dumps(SAMPLE).encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"content-type": kind} if kind else {}
        assert "application/json" in one_line_error(client.post("/api/sample", content=raw, headers=headers), 415)
    assert client.post("/api/sample", content=raw, headers={"content-type": "application/json; charset=utf-8"}
                       ).status_code == 200
    picture = png(np.zeros((28, 28), np.uint8))
    form = client.post("/api/encode", data={"run": "generative/vae"}, files={"file": ("d.png", picture, "image/png")})
    assert form.status_code == 200, form.text
    one_line_error(client.post("/api/encode", content=raw, headers={"content-type": "text/plain"}), 415)


def test_deep_json_is_refused_before_it_is_parsed(client, caplog):
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/encode", "/api/reconstruct", "/api/sample", "/api/decode"):
        body = '{"run": "generative/vae", "image": ' + deep + "}"
        assert "nests deeper" in one_line_error(
            client.post(path, content=body, headers={"content-type": "application/json"}), 400)
    brackets = '{"run": "generative/vae", "n": 1, "seed": 0, "scale": 1, "label": null}'  # brackets in strings: fine
    assert client.post("/api/sample", content=brackets.replace("null", '"' + "[" * 100 + '"'),
                       headers={"content-type": "application/json"}).status_code == 422
    assert client.get("/api/runs").status_code == 200


def test_runs_hold_no_absolute_path(client, tiny_runs):
    text = client.get("/api/runs").text
    assert str(tiny_runs) not in text and '"path"' not in text
    assert all(not r["id"].startswith("/") for r in client.get("/api/runs").json())


def test_a_bug_is_one_json_line_and_one_log_line(tiny_runs, caplog, monkeypatch):
    from latentworks.explore import generative

    def broken(*_args, **_kwargs):
        raise RecursionError(f"maximum recursion depth exceeded in {tiny_runs}/generative/vae")

    monkeypatch.setattr(generative, "encode_upload", broken)
    with TestClient(create_app([tiny_runs / "generative"], threads=1), base_url=BASE,
                    raise_server_exceptions=False) as app, caplog.at_level("ERROR"):
        image = data_url(png(np.zeros((28, 28), np.uint8)))
        answer = app.post("/api/encode", json={"run": "vae", "image": image})
        assert "RecursionError" in one_line_error(answer, 500) and str(tiny_runs) not in answer.text
        assert app.get("/api/runs").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(lines) == 1 and "\n" not in lines[0] and "500 on POST /api/encode" in lines[0], lines
    assert not any(r.exc_info for r in caplog.records)

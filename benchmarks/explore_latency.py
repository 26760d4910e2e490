"""Benchmark: how fast the explorer answers a slider move (one latent decoded) on 64×64 RGB models.

    python benchmarks/explore_latency.py [--requests 300] [--threads 0] [--out benchmarks/out]

A 64×64 RGB VAE (latent 128, filters 32→256, the ``faces`` recipe's shape) and DCGAN (latent 100) with random
weights (latency does not depend on training) are served by ``latentworks explore`` on 127.0.0.1; a client
sends ``POST /api/decode`` with one latent per request, one request at a time as a dragged slider does, each
latent a small step from the last. Reported: median / p90 / p99 milliseconds per request (HTTP, JSON, decode,
PNG, base64 included), and beside it the model's decode alone in this process. Target: median <= 50 ms.
Writes ``<out>/explore_latency.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from explore_server import Server, build_runs, machine, percentiles

from latentworks.runs import write_json


def decode_only(root: Path, run: str, n: int) -> dict[str, float]:
    """The model's decode of one latent in this process (eval, no grad), for comparison."""
    from latentworks.models.io import load_model

    model = load_model(root / run)
    z = torch.randn(1, model.config.latent_dim)
    times = []
    with torch.no_grad():
        for i in range(n + 10):
            t0 = time.perf_counter()
            model.decode(z + 0.01 * i)
            if i >= 10:
                times.append((time.perf_counter() - t0) * 1000)
    return percentiles(times)


def slider_moves(client: httpx.Client, url: str, run: str, dim: int, n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    z = rng.standard_normal(dim)
    times = []
    for i in range(n + 10):
        z[i % dim] += 0.05  # a slider step
        t0 = time.perf_counter()
        response = client.post(f"{url}/api/decode", json={"run": run, "z": [z.round(5).tolist()]})
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or not response.json()["images"][0].startswith("data:image/png"):
            raise RuntimeError(f"decode failed: {response.status_code} {response.text[:200]}")
        if i >= 10:  # warm-up excluded
            times.append(elapsed)
    return percentiles(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300, help="timed slider moves per model (after 10 warm-up)")
    ap.add_argument("--threads", type=int, default=0, help="the server's torch threads (0: its default)")
    ap.add_argument("--out", default="benchmarks/out")
    a = ap.parse_args()
    torch.set_num_threads(max(1, a.threads or min(4, (os.cpu_count() or 2) // 2)))  # as the server does
    facts = {"before": machine()}
    results = {}
    with tempfile.TemporaryDirectory(prefix="explore-latency-") as tmp:
        root = Path(tmp)
        build_runs(root)
        server = Server(root, a.threads or None)
        try:
            with httpx.Client(timeout=30) as client:
                runs = {r["id"]: r for r in client.get(server.url + "/api/runs").json()}
                for run in ("vae64", "dcgan64"):
                    results[run] = {"http": slider_moves(client, server.url, run, runs[run]["latent_dim"],
                                                         a.requests)}
                    print(run, "slider move", results[run]["http"], flush=True)
        finally:
            server.close()
        for run in ("vae64", "dcgan64"):
            results[run]["decode_only_in_process"] = decode_only(root, run, 100)
    out = {"benchmark": "explore_latency", "target_median_ms": 50, "requests_per_model": a.requests,
           "server_threads": a.threads or "default (half the cores, at most 4)", "results": results,
           "machine": {**facts["before"], "load_average_after": machine()["load_average"]}}
    path = Path(a.out) / "explore_latency.json"
    write_json(path, out)
    print(path)


if __name__ == "__main__":
    main()

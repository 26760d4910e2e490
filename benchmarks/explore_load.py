"""Benchmark: the explorer under load — 1,000 requests, 8 at a time, against a real server on 127.0.0.1.

    python benchmarks/explore_load.py [--requests 1000] [--concurrency 8] [--time-limit 600] [--out benchmarks/out]

``latentworks explore`` serves untrained runs (64×64 RGB VAE and DCGAN, 28×28 grey VAE and DCGAN: latency does not
depend on training) in its own process; 8 client threads send a fixed, seeded mix of requests: ``sample``
(a 4×4 grid, tiny and 64×64 runs), ``decode`` (one latent, as a slider move; 64×64 runs) and ``interpolate``
(8 steps, lerp or slerp). The run is bounded in count and in time. Every answer must be a 200 with images:
anything else is an error (the target is 0). Reported: errors, throughput, and latency percentiles per kind
and overall. Writes ``<out>/explore_load.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from explore_server import Server, build_runs, machine, percentiles

from latentworks.runs import write_json


def plan(n: int, dims: dict[str, int], seed: int = 0) -> list[tuple[str, str, dict]]:
    """``n`` (kind, path, body) requests in a seeded mix: 30 % sample, 50 % decode, 20 % interpolate."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.3:
            run = ["vae28", "dcgan28", "vae64", "dcgan64"][i % 4]
            out.append(("sample", "/api/sample", {"run": run, "n": 4, "seed": int(rng.integers(1000))}))
        elif r < 0.8:
            run = ["vae64", "dcgan64"][i % 2]
            out.append(("decode", "/api/decode", {"run": run, "z": [rng.standard_normal(dims[run]).round(4).tolist()]}))
        else:
            run = ["vae28", "dcgan28", "vae64", "dcgan64"][i % 4]
            a, b = (rng.standard_normal(dims[run]).round(4).tolist() for _ in range(2))
            out.append(("interpolate", "/api/interpolate", {"run": run, "a": a, "b": b, "steps": 8,
                                                            "method": "slerp" if i % 2 else "lerp"}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=600, help="stop sending after this many seconds")
    ap.add_argument("--out", default="benchmarks/out")
    a = ap.parse_args()
    before = machine()
    times: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="explore-load-") as tmp:
        root = Path(tmp)
        build_runs(root)
        server = Server(root)
        try:
            with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=a.concurrency)) as client:
                dims = {r["id"]: r["latent_dim"] for r in client.get(server.url + "/api/runs").json()}
                requests = plan(a.requests, dims)
                deadline = time.perf_counter() + a.time_limit

                def send(item: tuple[str, str, dict]) -> None:
                    kind, path, body = item
                    if time.perf_counter() > deadline:
                        with lock:
                            errors.append("not sent: time limit")
                        return
                    t0 = time.perf_counter()
                    try:
                        response = client.post(server.url + path, json=body)
                        ok = response.status_code == 200 and "data:image/png" in response.text[:2000]
                        problem = None if ok else f"{kind}: {response.status_code} {response.text[:120]}"
                    except httpx.HTTPError as err:
                        problem = f"{kind}: {type(err).__name__} {err}"
                    elapsed = (time.perf_counter() - t0) * 1000
                    with lock:
                        (errors.append(problem) if problem else times[kind].append(elapsed))

                t0 = time.perf_counter()
                with ThreadPoolExecutor(a.concurrency) as pool:
                    list(pool.map(send, requests))
                wall = time.perf_counter() - t0
        finally:
            server.close()
    done = sum(len(v) for v in times.values())
    out = {"benchmark": "explore_load", "requests": a.requests, "concurrency": a.concurrency,
           "completed": done, "errors": len(errors), "error_examples": errors[:5], "wall_s": round(wall, 2),
           "throughput_rps": round(done / wall, 1),
           "latency": {"all": percentiles([t for v in times.values() for t in v]),
                       **{k: percentiles(v) for k, v in sorted(times.items())}},
           "machine": {**before, "load_average_after": machine()["load_average"]}}
    print({k: out[k] for k in ("completed", "errors", "wall_s", "throughput_rps")}, out["latency"], flush=True)
    path = Path(a.out) / "explore_load.json"
    write_json(path, out)
    print(path)


if __name__ == "__main__":
    main()

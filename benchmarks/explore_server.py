"""Shared by the explorer benchmarks: untrained runs of the sizes that matter and a real server to time.

Latency does not depend on training, so the runs are random weights saved the way training saves them: a 64×64
RGB VAE and DCGAN in the ``faces`` recipes' shapes, and tiny 28×28 grey ones. The server is the product itself,
``latentworks explore DIR --port 0 --no-browser`` in its own process on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch


def build_runs(root: Path) -> dict[str, str]:
    """Write the runs under ``root``; returns {name: run id}."""
    from latentworks.models.dcgan import DCGAN
    from latentworks.models.io import save_model
    from latentworks.models.vae import VAE
    from latentworks.recipes.generative import RECIPES

    torch.manual_seed(0)
    faces_vae, faces_gan = RECIPES["faces"]["vae"], RECIPES["faces"]["dcgan"]
    big = {"image_size": 64, "channels": 3}
    save_model(VAE(VAE.Config(latent_dim=faces_vae["model.latent_dim"], filters=faces_vae["model.filters"],
                              max_filters=faces_vae["model.max_filters"], **big)), root / "vae64")
    save_model(DCGAN(DCGAN.Config(latent_dim=faces_gan["model.latent_dim"], filters=faces_gan["model.filters"],
                                  max_filters=faces_gan["model.max_filters"], **big)), root / "dcgan64")
    save_model(VAE(VAE.Config(latent_dim=16, filters=8, max_filters=16)), root / "vae28")
    save_model(DCGAN(DCGAN.Config(latent_dim=16, filters=8, max_filters=16)), root / "dcgan28")
    return {name: name for name in ("vae64", "dcgan64", "vae28", "dcgan28")}


class Server:
    """``latentworks explore`` in a subprocess; ``url`` once it answers."""

    def __init__(self, root: Path, threads: int | None = None):
        cmd = [sys.executable, "-m", "latentworks", "explore", str(root), "--port", "0", "--no-browser"]
        if threads:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.proc.stdout.readline()
        if " at http" not in line:
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line}{self.proc.stderr.read()}")
        self.url = line.split(" at ")[1].split()[0].rstrip("/")
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/api/runs", timeout=5).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server never answered")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"n": int(a.size), "median_ms": round(float(np.median(a)), 2),
            "p90_ms": round(float(np.percentile(a, 90)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "max_ms": round(float(a.max()), 2)}


def machine() -> dict:
    from latentworks.runs import cpu_model, environment, load_average

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average": load_average(), "environment": environment()}

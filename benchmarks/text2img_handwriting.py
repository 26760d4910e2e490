"""Text→image `pen` that writes handwriting: trained at a 50 % split, its drawn answers to every held-out query
read back by the packaged digit reader and by an independent classifier, beside the same answers written with
real MNIST test-split handwriting read by the same two.

    python benchmarks/text2img_handwriting.py                       # seeds 0 1 2, 50 % split
    python benchmarks/text2img_handwriting.py --seeds 0 --fraction 0.5 --executor ray --workers 2

The independent classifier is a two-layer MLP trained here on the 60,000 MNIST train digits (no augmentation,
nothing generated): a different architecture from the packaged CNN reader, so a drawing that only the reader
can read does not pass. "Hands" measures variety: the mean absolute pixel difference between two drawings of
the same answer glyph (two style seeds), beside two real test-split writings of it. Finished runs are reused;
writes ``<out>/summary.json`` and, for each pen with a style code, ``several_hands_<seed>.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from latentworks.data.mnist import load_mnist
from latentworks.metrics.arithmetic import score_answers
from latentworks.models.io import load_model
from latentworks.pipelines.arithmetic import generate_images, prepare
from latentworks.pipelines.arithmetic_figures import several_hands
from latentworks.pipelines.digit_reader import PACKAGED_READER, read_glyphs, stretch_ink
from latentworks.pipelines.tasks import TEXT_TO_IMAGE
from latentworks.recipes import family
from latentworks.recipes.arithmetic import recipe
from latentworks.runs import environment, read_json, write_json
from latentworks.studies.executor import EXECUTORS, job_for, make_executor

OUT = Path(__file__).parent / "out" / "text2img_handwriting"


class MLPReader:
    """784-512-256-10 MLP trained on real MNIST train digits; ``predict`` as ``DigitReader.predict``."""

    def __init__(self, data_dir: str | None, epochs: int = 8, seed: int = 0):
        torch.manual_seed(seed)
        train = load_mnist("mnist", data_dir=data_dir).train
        x = torch.from_numpy(train.images.copy()).float().flatten(1) / 255.0
        y = torch.from_numpy(train.labels.copy()).long()
        self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 256), nn.ReLU(),
                                 nn.Dropout(0.2), nn.Linear(256, 10))
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(128):
                opt.zero_grad()
                F.cross_entropy(self.net(x[idx]), y[idx]).backward()
                opt.step()
        self.net.eval()

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        probs = torch.cat([self.net(part.flatten(1)).softmax(-1) for part in images.split(batch_size)])
        confidence, pred = probs.max(-1)
        return pred, confidence


def digit_glyph_accuracy(reader, images: torch.Tensor, answers: list[str]) -> float:
    """Share of the answers' digit glyphs (not blanks or signs) that ``reader`` reads as the digit written."""
    picks, truth = [], []
    for k, text in enumerate(answers):
        for pos, ch in enumerate(text):
            if ch.isdigit():
                picks.append((k, pos))
                truth.append(int(ch))
    rows, cols = zip(*picks)
    glyphs = images[list(rows), list(cols)]
    glyphs = glyphs.float() / 255.0 if glyphs.dtype == torch.uint8 else glyphs
    pred, _ = reader.predict(stretch_ink(glyphs))  # as read_glyphs reads them
    return float((pred == torch.tensor(truth)).float().mean())


def variety(first: torch.Tensor, second: torch.Tensor, answers: list[str]) -> float:
    """Mean |pixel difference| between two writings of the same digit glyphs, pixels in [0, 1]."""
    a = first.float() / 255.0 if first.dtype == torch.uint8 else first.float()
    b = second.float() / 255.0 if second.dtype == torch.uint8 else second.float()
    mask = torch.tensor([[ch.isdigit() for ch in text] for text in answers])
    return float((a - b).abs().mean(dim=(2, 3))[mask].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--readers", nargs="+", type=Path, default=[PACKAGED_READER],
                    help="digit reader folders (default: the packaged one); each reads every drawing")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (a smoke test)")
    ap.add_argument("--executor", choices=EXECUTORS, default="local")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--also", nargs="*", type=Path, default=[],
                    help="finished text→image runs to score the same way (e.g. a study's, or a pen without style)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    started = time.perf_counter()
    configs = {seed: recipe("pen", task="text2img", **{
        "data.train_fraction": args.fraction, "data.data_dir": args.data_dir, "train.seed": seed,
        "train.progress": False, "train.device": "cpu",
        **({"train.epochs": args.epochs} if args.epochs else {})}) for seed in args.seeds}
    folders = {seed: args.out / "runs" / f"best-f{args.fraction:g}-s{seed}" for seed in args.seeds}
    jobs = [job_for(f"text2img best seed {seed}", configs[seed], folders[seed], threads=1) for seed in args.seeds]
    make_executor(args.executor, args.workers).run(jobs, progress=True)

    readers = {("packaged reader" if folder.resolve() == PACKAGED_READER else str(folder)): load_model(
        folder, expect="digit_reader") for folder in args.readers}
    readers["independent MLP"] = MLPReader(args.data_dir)
    test = load_mnist("mnist", data_dir=args.data_dir).test
    real_digits = torch.from_numpy(test.images.copy())
    summary = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": environment(),
               "fraction": args.fraction, "readers": {str(folder): read_json(folder / "README.json")["what"]
                                                      if (folder / "README.json").exists() else None
                                                      for folder in args.readers},
               "runs": {}, "readers_on_mnist_test": {}}
    for name, reader in readers.items():
        pred, _ = reader.predict(real_digits.float() / 255.0)
        summary["readers_on_mnist_test"][name] = float((pred == torch.from_numpy(test.labels.copy())).float().mean())

    scored = [(f"seed {seed}", str(seed), configs[seed], folder) for seed, folder in folders.items()]
    for folder in args.also:
        tree = read_json(folder / "config.json")
        scored.append((str(folder), str(folder), family(tree["family"]).from_json(tree), folder))
    for name, key, cfg, folder in scored:
        seed = cfg.train.seed
        prepared = prepare(cfg)
        model = load_model(folder, expect="text2img_draw").eval()
        inputs = TEXT_TO_IMAGE.test_inputs(prepared, seed)
        answers = prepared.test.answers
        drawn = generate_images(model, inputs, seed=0)
        again = generate_images(model, inputs, seed=1)
        real = prepared.test_glyphs.render(torch.from_numpy(prepared.test.y), torch.Generator().manual_seed(0))
        real_again = prepared.test_glyphs.render(torch.from_numpy(prepared.test.y), torch.Generator().manual_seed(1))
        row = {"run": str(folder), "test_queries": len(answers), "train_seconds": read_json(
            folder / "results.json")["train"]["seconds"], "variety_drawn": variety(drawn, again, answers),
            "variety_real": variety(real, real_again, answers)}
        for reader_name, reader in readers.items():
            for what, images in (("drawn", drawn), ("real", real)):
                s = score_answers(read_glyphs(reader, images, prepared.spec.charset), answers)
                row[f"{reader_name}|{what}"] = {"exact_match": s.exact_match, "char_accuracy": s.char_accuracy,
                                                "digit_glyphs": digit_glyph_accuracy(reader, images, answers)}
            print(f"{name} {reader_name[-24:]:24s} drawn exact {row[f'{reader_name}|drawn']['exact_match']:.2%} "
                  f"(digits {row[f'{reader_name}|drawn']['digit_glyphs']:.2%})  real handwriting exact "
                  f"{row[f'{reader_name}|real']['exact_match']:.2%} "
                  f"(digits {row[f'{reader_name}|real']['digit_glyphs']:.2%})", flush=True)
        print(f"{name} variety: drawn {row['variety_drawn']:.3f}, real {row['variety_real']:.3f}", flush=True)
        summary["runs"][key] = row
        if getattr(model.config, "style_dim", 0):
            several_hands(args.out / f"several_hands_{key.replace('/', '_')}.png",
                          lambda x, s, m=model: generate_images(m, x, seed=s), prepared.test, inputs)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out / "summary.json", summary)


if __name__ == "__main__":
    main()

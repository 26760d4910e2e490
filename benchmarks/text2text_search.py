"""Search for the most accurate text->text recipe on unseen arithmetic queries (V23 data).

Self-contained: the 20,000 queries ``i op j`` (i, j in 0..99, op in '+-') are generated inline, split BY QUERY
with ``numpy.random.default_rng(seed).permutation``, and each configuration is trained with a small loop that
mirrors the project trainer (Adam/AdamW, ``lr_factor`` schedules, grad clipping, label smoothing). Reported on
the held-out queries: exact match (whole answer right) and per-character accuracy, plus wall time.

    python benchmarks/text2text_search.py --configs notebook attention --fracs 0.05 0.1 0.5 --seeds 0
    python benchmarks/text2text_search.py --list

Results are merged into ``benchmarks/out/text2text_search.json`` (one entry per config/fraction/seed).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentworks.models.seq2seq import TextToText, count_trainable
from latentworks.recipes.arithmetic import recipe
from latentworks.training.config import TrainConfig
from latentworks.training.optim import lr_factor

CHARSET = "0123456789+- "
OUT = Path(__file__).parent / "out" / "text2text_search.json"


def make_data() -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    queries, answers = [], []
    for i in range(100):
        for j in range(100):
            for op in "+-":
                queries.append(f"{i}{op}{j}".ljust(5))
                answers.append(str(i + j if op == "+" else i - j).ljust(3))
    ids = lambda strings: torch.tensor([[CHARSET.index(c) for c in s] for s in strings])  # noqa: E731
    return ids(queries), ids(answers), queries, answers


def split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(frac * n))
    return perm[:n_train], perm[n_train:]


# name -> (preset, config overrides, training overrides). The ablations each undo one ingredient of ``attention``.
CONFIGS: dict[str, tuple[str, dict, dict]] = {
    "notebook": ("notebook", {}, {}),
    "notebook_enc2": ("notebook", {"enc_layers": 2}, {}),
    "notebook_gru": ("notebook", {"cell": "gru"}, {}),
    "attention": ("attention", {}, {}),
    "attention-values_encoder": ("attention", {"values": "encoder"}, {}),  # attention reads encoder states
    "attention-heads1": ("attention", {"heads": 1}, {}),
    "attention-bridge": ("attention", {"bridge": True}, {}),  # decoder starts from the encoder summary
    "attention-reverse_output": ("attention", {"reverse_output": False}, {}),
    "attention-weight_decay": ("attention", {}, {"weight_decay": 0.01}),
    "attention-3k_steps": ("attention", {}, {"steps": 3000}),
}


def preset(name: str, **model_over):
    """The text2text recipe's model config (``model_over``: its fields by name) and its training settings,
    as this loop reads them."""
    run = recipe(name, task="text2text", **{f"model.{k}": v for k, v in model_over.items()})
    t = run.train
    train = dict(epochs=t.epochs, steps=t.steps, batch_size=t.batch_size, lr=t.lr, optimizer=t.optimizer,
                 weight_decay=t.weight_decay, schedule=t.schedule, warmup_steps=t.warmup_steps,
                 grad_clip=t.clip_value if t.clip == "norm" else None,
                 label_smoothing=run.model.label_smoothing)
    if t.steps:  # a recipe counted in steps: the whole epochs they take on 2,000 training queries (10 %)
        train["epochs"] = math.ceil(t.steps / math.ceil(2000 / t.batch_size))
    if t.threads is not None:
        train["threads"] = t.threads
    return run.model, train


def train_eval(name: str, frac: float, seed: int, data, steps: int | None = None, eval_every: int = 0,
               time_limit: float = 170.0, extra_model: dict | None = None, extra_train: dict | None = None):
    base, model_over, train_over = CONFIGS[name]
    cfg, train = preset(base, **{**model_over, **(extra_model or {})})
    train = {**train, **train_over, **(extra_train or {})}
    if steps is not None:
        train["steps"] = steps
    X, Y, _, _ = data
    tr, te = split(len(X), frac, seed)
    torch.manual_seed(seed)
    model = TextToText(cfg)
    bs = train["batch_size"]
    steps_per_epoch = math.ceil(len(tr) / bs)
    total = train.get("steps") or train["epochs"] * steps_per_epoch
    epochs = math.ceil(total / steps_per_epoch)
    total = epochs * steps_per_epoch
    tcfg = TrainConfig(epochs=epochs, batch_size=bs, lr=train["lr"], optimizer=train["optimizer"],
                       weight_decay=train["weight_decay"], schedule=train["schedule"],
                       warmup_steps=train["warmup_steps"], clip="norm" if train["grad_clip"] else "none",
                       clip_value=train["grad_clip"] or 1.0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if tcfg.optimizer == "adamw" else torch.optim.Adam
    opt = opt_cls(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    Xtr, Ytr, Xte, Yte = X[tr], Y[tr], X[te], Y[te]
    gen = torch.Generator().manual_seed(seed)
    curve, step, t0, stopped, eval_s = [], 0, time.perf_counter(), False, 0.0
    for _epoch in range(epochs):
        model.train()
        order = torch.randperm(len(tr), generator=gen)
        for k in range(0, len(tr), bs):
            idx = order[k:k + bs]
            for g in opt.param_groups:
                g["lr"] = tcfg.lr * lr_factor(step, total, tcfg)
            logits = model(Xtr[idx], Ytr[idx])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Ytr[idx].reshape(-1),
                                   label_smoothing=train["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.clip == "norm":
                torch.nn.utils.clip_grad_norm_(params, tcfg.clip_value)
            opt.step()
            step += 1
            if eval_every and step % eval_every == 0:
                t_eval = time.perf_counter()
                em, ch = evaluate(model, Xte, Yte)
                eval_s += time.perf_counter() - t_eval
                curve.append((step, round(loss.item(), 4), em, ch))
                print(f"    step {step:6d} loss {loss.item():.4f} EM {em:.4f} char {ch:.4f}", flush=True)
        if time.perf_counter() - t0 > time_limit:
            stopped = True
            break
    wall = time.perf_counter() - t0 - eval_s  # training only: the learning-curve evaluations are left out
    em, ch = evaluate(model, Xte, Yte)
    breakdown = error_breakdown(model, Xte, Yte)
    pred = torch.cat([model.predict(Xte[k:k + 4096]) for k in range(0, len(Xte), 4096)])
    wrong = (pred != Yte).any(1).nonzero().flatten().tolist()
    text = lambda row: "".join(CHARSET[i] for i in row)  # noqa: E731
    errors = [f"{text(Xte[i])}={text(Yte[i])} got {text(pred[i])}" for i in wrong[:300]]
    return {
        "config": name, "frac": frac, "seed": seed, "n_train": len(tr), "n_test": len(te),
        "exact_match": em, "char_acc": ch, "wall_s": round(wall, 1), "steps": step, "planned_steps": total,
        "stopped_early_by_time_limit": stopped, "params": count_trainable(model),
        "final_loss": round(loss.item(), 4),
        "model": asdict(cfg), "train": train, "curve": curve, "breakdown": breakdown,
        "errors": errors,
    }


@torch.no_grad()
def error_breakdown(model: TextToText, queries: torch.Tensor, answers: torch.Tensor) -> dict[str, float]:
    """Exact match by operator and by answer length, and which answer positions are wrong."""
    model.eval()
    pred = torch.cat([model.predict(queries[k:k + 4096]) for k in range(0, len(queries), 4096)])
    ok = (pred == answers).all(1)
    out = {}
    for op in "+-":
        op_id = CHARSET.index(op)
        sel = (queries == op_id).any(1)
        out[f"em_op{op}"] = round(ok[sel].float().mean().item(), 4)
    pad_id = CHARSET.index(" ")
    length = (answers != pad_id).sum(1)
    for n in (1, 2, 3):
        sel = length == n
        out[f"em_len{n}"] = round(ok[sel].float().mean().item(), 4)
    for p in range(answers.shape[1]):
        out[f"wrong_pos{p}"] = round((pred[:, p] != answers[:, p]).float().mean().item(), 4)
    return out


@torch.no_grad()
def evaluate(model: TextToText, X: torch.Tensor, Y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    pred = torch.cat([model.predict(X[k:k + 4096]) for k in range(0, len(X), 4096)])
    model.train()
    ok = pred == Y
    return round(ok.all(1).float().mean().item(), 5), round(ok.float().mean().item(), 5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["notebook", "attention"])
    ap.add_argument("--fracs", nargs="+", type=float, default=[0.05, 0.1, 0.5])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--steps", type=int, default=None, help="override the number of optimizer steps")
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=170.0, help="seconds per run (checked each epoch)")
    ap.add_argument("--model", type=json.loads, default=None, help='extra config overrides, JSON')
    ap.add_argument("--train", type=json.loads, default=None, help='extra training overrides, JSON')
    ap.add_argument("--tag", default="", help="suffix for the result key")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for k, v in CONFIGS.items():
            print(k, v)
        return
    torch.set_num_threads(1)
    data = make_data()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in args.configs:
        for frac in args.fracs:
            for seed in args.seeds:
                r = train_eval(name, frac, seed, data, args.steps, args.eval_every, args.time_limit,
                               args.model, args.train)
                key = f"{name}{args.tag}|{frac}|{seed}"
                r["key"] = key
                print(f"{key:40s} EM {r['exact_match']:.4f}  char {r['char_acc']:.4f}  "
                      f"{r['wall_s']:6.1f}s  steps {r['steps']}  params {r['params']}", flush=True)
                results = json.loads(OUT.read_text()) if OUT.exists() else {}
                results[key] = r
                OUT.parent.mkdir(parents=True, exist_ok=True)
                OUT.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

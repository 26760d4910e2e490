import json
import os
import signal
import time

import pytest
import torch

from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.training import checkpoint as ckpt
from latentworks.training.config import TrainConfig
from latentworks.training.module import StepOutput, Trainable
from latentworks.training.optim import lr_factor
from latentworks.training.trainer import Trainer, seed_everything


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = (x.sum(1, keepdim=True) > 0).float()
    return x, y


class Tiny(Trainable, torch.nn.Sequential):
    """A small classifier that owns its loss, as every latentworks model does."""

    def __init__(self):
        super().__init__(torch.nn.Linear(4, 8), torch.nn.Dropout(0.2), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        self.hook = None  # tests swap in a function of (model, step) that may change the loss

    def training_step(self, batch, ctx):
        x, y = batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self(x), y)
        return StepOutput(self.hook(loss, ctx.step) if self.hook else loss)


def _model():
    return Tiny()


def _trainer(out, epochs=4, **kw):
    seed_everything(3)
    cfg = TrainConfig(epochs=epochs, batch_size=16, lr=0.05, seed=3, progress=False, schedule="cosine", **kw)
    return Trainer(_model(), _data(), cfg, out)


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.raw_model.state_dict().items()}


def test_training_reduces_loss_and_writes_run_folder(tmp_path):
    t = _trainer(tmp_path / "run", epochs=15)
    history = t.fit()
    losses = [r["loss"] for r in history if "loss" in r]
    assert losses[-1] < losses[0]
    assert (tmp_path / "run" / "config.json").exists()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == t.total_steps
    assert ckpt.latest_checkpoint(tmp_path / "run" / "checkpoints") is not None


class TinyWithLogs(Tiny):
    def training_step(self, batch, ctx):
        return StepOutput(super().training_step(batch, ctx).loss, {"positives": float(batch[1].mean())})


def test_a_steps_logs_are_written_beside_its_loss(tmp_path):
    seed_everything(3)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=3, progress=False, log_every=1)
    rows = [r for r in Trainer(TinyWithLogs(), _data(), cfg, tmp_path / "run").fit() if "loss" in r]
    assert len(rows) == 8 and all(list(r)[:4] == ["step", "epoch", "loss", "positives"] for r in rows)
    assert {r["positives"] for r in rows} <= {k / 16 for k in range(17)} and len({r["positives"] for r in rows}) > 1


def test_resume_equivalence(tmp_path):
    full = _trainer(tmp_path / "full")
    full.fit()
    half = _trainer(tmp_path / "half")
    half.fit(stop_after=half.total_steps // 2 + 1)  # an odd step, mid-epoch
    resumed = _trainer(tmp_path / "half")
    resumed.fit(resume=True)
    assert resumed.step == full.step
    for k, v in _weights(full).items():
        assert torch.equal(v, _weights(resumed)[k]), k


def test_same_seed_same_weights(tmp_path):
    a, b = _trainer(tmp_path / "a"), _trainer(tmp_path / "b")
    a.fit()
    b.fit()
    for k, v in _weights(a).items():
        assert torch.equal(v, _weights(b)[k])


def _ctrl_c_at(step_at: int, times: int = 1):
    def interrupting(loss, step):
        if step == step_at:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, in the middle of a step
        return loss
    return interrupting


def test_ctrl_c_mid_epoch_finishes_the_step_saves_and_resume_is_bit_identical(tmp_path):
    full = _trainer(tmp_path / "full")
    full.fit()
    t = _trainer(tmp_path / "run")
    t.raw_model.hook = _ctrl_c_at(5)  # step 6 of 16: inside the second epoch of 4 steps
    with pytest.raises(TrainingInterrupted, match="interrupted at step 6; .*--resume"):
        t.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    _, meta = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints")
    assert meta["step"] == 6  # the step in flight finished, then the checkpoint
    resumed = _trainer(tmp_path / "run")
    resumed.fit(resume=True)
    for k, v in _weights(full).items():
        assert torch.equal(v, _weights(resumed)[k]), k
    rows = lambda name: (tmp_path / name / "metrics.jsonl").read_text()  # noqa: E731
    assert rows("run") == rows("full")  # every logged value too, the averaged window included


def test_a_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(tmp_path):
    t = _trainer(tmp_path / "run")
    t.raw_model.hook = _ctrl_c_at(9, times=2)
    with pytest.raises(TrainingInterrupted, match="aborted at step 9; the last checkpoint .* is intact"):
        t.fit()
    _, meta = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints")
    assert meta["step"] == 8  # the end of epoch 2


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    t = _trainer(tmp_path / "run", epochs=3)
    t.raw_model.hook = lambda loss, step: loss * float("nan") if step >= t.steps_per_epoch + 1 else loss
    with pytest.raises(LatentworksError, match="nan at step .*diverged.*last good checkpoint"):
        t.fit()
    _, meta = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints")
    assert meta["step"] == t.steps_per_epoch


def test_interrupted_checkpoint_write_leaves_previous_intact(tmp_path, monkeypatch):
    t = _trainer(tmp_path / "run", epochs=2)
    t.fit()
    before = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints")[1]["step"]

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", crash)
    t.step += 1
    with pytest.raises(OSError):
        t.save()
    tensors, meta = ckpt.load_checkpoint(tmp_path / "run" / "checkpoints")
    assert meta["step"] == before
    assert "model/model/0.weight" in tensors


def test_a_fused_optimizer_resumes_a_channels_last_parameter_exactly(tmp_path):
    """Checkpoints store moments contiguous; restored beside a channels-last weight, a fused Adam would pair the
    wrong elements unless the moments are laid out like the weight again."""
    from latentworks.training.optim import build_optimizer

    grads = [torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    start = torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)

    def run(resume_after: int | None) -> torch.Tensor:
        weight = torch.nn.Parameter(start.clone())
        opt = build_optimizer([weight], TrainConfig(optimizer="adam", lr=1e-2))
        assert opt.defaults["fused"]
        for i, g in enumerate(grads):
            weight.grad = g.clone()
            opt.step()
            if i == resume_after:
                ckpt.save_checkpoint(tmp_path, step=i, modules={}, optimizers={"main": opt}, meta={})
                opt = build_optimizer([weight], TrainConfig(optimizer="adam", lr=1e-2))
                tensors, meta = ckpt.load_checkpoint(tmp_path)
                ckpt.restore_optimizers({"main": opt}, meta, tensors)
        return weight.detach()

    assert torch.equal(run(resume_after=0), run(resume_after=None))


def test_lr_schedules():
    cfg = TrainConfig(schedule="cosine", warmup_steps=10)
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1)
    assert lr_factor(10, 100, cfg) == pytest.approx(1.0)
    assert lr_factor(100, 100, cfg) == pytest.approx(0.0)
    assert lr_factor(50, 100, TrainConfig(schedule="constant", warmup_steps=10)) == 1.0


def test_train_seconds_add_up_over_sessions_and_a_fresh_fit_drops_a_stale_result(tmp_path):
    run = tmp_path / "run"
    half = _trainer(run)
    half.fit(stop_after=half.total_steps // 2)
    first = half.train_seconds
    assert first > 0 and half.train_seconds == first  # frozen once fit returns
    resumed = _trainer(run)
    resumed.fit(resume=True)
    assert resumed.seconds_before == pytest.approx(first, abs=0.05)
    assert resumed.train_seconds == pytest.approx(resumed.seconds_before + resumed.elapsed)
    (run / "results.json").write_text("{}")
    _trainer(run).fit()  # started over: the old result no longer describes this run
    assert not (run / "results.json").exists()


@pytest.mark.parametrize("epochs, min_steps, steps, expected", [
    (2, 0, None, 8),  # 64 examples at batch 16: 4 steps an epoch
    (2, 13, None, 13),  # a small training set gets more passes, to the step
    (5, 13, None, 20),  # enough epochs: they decide
    (5, 13, 7, 7),  # --steps decides whatever the rest say
])
def test_min_steps_lengthens_a_run_on_a_small_training_set(tmp_path, epochs, min_steps, steps, expected):
    t = _trainer(tmp_path / "run", epochs=epochs, min_steps=min_steps, steps=steps)
    t.fit()
    assert t.total_steps == expected == t.step


def test_eval_seconds_is_the_share_of_the_fit_spent_evaluating(tmp_path):
    def slow_eval(model, epoch):
        time.sleep(0.05)
        return {"acc": 0.5}

    seed_everything(3)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=3, progress=False)
    timed = Trainer(_model(), _data(), cfg, tmp_path / "timed", eval_fn=slow_eval)
    timed.fit()
    assert 2 * 0.05 <= timed.eval_seconds < timed.elapsed  # one evaluation at each epoch's end
    plain = _trainer(tmp_path / "plain", epochs=2)
    plain.fit()
    assert plain.eval_seconds == 0.0

"""The bookkeeping both training loops share: row averages, cadences, divergence, signals, resume fields."""

import os
import signal

import pytest

from latentworks.errors import LatentworksError, TrainingInterrupted
from latentworks.runs import RunDir
from latentworks.training.config import RESUME_FREE, TrainConfig
from latentworks.training.loop import Loop, resume_free


def _loop(tmp_path, total=10, **train):
    return Loop(TrainConfig(**{"progress": False, **train}), RunDir(tmp_path / "run"), {"family": "t"}, total)


def test_rows_average_their_window_and_the_last_row_leaves_it_open(tmp_path):
    loop = _loop(tmp_path, total=5, log_every=2)
    rows = []
    for step, loss in enumerate([4.0, 2.0, 3.0, 1.0, 5.0], start=1):
        loop.step = step
        loop.accumulate({"loss": loss, "lr": 0.1})
        regular = loop.regular_row()
        if regular or loop.last:
            rows.append(loop.averages({"lr": 0.1}, regular))
    assert rows == [{"loss": 3.0, "lr": 0.1}, {"loss": 2.0, "lr": 0.1}, {"loss": 5.0, "lr": 0.1}]
    # Step 5 is the last, not a regular row: a run resumed with more steps averages steps 5-6 in its next row.
    assert loop.meta()["log_window"] == {"loss": 5.0, "__n": 1.0}


def test_cadence_every_n_steps_every_epoch_and_always_the_last(tmp_path):
    loop = _loop(tmp_path, total=10)
    due = {every: [s for s in range(1, 11) if setattr(loop, "step", s) or loop.due(every, s % 5 == 0)]
           for every in (0, 3)}
    assert due == {0: [5, 10], 3: [3, 6, 9, 10]}


def test_divergence_is_one_line_naming_the_last_good_checkpoint(tmp_path):
    loop = _loop(tmp_path)
    loop.check_finite({"loss": 2.0}, 1)
    loop.check_finite({"loss": 2.0e4}, 2)  # large, but under 1e4 times the first loss
    with pytest.raises(LatentworksError, match=r"^loss became 3e\+04 at step 3 \(epoch 1\); training diverged"):
        loop.check_finite({"loss": 3.0e4}, 3, epoch=0)
    loop.last_good = tmp_path / "run" / "checkpoints" / "step-00000002.safetensors"
    with pytest.raises(LatentworksError, match="acc became nan at step 4; .*kept in .*checkpoints; lower --lr") as e:
        loop.check_finite({"loss": 1.0, "acc": float("nan")}, 4)
    assert "\n" not in str(e.value)


def test_first_signal_stops_after_the_step_a_second_aborts(tmp_path):
    loop = _loop(tmp_path)
    said = []
    before = signal.getsignal(signal.SIGTERM)
    aborted = pytest.raises(TrainingInterrupted, match="aborted at step 3; no checkpoint was written yet")
    with aborted, loop.session(said.append):
        loop.step = 3
        os.kill(os.getpid(), signal.SIGTERM)
        assert loop.stop and "stopping after this step" in said[0]
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before and loop.session_steps == 3


def test_one_set_of_free_fields_for_a_rerun_and_more_for_a_resume():
    from latentworks.studies import executor

    assert executor.RESUME_FREE is RESUME_FREE  # the study's reuse check and the trainer read one definition
    constant, cosine = resume_free(TrainConfig()), resume_free(TrainConfig(schedule="cosine"))
    assert set(RESUME_FREE) < set(cosine) < set(constant)
    assert "train.log_every" in cosine and "train.log_every" not in RESUME_FREE
    assert "train.steps" in constant and "train.steps" not in cosine

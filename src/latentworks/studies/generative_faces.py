"""Face runs of the study scored in the packaged face feature network's space (FLD beside its real floor,
precision / recall), kept in each run's results.json where the report and the explorer read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FACE_EVAL_N = 2000  # samples per face run; the floor sets as many train faces against the held-out ones


def score_face_run(run_dir: Path, model: Any, seed: int) -> dict[str, Any]:
    """A face run's scores in the face feature network's space (``gen eval``'s, with ``FACE_EVAL_N`` samples and no
    KID), written into its results.json under ``eval`` (the explorer's headline reads it); a run already scored
    with the same settings and weights is not scored again. ``{"skipped": why}`` when it cannot be scored (no
    packaged network, too few held-out faces)."""
    from latentworks.errors import LatentworksError
    from latentworks.pipelines.face_features import PACKAGED_FACE_FEATURES
    from latentworks.pipelines.generative_eval import evaluate_run, weights_fingerprint
    from latentworks.runs import add_results_section, read_json

    settings = {"n": FACE_EVAL_N, "seed": seed, "kid": False,
                "features": weights_fingerprint(PACKAGED_FACE_FEATURES)}
    done = read_json(run_dir / "results.json").get("eval") if (run_dir / "results.json").is_file() else None
    if isinstance(done, dict) and done.get("settings") == settings:
        return done
    try:
        ev = evaluate_run(model, run_dir, quiet=True, n=FACE_EVAL_N, seed=seed, kid=False)
    except LatentworksError as err:
        return {"skipped": str(err)}
    return add_results_section(run_dir, "eval", {**ev, "settings": settings})["eval"]


__all__ = ["FACE_EVAL_N", "score_face_run"]

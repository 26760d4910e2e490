"""``latentworks gen eval``: the evaluation of a finished generative run, MNIST with the digit reader or faces
(``--preset faces``) with the face feature network (a thin face on :mod:`latentworks.pipelines.generative_eval`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from latentworks.cli import limits
from latentworks.cli.common import Output, output_path
from latentworks.cli.gen_tools import Run, load_run
from latentworks.cli.parsing import parse
from latentworks.config import validate
from latentworks.data.roots import check_data_dir


@dataclass
class Evaluate:
    at: Run
    n: int = 10000  # generated samples (and real ones, at most): 2 to 100,000
    seed: int = 0
    reader: str | None = None  # folder of a trained digit reader (default: the packaged one)
    data_dir: str | None = None  # MNIST folder ('embedded': the packaged sample)
    batch: int = 500  # 1 to 4,096 images at a time
    kid: bool = True  # also the kernel distance (a few seconds)
    k: int = 5000  # VAEs: importance samples for the NLL (1 to 100,000)
    nll_images: int | None = None  # VAEs: score N random test images (default all; at most 100,000)
    nll: bool = True  # VAEs: the −ELBO and IW-NLL
    out: Output = field(default_factory=Output)  # the JSON (default RUN/eval_generative.json)

    def check(self) -> None:
        limits.seed(self.seed)
        limits.between(self.n, "n", 2, limits.MAX_SAMPLES, "generated images held in memory at once")
        limits.between(self.batch, "batch", 1, limits.MAX_IMAGES, "images through the model at a time")
        limits.between(self.k, "k", 1, limits.MAX_SAMPLES, "importance samples per image")
        if self.nll_images is not None:
            limits.between(self.nll_images, "nll_images", 1, limits.MAX_SAMPLES, "test images scored")


def evaluate(argv: list[str], prog: str) -> int:
    from latentworks.pipelines.generative_eval import evaluate_run, summary_lines
    from latentworks.report.plots import bar_plot
    from latentworks.runs import write_json
    from latentworks.training.trainer import pick_device

    a = parse(Evaluate, argv, prog=prog, description="MNIST evaluation with the digit reader: class histogram, "
              "FLD and its floor, precision / recall, conditional accuracy, VAE NLL; a --preset faces run: FLD "
              "and its floor, precision / recall with the face feature network.")
    validate(a)
    check_data_dir(a.data_dir)
    run_dir = Path(a.at.run)
    out = output_path(a.out.output, overwrite=a.out.overwrite, default=run_dir / "eval_generative.json", own=run_dir,
                      suffixes=(".json",))
    fig_path = output_path(str(out.with_name(f"{out.stem}_class_histogram.png")) if a.out.output else None,
                           overwrite=a.out.overwrite, default=run_dir / "figures" / "eval_class_histogram.png",
                           own=run_dir)
    model = load_run(a.at, a)
    result = evaluate_run(model, run_dir, reader=a.reader, data_dir=a.data_dir,
                          device=str(pick_device(a.at.device.device)), n=a.n, seed=a.seed, kid=a.kid,
                          batch=a.batch, nll_k=a.k if a.nll else 0, nll_images=a.nll_images)
    write_json(out, result)
    print("\n".join(summary_lines(result)))
    if "class_histogram" in result:  # faces have no classes
        hist = result["class_histogram"]
        print(bar_plot([str(i) for i in range(len(hist))], hist, fig_path,
                       title=f"reader's classes over {a.n:,} samples", ylabel="samples"))
    print(out)
    return 0


__all__ = ["evaluate"]

import base64
import io

import numpy as np
from PIL import Image

from latentworks.report import plots
from latentworks.report.html import section_from_run, write_report
from latentworks.runs import RunDir


def test_report_embeds_figures_and_metrics(tmp_path):
    run = RunDir(tmp_path / "run")
    plots.line_plot({"a": ([1, 2, 3], [0.1, 0.5, 0.9])}, run.figures / "curve.png", title="t", xlabel="x",
                    ylabel="y")
    run.write_results(kind="demo", config={"lr": 0.1}, metrics={"test": {"exact_match": 0.75}}, seed=3)
    out = write_report([section_from_run(run.root)], tmp_path / "report.html")
    page = out.read_text()
    assert "exact_match" in page and "0.75" in page
    payload = page.split("data:image/png;base64,")[1].split('"')[0]
    img = Image.open(io.BytesIO(base64.b64decode(payload)))
    assert img.format == "PNG"


def test_image_grid_writes_png(tmp_path):
    path = plots.image_grid(np.random.rand(6, 28, 28), tmp_path / "g.png", nrow=2, numbered=True)
    assert Image.open(path).size[0] > 0

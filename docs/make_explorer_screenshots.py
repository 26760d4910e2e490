"""Screenshots of ``latentworks explore`` for the README, with headless Debian chromium (playwright drives it).

    latentworks run --profile quick --out runs/quick          # the trained runs shown
    python docs/make_explorer_screenshots.py runs/quick        # → docs/explorer-*.png

Starts the explorer on a free port on 127.0.0.1, opens three runs of the quick study (the VAE with a grid,
an interpolation, a moved slider and the map; the image→text arithmetic model reading a held-out query in MNIST
test handwriting; the NumPy char-RNN streaming text) and writes one PNG per view, each kept under 300 KB.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from pathlib import Path

VIEWS = {
    "generative": "generative/mnist/vae",
    "arithmetic": "arithmetic/img2text-glyph-columns",
    "charrnn": "charrnn/numpy-main",
}


def shrink(png: bytes, limit: int = 300_000) -> bytes:
    """The PNG re-encoded with an adaptive palette when it is over ``limit`` bytes."""
    from PIL import Image

    if len(png) <= limit:
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", help="the quick study folder (runs/quick)")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "latentworks", "explore", a.study, "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" at ")[1].split()[0]
        time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            page.goto(f"{url}#run={VIEWS['generative']}")
            page.wait_for_selector("#grid img[data-index='24']")
            page.wait_for_selector("#dir-0")
            page.click("#grid img[data-index='3']")
            page.click("#grid img[data-index='17']")
            page.locator("#dir-0").fill("2.5")
            page.locator("#dir-3").fill("-1.5")
            page.click("#slot-A")  # A, then B and C in turn: decode(A - B + C)
            for cell in (8, 13, 21):
                page.click(f"#grid img[data-index='{cell}']")
            page.wait_for_function("document.querySelector('#arith-result').src.startsWith('data:image/png')")
            page.wait_for_function("document.querySelectorAll('#interp-strip img').length === 10")
            page.wait_for_timeout(1500)  # the map's held-out images are encoded on first use
            box = page.locator("#map").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
            page.wait_for_timeout(800)
            shots = {"generative": page.screenshot(full_page=True)}

            page.set_viewport_size({"width": 1280, "height": 520})
            page.goto(f"{url}#run={VIEWS['arithmetic']}")
            page.wait_for_selector("#answer .big-text")
            # random test handwriting until the query is a held-out one: the tag the project's headline claim is about
            for _ in range(20):
                if page.get_attribute("#split", "data-split") == "held_out":
                    break
                page.evaluate("document.querySelector('#answer').replaceChildren()")
                page.click("#handwriting")
                page.wait_for_selector("#answer .big-text")
            page.wait_for_timeout(300)
            shots["arithmetic"] = page.screenshot(full_page=True)

            page.goto(f"{url}#run={VIEWS['charrnn']}")
            page.fill("#prime", "The ")
            page.click("#generate")
            page.wait_for_function("document.querySelector('#generated').textContent.length > 500")
            page.wait_for_timeout(1200)
            shots["charrnn"] = page.screenshot(full_page=True)
            browser.close()
        for name, png in shots.items():
            path = Path(a.out) / f"explorer-{name}.png"
            path.write_bytes(shrink(png))
            print(path, path.stat().st_size)
        if errors:
            print("console errors:", errors)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()

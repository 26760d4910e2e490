"""Screenshots of a study's report for the README, with headless Debian chromium (playwright drives it).

    latentworks run --profile quick --out runs/quick          # the study shown
    python docs/make_report_screenshots.py runs/quick          # → docs/report-*.png

Opens STUDY/report.html (a file: the page is self-contained) 1,200 px wide and writes the top of the page (title,
summary table, down to "How to read this") as report-top.png and the first screen of each family's section as
report-{arithmetic,generative,charrnn}.png, each kept under 300 KB. The study folder is only read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_explorer_screenshots import shrink  # the same palette re-encoding as the explorer's shots

WIDTH, TOP_HEIGHT, SECTION_HEIGHT = 1200, 1600, 1700
# a section is known by its title's first word, so a retitled section still finds its picture
FAMILIES = {"arithmetic": "arithmetic", "generative": "generative", "character": "charrnn"}


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", help="a finished study folder (runs/quick)")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    page_path = Path(a.study).resolve() / "report.html"
    if not page_path.is_file():
        raise SystemExit(f"{page_path} does not exist: run the study first (latentworks run --profile quick)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=a.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": TOP_HEIGHT})
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        # the page's figures load lazily (as they scroll into view): load them all before any picture is taken
        page.eval_on_selector_all("img[loading=lazy]", "imgs => imgs.forEach(i => { i.loading = 'eager'; })")
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        height = page.evaluate("document.documentElement.scrollHeight")
        # the top ends below "How to read this" (the note after the summary), however long the summary grew
        note = page.eval_on_selector("div.note", "e => e.getBoundingClientRect().bottom + window.scrollY")
        top_height = min(height, max(TOP_HEIGHT, int(note) + 24))
        shots = {"top": page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": top_height})}
        links = page.eval_on_selector_all("nav > ol > li > a", "as => as.map(a => [a.textContent, a.hash])")
        for title, anchor in links:
            name = FAMILIES.get(title.split()[0].lower().rstrip(":"))
            if name is None:
                continue
            top = max(0, page.eval_on_selector(anchor, "e => e.getBoundingClientRect().top + window.scrollY") - 16)
            clip = {"x": 0, "y": top, "width": WIDTH, "height": min(SECTION_HEIGHT, height - top)}
            shots[name] = page.screenshot(full_page=True, clip=clip)
        browser.close()
    missing = {"top", *FAMILIES.values()} - set(shots)
    for name, png in shots.items():
        path = Path(a.out) / f"report-{name}.png"
        path.write_bytes(shrink(png))
        print(path, path.stat().st_size)
    if missing:
        raise SystemExit(f"no section found for {', '.join(sorted(missing))} in the page's contents")


if __name__ == "__main__":
    main()

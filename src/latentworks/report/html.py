"""One self-contained HTML page from a study or from run folders: figures embedded as PNG, no outside file.

The page reads top-down: a summary table of every headline measure (the run's recipe, the course's figure and a
peer's where one exists, ours, the held-out set and its size; a column empty in every row is left out), a note on
how to read the measures, a table of contents, then one section per family with its tables and figures, each run
folded into a line that opens to its details (:mod:`latentworks.report.run_section`). Numbers go through
:mod:`latentworks.report.names`: human names (the raw key in a tooltip), percentages throughout. A value read from
a run is tagged with its results.json key (:func:`shown`), so a test can read every one back.

A study also saves its page as ``report.json`` (sections, tables, figure paths relative to the study folder), so
``latentworks report STUDY_DIR`` rebuilds the same page without re-running anything.
"""

from __future__ import annotations

import base64
import html
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from latentworks.errors import LatentworksError
from latentworks.registry import Measure
from latentworks.report.names import fmt, kind_of
from latentworks.runs import RunDir, atomic_write_bytes, environment, read_json, write_json

CSS = """
body{font:15px/1.55 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1080px;margin:2em auto;padding:0 1em;
 color:#1d232a}
h1{font-size:1.9em;margin:0 0 .2em}h2{border-bottom:2px solid #dde3ea;padding-bottom:.2em;margin-top:2.2em}
h3{margin-top:1.6em}a{color:#1f5f99}code{background:#f2f4f7;padding:0 .25em;border-radius:3px;font-size:.92em}
.scroll{overflow-x:auto;margin:.8em 0}table{border-collapse:collapse;font-size:13.5px}
th,td{border:1px solid #d5dbe2;padding:.28em .55em;text-align:right;vertical-align:top}
th{background:#f3f6f9;font-weight:600}td:first-child,th:first-child{text-align:left}td.text,th.text{text-align:left}
td.mono{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;font-size:12.5px}
caption{caption-side:bottom;text-align:left;color:#55606b;font-size:12.5px;padding-top:.3em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #e6eaee}
figcaption{color:#55606b;font-size:13px;margin-top:.2em}.meta{color:#67727e;font-size:13px}
.note{background:#f6f8fb;border-left:3px solid #8aa7c2;padding:.5em .9em;margin:1em 0}
.warn{background:#fffaeb;border-left:3px solid #d9a400;padding:.5em .9em}
nav ol{columns:2;font-size:14px}details{margin:.35em 0;border:1px solid #e3e8ed;border-radius:4px;padding:.2em .7em}
details>summary{cursor:pointer;font-weight:600}details[open]>summary{margin-bottom:.4em}
.summary td:nth-child(2),.summary td:nth-child(3){color:#55606b}
"""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    # per column: pct | pct_signed | num | int | secs | ratio | text | mono | auto | shown (formatted already)
    formats: list[str] | None = None
    tips: list[str] | None = None  # per column: a tooltip (what the column measures, the raw key)


@dataclass
class Section:
    title: str
    text: str = ""  # trusted HTML written by latentworks itself
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png path, caption: what to look at)
    subsections: list[Section] = field(default_factory=list)
    folded: bool = False  # shown as one line (``summary``) that opens to the rest: a run's details
    summary: str = ""
    run: str = ""  # the run folder whose results.json the section's measures are read from


@dataclass
class Headline:
    """One row of the summary table."""

    family: str
    measure: str
    ours: Any
    kind: str = "pct"
    course: Any = None  # the course documents' own figure, where they give one
    course_note: str = ""
    peer: Any = None  # a published or well-known peer's figure, where the set-up matches
    peer_note: str = ""
    held_out: str = ""
    n: int | None = None
    recipe: str = ""  # the recipe of the run it was read from
    run: str = ""  # that run's folder: ``ours`` is its results.json at ``key``, ``n`` at ``n_key``
    key: str = ""
    n_key: str = ""


def value_at(results: dict[str, Any], key: str) -> Any:
    """The number or text at a dotted ``key`` of a results.json (None where there is none)."""
    return Measure(key, key, "higher", "", "").value(results)


def headline_from_run(run_dir: str | Path, family: str, measure: str, key: str | Measure, *, kind: str | None = None,
                      n_key: str = "", **more: Any) -> Headline | None:
    """A summary row read from a run's own results.json (None when the run did not record ``key``): the page
    cannot show a number its run does not hold. ``key`` may be a registered measure, whose format it takes."""
    results = RunDir(run_dir, create=False).read_results()
    if isinstance(key, Measure):
        key, kind = key.key, kind or key.fmt
    ours = value_at(results, key)
    if ours is None:
        return None
    recipe = (results.get("config") or {}).get("recipe") or ""
    n = value_at(results, n_key) if n_key else None
    return Headline(family, measure, ours, kind=kind or kind_of(key.rsplit(".", 1)[-1]), n=n, recipe=str(recipe),
                    run=str(run_dir), key=key, n_key=n_key if n is not None else "", **more)


def shown(value: Any, kind: str, key: str = "", tip: str = "") -> str:
    """A value as :func:`fmt` shows it, tagged with the results.json key it was read from (a test reads every
    tagged value back from the run's results.json)."""
    if not key:
        return fmt(value, kind)
    title = html.escape(f"{key}: {tip}" if tip else key)
    return (f'<span class="v" data-key="{html.escape(key)}" data-fmt="{kind}" title="{title}">{fmt(value, kind)}'
            "</span>")


HOW_TO_READ = (
    "<div class='note'><b>How to read this.</b> Every score is on data the model never trained on. "
    "<b>Exact match</b> counts answers whose every character is right; <b>per-character accuracy</b> (the course's "
    "Keras metric) counts characters, so '46' for '47' is half right — it flatters a model, which is why exact "
    "match comes first. <b>FLD</b> is the Fréchet distance between generated and real held-out digits in a frozen "
    "digit reader's features; its <b>floor</b> is the distance between real train and real test digits at the same "
    "sizes, what a perfect generator would score, so <b>FLD / floor</b> of 1× is as good as real data. "
    "<b>nats</b> are natural-log units of likelihood: lower is better for NLL and nats/char.</div>")


# ------------------------------------------------------------------------------------------ rendering
def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    base = (base[:41].rsplit("-", 1)[0] if len(base) > 40 else base) or "section"
    slug, i = base, 2
    while slug in used:
        slug, i = f"{base}-{i}", i + 1
    used.add(slug)
    return slug


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" loading="lazy">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _cell(value: Any, kind: str) -> str:
    if kind == "html":  # built by latentworks itself with shown(): a tagged value, right-aligned
        return f"<td>{value}</td>"
    if kind == "shown":  # formatted by the caller (each row its own format): right-aligned like a number
        return f"<td>{html.escape(str(value))}</td>"
    css = ' class="mono"' if kind == "mono" else (' class="text"' if kind == "text" or isinstance(value, str)
                                                  else "")
    return f"<td{css}>{fmt(value, 'text' if kind == 'mono' else kind)}</td>"


def _table(table: Table) -> str:
    tips = table.tips or [""] * len(table.columns)
    formats = table.formats or ["auto"] * len(table.columns)

    def th(column: str, tip: str, kind: str) -> str:
        attrs = (f' title="{html.escape(tip)}"' if tip else "") + (' class="text"' if kind in ("text", "mono")
                                                                   else "")
        return f"<th{attrs}>{html.escape(column)}</th>"

    head = "".join(th(c, t, k) for c, t, k in zip(table.columns, tips, formats, strict=True))
    body = "".join("<tr>" + "".join(_cell(v, k) for v, k in zip(row, formats, strict=True)) + "</tr>"
                   for row in table.rows)
    cap = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(section: Section, level: int, slugs: dict[int, str]) -> str:
    inner = []
    if section.text:
        inner.append(f"<div>{section.text}</div>")
    inner += [_table(t) for t in section.tables]
    inner += [_img(p, c) for p, c in section.figures if Path(p).exists()]
    inner += [_section(s, min(level + 1, 4), slugs) for s in section.subsections]
    anchor = slugs.get(id(section))
    ident = f' id="{anchor}"' if anchor else ""
    if section.run:
        ident += f' data-run="{html.escape(section.run)}"'
    if section.folded:
        summary = html.escape(section.title) + (f" — {section.summary}" if section.summary else "")
        return f"<details{ident}><summary>{summary}</summary>{''.join(inner)}</details>"
    return f"<h{level}{ident}>{html.escape(section.title)}</h{level}>" + "\n".join(inner)


def _toc(sections: list[Section], slugs: dict[int, str]) -> str:
    items = []
    for s in sections:
        subs = [c for c in s.subsections if not c.folded]
        sub = "".join(f'<li><a href="#{slugs[id(c)]}">{html.escape(c.title)}</a></li>' for c in subs)
        items.append(f'<li><a href="#{slugs[id(s)]}">{html.escape(s.title)}</a>'
                     + (f"<ol>{sub}</ol>" if sub else "") + "</li>")
    return f"<nav><b>Contents</b><ol>{''.join(items)}</ol></nav>"


def _summary_table(headlines: list[Headline]) -> str:
    """One row per headline; a column empty in every row (no recipe, no course or peer figure) is left out."""
    has = {"recipe": any(h.recipe for h in headlines), "course": any(h.course is not None for h in headlines),
           "peer": any(h.peer is not None for h in headlines)}
    rows = []
    for h in headlines:
        cells = [f"<td>{html.escape(h.family)}: {html.escape(h.measure)}</td>"]
        if has["recipe"]:
            cells.append(f"<td class='text'>{html.escape(h.recipe) or '—'}</td>")
        for column, value, note in (("course", h.course, h.course_note), ("peer", h.peer, h.peer_note)):
            if has[column]:
                cells.append(f'<td title="{html.escape(note)}">{fmt(value, h.kind) if value is not None else "—"}'
                             "</td>")
        n = shown(h.n, "int", h.n_key) if h.n else "—"
        cells += [f"<td><b>{shown(h.ours, h.kind, h.key)}</b></td>", f"<td class='text'>{html.escape(h.held_out)}</td>",
                  f"<td>{n}</td>"]
        run = f' data-run="{html.escape(h.run)}"' if h.run else ""
        rows.append(f"<tr{run}>{''.join(cells)}</tr>")
    notes = [f"{h.measure}: course — {h.course_note}" for h in headlines if h.course_note]
    notes += [f"{h.measure}: peer — {h.peer_note}" for h in headlines if h.peer_note]
    foot = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    head = "".join(("<th class='text'>" if c == "recipe" else "<th>") + f"{c}</th>"
                   for c in ("recipe", "course", "peer") if has[c])
    return ("<div class='scroll'><table class='summary'><thead><tr><th>measure</th>" + head +
            "<th>latentworks</th><th class='text'>held-out data</th><th>n</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></div>" + (f"<details><summary>Where the course and peer figures come from"
                                            f"</summary><ul class='meta'>{foot}</ul></details>" if foot else ""))


def render(sections: list[Section], title: str = "latentworks report", intro: str = "",
           headlines: list[Headline] | None = None, env: dict[str, Any] | None = None,
           built: str | None = None) -> str:
    """The page; ``env`` and ``built`` say where and when its numbers were made (default: here, now), so a page
    rebuilt from report.json keeps the study's own machine and date."""
    env = env or environment()
    used: set[str] = set()
    slugs: dict[int, str] = {}
    for s in sections:
        slugs[id(s)] = _slug(s.title, used)
        for c in s.subsections:
            if not c.folded:
                slugs[id(c)] = _slug(c.title, used)
    facts = [built or time.strftime("%Y-%m-%d %H:%M"), f"latentworks {env.get('latentworks')}",
             f"torch {env.get('torch')}", f"{env.get('cpu_count')} CPUs", f"GPU {env.get('cuda')}",
             f"commit {env.get('git_commit')}"]
    meta = f'<p class="meta">{" · ".join(html.escape(str(f)) for f in facts)}</p>'
    top = [f"<h1>{html.escape(title)}</h1>", meta, intro]
    if headlines:
        top += ["<h2 id='summary'>Summary</h2>", _summary_table(headlines), HOW_TO_READ]
    if len(sections) > 1:
        top.append(_toc(sections, slugs))
    body = "\n".join(_section(s, 2, slugs) for s in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(top)}{body}</body></html>")


def write_report(sections: list[Section], out: str | Path, title: str = "latentworks report", intro: str = "",
                 headlines: list[Headline] | None = None, env: dict[str, Any] | None = None,
                 built: str | None = None) -> Path:
    out = Path(out)
    atomic_write_bytes(out, render(sections, title, intro, headlines, env, built).encode())
    return out


# ------------------------------------------------------------------------------------------ report.json
def save_page(path: str | Path, sections: list[Section], title: str, intro: str,
              headlines: list[Headline]) -> None:
    """The page as JSON, figure paths relative to its folder, with the machine and time it was built, so
    ``latentworks report`` can rebuild it as it was."""
    root = Path(path).parent.resolve()

    def rel(section: Section) -> dict[str, Any]:
        d = asdict(section)
        d["figures"] = [[_relative(p, root), c] for p, c in section.figures]
        d["subsections"] = [rel(s) for s in section.subsections]
        return d

    write_json(path, {"title": title, "intro": intro, "headlines": [asdict(h) for h in headlines],
                      "sections": [rel(s) for s in sections], "environment": environment(),
                      "built": time.strftime("%Y-%m-%d %H:%M")})


def _relative(path: Path | str, root: Path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(root)) if root in p.parents else str(p)


@dataclass
class Page:
    """A page read back from report.json."""

    sections: list[Section]
    title: str
    intro: str
    headlines: list[Headline]
    env: dict[str, Any] | None = None
    built: str | None = None

    def write(self, out: str | Path, title: str | None = None) -> Path:
        return write_report(self.sections, out, title or self.title, self.intro, self.headlines, self.env,
                            self.built)


def load_page(path: str | Path) -> Page:
    """report.json back into a page; a damaged or foreign file is one line naming it."""
    data = read_json(path)
    root = Path(path).parent

    def known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}

    def section(d: dict[str, Any]) -> Section:
        return Section(title=d["title"], text=d.get("text", ""),
                       tables=[Table(**known(Table, t)) for t in d.get("tables", [])],
                       figures=[(root / p, c) for p, c in d.get("figures", [])],
                       subsections=[section(s) for s in d.get("subsections", [])],
                       folded=d.get("folded", False), summary=d.get("summary", ""), run=d.get("run", ""))

    try:
        return Page([section(s) for s in data["sections"]], data.get("title", "latentworks report"),
                    data.get("intro", ""), [Headline(**known(Headline, h)) for h in data.get("headlines", [])],
                    data.get("environment"), data.get("built"))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise LatentworksError(f"{path} is not a report this latentworks can read ({type(err).__name__}: "
                               f"{str(err)[:60]}); rebuild the study with latentworks run ... --resume") from None


__all__ = ["HOW_TO_READ", "Headline", "Page", "Section", "Table", "headline_from_run", "load_page", "render",
           "save_page", "shown", "value_at", "write_report"]

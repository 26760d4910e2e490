"""One self-contained HTML page from run folders or study sections: figures are embedded as base64 PNGs."""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentworks.runs import RunDir, atomic_write_bytes, environment

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
 padding:0 1em;color:#222}
h1{font-size:1.8em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.5em} table{border-collapse:collapse;margin:.8em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left} figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:13px} .meta{color:#666;font-size:13px} details{margin:.5em 0}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px} .note{background:#fffbe6;padding:.5em .8em}
"""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Section:
    title: str
    text: str = ""  # trusted HTML written by latentworks itself
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png path, caption)
    subsections: list[Section] = field(default_factory=list)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.2f}"
    return html.escape("—" if value is None else str(value))


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>" for row in table.rows)
    cap = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(section: Section, level: int = 2) -> str:
    parts = [f"<h{level}>{html.escape(section.title)}</h{level}>"]
    if section.text:
        parts.append(f"<div>{section.text}</div>")
    parts += [_table(t) for t in section.tables]
    parts += [_img(p, c) for p, c in section.figures if Path(p).exists()]
    parts += [_section(s, min(level + 1, 4)) for s in section.subsections]
    return "\n".join(parts)


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif not isinstance(value, list):
        out[prefix] = value
    return out


def section_from_run(run_dir: str | Path) -> Section:
    """A report section for any run folder: its headline metrics, its config and all of its figures."""
    run = RunDir(run_dir, create=False)
    results = run.read_results()
    metrics = {}
    for key in ("test", "metrics", "eval"):
        if key in results:
            flatten(key, results[key], metrics)
    rows = [[k, v] for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None]
    config = html.escape(__import__("json").dumps(results.get("config", {}), indent=1))
    text = (f'<p class="meta">{html.escape(str(run.root))} · kind <b>{html.escape(str(results.get("kind")))}</b>'
            f' · seed {results.get("seed")}</p>'
            f"<details><summary>configuration</summary><pre>{config}</pre></details>")
    figures = [(p, p.stem.replace("_", " ")) for p in sorted(run.figures.glob("*.png"))]
    tables = [Table(["metric", "value"], rows)] if rows else []
    return Section(results.get("title", run.root.name), text=text, tables=tables, figures=figures)


def write_report(sections: list[Section], out: str | Path, title: str = "latentworks report",
                 intro: str = "") -> Path:
    env = environment()
    meta = (f'<p class="meta">generated {time.strftime("%Y-%m-%d %H:%M")} · latentworks {env["latentworks"]}'
            f' · torch {env["torch"]} · {html.escape(str(env["platform"]))} · {env["cpu_count"]} CPUs'
            f' · GPU {html.escape(str(env["cuda"]))} · commit {env["git_commit"]}</p>')
    body = "\n".join(_section(s) for s in sections)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{meta}{intro}{body}</body></html>")
    out = Path(out)
    atomic_write_bytes(out, page.encode())
    return out

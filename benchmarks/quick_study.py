"""The main job, serial and parallel, one after the other on this box: wall time, peak memory and the weights.

    python benchmarks/quick_study.py                 # latentworks run --profile quick, --workers 1 then default
    python benchmarks/quick_study.py --profile test  # the same in seconds (what the test-suite runs)

Each study runs as ``latentworks run`` in a subprocess writing a log (stderr and stdout not a terminal, as in
CI), into ``<out-dir>/serial`` and ``<out-dir>/parallel``. Peak memory is measured two ways: the largest single
process (what ``/usr/bin/time -v`` reports: the kernel's ``ru_maxrss`` of the command and its reaped workers) and the
largest sum over the command and all its worker processes, sampled from /proc every 0.2 s. Then every
``model.safetensors`` of the two studies is compared byte for byte. Writes ``benchmarks/out/quick_study.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
TARGET = {"wall_seconds": 300, "peak_rss_mb": 2048}  # issue 25: quick ≤ 5 min on the 2-core box, ≤ 2 GB


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every process below it."""
    parents, rss = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            parents[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(pid)] = int(stat.rsplit(")", 1)[1].split()[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(p, 0) for p in tree)


def run_study(profile: str, out: Path, workers: list[str], only: list[str]) -> dict:
    """One ``latentworks run`` with its wall time, peak memory and log size."""
    cmd = [sys.executable, "-m", "latentworks", "run", "--profile", profile, "--out", str(out), *workers,
           *(["--only", *only] if only else [])]
    log = out.with_suffix(".log")
    peak = [0]
    with open(log, "w") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "LATENTWORKS_OFFLINE": "1"})
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4's usage is the command's and its reaped workers': ru_maxrss is the largest of them (KiB)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}; see {log}")
    text = log.read_text()
    summary = json.loads((out / "results.json").read_text())
    return {"command": " ".join(cmd[1:]), "wall_seconds": round(wall, 1), "workers": summary.get("workers"),
            "runs": summary.get("runs"), "train_seconds": summary.get("train_seconds"),
            "peak_rss_tree_mb": round(peak[0] / 2**20), "peak_rss_largest_process_mb": round(usage.ru_maxrss / 1024),
            "log_lines": len(text.splitlines()), "log_bytes": len(text.encode()),
            "log_has_escape_codes": "\x1b" in text}


def compare_weights(a: Path, b: Path) -> dict:
    files = {p.relative_to(a) for p in a.rglob("model.safetensors")} | {p.relative_to(b) for p in
                                                                        b.rglob("model.safetensors")}
    differing = sorted(str(f) for f in files if not ((a / f).is_file() and (b / f).is_file()
                                                     and (a / f).read_bytes() == (b / f).read_bytes()))
    return {"model_files": len(files), "identical": not differing and bool(files), "differing": differing}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=["test", "quick", "full"])
    ap.add_argument("--only", nargs="*", default=[], help="study names (default: all)")
    ap.add_argument("--workers", type=int, default=None, help="the parallel study's workers (default: latentworks' "
                                                               "own default, what the cores and memory allow)")
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/quick_study"), help="the two study folders")
    ap.add_argument("--json", type=Path, default=OUT / "quick_study.json")
    args = ap.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    studies = {}
    for name, workers in (("serial", ["--workers", "1"]),
                          ("parallel", ["--workers", str(args.workers)] if args.workers else [])):
        out = args.out_dir / name
        workers += ["--overwrite"] if out.exists() else []
        studies[name] = run_study(args.profile, out, workers, args.only)
        print(f"{name}: {studies[name]['wall_seconds']:.0f} s wall on {studies[name]['workers']} workers, peak RSS "
              f"{studies[name]['peak_rss_tree_mb']} MB (process tree), {studies[name]['log_lines']} log lines",
              flush=True)
    result = {"profile": args.profile, "only": args.only, "cpu_count": len(os.sched_getaffinity(0)),
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "git_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                           cwd=Path(__file__).parent).stdout.strip() or None,
              "studies": studies, "speedup": round(studies["serial"]["wall_seconds"]
                                                   / studies["parallel"]["wall_seconds"], 2),
              "weights": compare_weights(args.out_dir / "serial", args.out_dir / "parallel"), "target": TARGET}
    result["parallel_meets_target"] = (studies["parallel"]["wall_seconds"] <= TARGET["wall_seconds"]
                                       and studies["parallel"]["peak_rss_tree_mb"] <= TARGET["peak_rss_mb"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    w = result["weights"]
    print(f"speed-up {result['speedup']}×; weights {'identical' if w['identical'] else 'DIFFER'} "
          f"({w['model_files']} files); {args.json}")
    return result


if __name__ == "__main__":
    main()

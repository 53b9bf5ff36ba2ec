"""`hyperprover plot DUMP_DIR...`: figures of runs' metrics over training, several runs overlaid.

Every `*.log` under the given folders is read for `__log__:{json}` lines (train.log, controller.log);
each metric becomes one PNG with a line per run, grouped by kind (pretraining, supervised, proving,
online). Evaluation folders (`summary.json`) add a pass@k figure. An `index.html` shows them all.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprover.experiment import parse_log_lines

X_KEYS = ("epoch", "n_total_iter", "step", "time_s")
GROUPS = (  # (title, pattern on the metric name); the first match wins
    ("Pretraining (MASS)", re.compile(r"_mass-")),
    ("Proving during training", re.compile(r"(greedy|proven|proved|solved|pass@)")),
    ("Critic", re.compile(r"critic")),
    ("Supervised (seq2seq)", re.compile(r"-tok-(ppl|acc)$|-(ppl|acc)$")),
    ("Online HTPS", re.compile(r"^(launcher_stats|mcts_stats|data_loader|trainer)")),
)


@dataclass
class Run:
    name: str
    path: Path
    logs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None


def find_runs(roots: Sequence[Path]) -> list[Run]:
    runs: dict[Path, Run] = {}
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist; give run folders (or folders holding them)")
        for log in sorted(root.rglob("*.log")):
            entries = parse_log_lines(log)
            if entries:
                run = runs.setdefault(log.parent, Run(_name(log.parent, roots), log.parent))
                run.logs.extend(entries)
        for summary in sorted(root.rglob("summary.json")):
            run = runs.setdefault(summary.parent, Run(_name(summary.parent, roots), summary.parent))
            run.summary = json.loads(summary.read_text())
    return list(runs.values())


def _name(path: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        try:
            rel = path.relative_to(root)
            return str(Path(root.name) / rel) if str(rel) != "." else root.name
        except ValueError:
            continue
    return str(path)


def group_of(metric: str) -> str:
    return next((title for title, pat in GROUPS if pat.search(metric)), "Other")


def curves(run: Run) -> dict[str, tuple[str, list[float], list[float]]]:
    """metric -> (x label, xs, ys) for every numeric metric logged more than once or with an x key."""
    out: dict[str, tuple[str, list[float], list[float]]] = {}
    for i, entry in enumerate(run.logs):
        xkey = next((k for k in X_KEYS if isinstance(entry.get(k), int | float)), None)
        x = float(entry[xkey]) if xkey else float(i)
        for k, v in entry.items():
            if k in X_KEYS or isinstance(v, bool) or not isinstance(v, int | float):
                continue
            label, xs, ys = out.setdefault(k, (xkey or "evaluation", [], []))
            xs.append(x)
            ys.append(float(v))
    return out


def plot_runs(runs: list[Run], out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    per_metric: dict[str, list[tuple[str, str, list[float], list[float]]]] = {}
    for run in runs:
        for metric, (xlabel, xs, ys) in curves(run).items():
            per_metric.setdefault(metric, []).append((run.name, xlabel, xs, ys))
    sections: dict[str, list[tuple[str, str]]] = {}
    for metric in sorted(per_metric):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for name, xlabel, xs, ys in per_metric[metric]:
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
            ax.set_xlabel(xlabel)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if metric.endswith("ppl") and min(min(c[3]) for c in per_metric[metric]) > 0:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        fname = re.sub(r"[^A-Za-z0-9_.@-]+", "_", metric) + ".png"
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=100)
        plt.close(fig)
        sections.setdefault(group_of(metric), []).append((metric, fname))
    evals = [r for r in runs if r.summary]
    if evals:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for run in evals:
            assert run.summary is not None
            ks = sorted(int(k[5:]) for k in run.summary if re.fullmatch(r"pass@\d+", k))
            ax.plot(ks, [run.summary[f"pass@{k}"] for k in ks], marker="o", label=run.name)
        ax.set_xlabel("k (attempts per theorem)")
        ax.set_ylabel("share of theorems proved")
        ax.set_title("pass@k")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "pass_at_k.png", dpi=100)
        plt.close(fig)
        sections.setdefault("Evaluation", []).append(("pass@k", "pass_at_k.png"))
    return write_index(out_dir, runs, sections)


def write_index(out_dir: Path, runs: list[Run], sections: dict[str, list[tuple[str, str]]]) -> Path:
    parts = ["<!doctype html><meta charset='utf-8'><title>hyperprover plots</title>",
             "<style>body{font-family:sans-serif;margin:2em} img{width:480px;margin:4px}</style>",
             "<h1>hyperprover runs</h1><ul>"]
    parts += [f"<li>{html.escape(r.name)} <small>({html.escape(str(r.path))})</small></li>" for r in runs]
    parts.append("</ul>")
    order = [t for t, _ in GROUPS] + ["Evaluation", "Other"]
    for title in sorted(sections, key=order.index):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts += [f"<img src='{html.escape(f)}' alt='{html.escape(m)}' title='{html.escape(m)}'>"
                  for m, f in sections[title]]
    index = out_dir / "index.html"
    index.write_text("\n".join(parts) + "\n")
    return index


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="hyperprover plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dumps", nargs="+", type=Path, help="run folders, or folders holding runs")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <first dump>/plots)")
    args = parser.parse_args(list(argv))
    try:
        runs = find_runs(args.dumps)
    except FileNotFoundError as e:
        print(f"hyperprover plot: {e}", file=sys.stderr)
        return 2
    if not runs:
        print("hyperprover plot: no __log__ lines or summary.json found under " +
              ", ".join(map(str, args.dumps)), file=sys.stderr)
        return 2
    index = plot_runs(runs, args.out or args.dumps[0] / "plots")
    print(f"{len(runs)} run(s) plotted: open {index}")
    return 0

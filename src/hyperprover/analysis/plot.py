"""`hyperprover plot DUMP_DIR... [--names a,b] [--out DIR]`: figures of runs' metrics, several runs overlaid.

Every `*.log` under the given folders is read for `__log__:{json}` lines (train.log, controller.log, eval.log).
`index.html` shows, in this order:
  - training curves (train.log: losses, accuracies, validation metrics over epochs), one figure per metric;
  - online runs (controller.log): the share of theorems proved over time (`launcher_stats/solved_labels_acc_*`,
    `launcher_stats/proved_rate_*`, `async_eval/*/proved_rate` against `time_s`), then the other statistics;
  - evaluations (summary.json): pass@k as bars, one group per evaluation folder, and their summaries as a table;
  - a table of the values that never change (settings such as n_theorems, n_expansions), not drawn as curves.
Runs given on the command line are overlaid in one figure per metric, named by their folder (or `--names`).
"""

from __future__ import annotations

import argparse
import bisect
import html
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprover.experiment import LOG_PREFIX

X_KEYS = ("epoch", "n_total_iter", "step", "time_s")
GROUPS = (  # (title, pattern on the metric name); the first match wins
    ("Pretraining (MASS)", re.compile(r"_mass-")),
    ("Proving during training", re.compile(r"(greedy|proven|proved|solved|pass@)")),
    ("Critic", re.compile(r"critic")),
    ("Supervised (seq2seq)", re.compile(r"-tok-(ppl|acc)$|-(ppl|acc)$")),
    ("Online HTPS", re.compile(r"^(launcher_stats|mcts_stats|data_loader|trainer)")),
)
# the share of theorems an online run proves, drawn first among its figures, in this order
PROVED_SHARE = (
    re.compile(r"launcher_stats/solved_labels_acc_.+"),  # share of the split's theorems solved so far
    re.compile(r"launcher_stats/proved_rate_.+"),  # share of the last window's attempts that proved
    re.compile(r"async_eval/.+/proved_rate"),  # share of the evaluation split proved by the trainer's snapshots
)
TRAINING = "Training curves"
TRAINING_ORDER = ("Pretraining (MASS)", "Supervised (seq2seq)", "Critic", "Proving during training", "Online HTPS",
                  "Other")  # the groups of training curves, in the index
ONLINE_PROVED = "Online runs: share of theorems proved over time"
ONLINE_OTHER = "Online runs: other statistics"
EVALUATION = "Evaluation: pass@k"
CONSTANTS = "Values that never change"
_STAMP = re.compile(r"(\d+):(\d\d):(\d\d) - $")  # the logger's elapsed time, just before `__log__:`


@dataclass
class Run:
    name: str
    path: Path
    logs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    stamps: list[float | None] = field(default_factory=list)  # seconds since the logger started, per entry
    sources: list[str] = field(default_factory=list)  # the log file of each entry

    @property
    def online(self) -> bool:
        return "controller.log" in self.sources or (self.path / "mcts_results.jsonl").is_file()


@dataclass
class Series:
    run: str
    xlabel: str
    xs: list[float]
    ys: list[float]


def read_log(path: Path) -> list[tuple[float | None, dict[str, Any]]]:
    """The `__log__:` JSON objects of a log, in order, each with the logger's elapsed seconds when shown."""
    out: list[tuple[float | None, dict[str, Any]]] = []
    with open(path, errors="replace") as f:
        for line in f:
            i = line.find(LOG_PREFIX)
            if i < 0:
                continue
            try:
                entry = json.loads(line[i + len(LOG_PREFIX):])
            except json.JSONDecodeError:  # a line still being written by a live run
                continue
            if isinstance(entry, dict):
                m = _STAMP.search(line[:i])
                out.append((int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) if m else None, entry))
    return out


def find_runs(roots: Sequence[Path], names: Sequence[str] | None = None) -> list[Run]:
    """Every folder under `roots` holding a log with `__log__:` lines or a summary.json, named after its root
    (`names[i]` for `roots[i]` when given, else the root folder's name) and its path below it."""
    if names is not None and len(names) != len(roots):
        raise ValueError(f"{len(names)} name(s) for {len(roots)} folder(s): give one name per folder")
    bases = list(names) if names is not None else _root_names(roots)
    runs: dict[Path, Run] = {}
    read: set[Path] = set()  # a folder given twice, or inside another one given: its logs are read once
    for root, base in zip(roots, bases):
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist; give run folders (or folders holding them)")
        for log in sorted(root.rglob("*.log")):
            if log.resolve() in read:
                continue
            read.add(log.resolve())
            entries = read_log(log)
            if entries:
                run = _run_of(runs, log.parent, root, base)
                for stamp, entry in entries:
                    run.logs.append(entry)
                    run.stamps.append(stamp)
                    run.sources.append(log.name)
        for summary in sorted(root.rglob("summary.json")):
            _run_of(runs, summary.parent, root, base).summary = json.loads(summary.read_text())
    for run in runs.values():  # an evaluation without summary.json (still running, or crashed): its last line
        if run.summary is None and "eval.log" in run.sources:
            run.summary = run.logs[len(run.sources) - 1 - run.sources[::-1].index("eval.log")]
    return list(runs.values())


def _run_of(runs: dict[Path, Run], folder: Path, root: Path, base: str) -> Run:
    rel = folder.relative_to(root)
    return runs.setdefault(folder, Run(base if str(rel) == "." else f"{base}/{rel}", folder))


def _root_names(roots: Sequence[Path]) -> list[str]:
    """Each root's folder name, with its parent's when two roots share a name."""
    names = [r.resolve().name or str(r) for r in roots]
    return [f"{r.resolve().parent.name}/{n}" if names.count(n) > 1 else n for r, n in zip(roots, names)]


def group_of(metric: str) -> str:
    return next((title for title, pat in GROUPS if pat.search(metric)), "Other")


def proved_share_rank(metric: str) -> int | None:
    return next((i for i, pat in enumerate(PROVED_SHARE) if pat.fullmatch(metric)), None)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _source(run: Run, i: int) -> str:
    return run.sources[i] if i < len(run.sources) else ""


def _times(run: Run) -> list[float | None]:
    """`time_s` of each entry of an online run; entries without it (async evaluations) get the logger's elapsed
    time, shifted by the offset between the two clocks at the nearest entry of the same log having both (the
    last one before, else the first one after)."""
    offsets: dict[str, list[tuple[int, float]]] = {}  # log -> (entry index, elapsed - time_s)
    for i, entry in enumerate(run.logs):
        stamp = run.stamps[i] if i < len(run.stamps) else None
        if _number(entry.get("time_s")) and stamp is not None:
            offsets.setdefault(_source(run, i), []).append((i, stamp - float(entry["time_s"])))
    out: list[float | None] = []
    for i, entry in enumerate(run.logs):
        stamp = run.stamps[i] if i < len(run.stamps) else None
        refs = offsets.get(_source(run, i), [])
        if _number(entry.get("time_s")):
            out.append(float(entry["time_s"]))
        elif stamp is None or not refs:
            out.append(None)
        else:
            k = bisect.bisect_left(refs, (i, -math.inf)) - 1
            out.append(max(0.0, stamp - refs[max(k, 0)][1]))
    return out


def curves(run: Run) -> dict[str, Series]:
    """metric -> its numeric values over the run: against `time_s` in an online run, else against the first of
    X_KEYS an entry has (its position among the log's entries when none). eval.log lines are summaries: skipped."""
    times = _times(run) if run.online else [None] * len(run.logs)
    out: dict[str, Series] = {}
    for i, entry in enumerate(run.logs):
        if _source(run, i) == "eval.log":
            continue
        t = times[i]
        xkey = "time_s" if t is not None else next((k for k in X_KEYS if _number(entry.get(k))), "log entry")
        x = t if t is not None else float(entry[xkey]) if xkey in entry else float(i)
        for k, v in entry.items():
            if k in X_KEYS or not _number(v):
                continue
            s = out.setdefault(k, Series(run.name, xkey, [], []))
            s.xs.append(x)
            s.ys.append(float(v))
    return out


def is_curve(metric: str, series: Sequence[Series], online: bool) -> bool:
    """Worth a figure: some run logged it at least twice with different values (the proved share of an online
    run always, flat or not: it is what the run is for)."""
    if online and proved_share_rank(metric) is not None:
        return any(len(s.ys) > 1 for s in series)
    return any(len(set(s.ys)) > 1 for s in series)


def file_name(metric: str, used: set[str]) -> str:
    """A file name for the metric's figure, safe in a URL (no `%`, `!`, `=`, `/`) and unique among `used`."""
    s = metric.replace("!=", "_ne").replace("<=", "_le").replace(">=", "_ge")
    for a, b in (("%", "_mod"), ("=", "_eq"), ("<", "_lt"), (">", "_gt"), ("@", "_at"), ("/", "__")):
        s = s.replace(a, b)
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("._") or "metric"
    name, n = f"{s}.png", 1
    while name in used:
        n += 1
        name = f"{s}_{n}.png"
    used.add(name)
    return name


def _pass_ks(summary: dict[str, Any]) -> list[int]:
    return sorted(int(k[5:]) for k, v in summary.items() if re.fullmatch(r"pass@\d+", k) and _number(v))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass
class Page:
    """What index.html shows: figures (metric, file) and tables (header, rows) per section, in order."""
    figures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    tables: dict[str, list[tuple[list[str], list[list[str]]]]] = field(default_factory=dict)


def plot_runs(runs: list[Run], out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    per_run = [(run, curves(run)) for run in runs]
    colors = {r.name: f"C{i % 10}" for i, r in enumerate(r for r, c in per_run if c)}  # a run's color everywhere
    per_metric: dict[tuple[bool, str], list[Series]] = {}  # (from an online run, metric) -> series
    for run, by_metric in per_run:
        for metric, s in by_metric.items():
            per_metric.setdefault((run.online, metric), []).append(s)
    page = Page()
    used = {"pass_at_k.png", "pass_at_k_curve.png"}  # the evaluations' figures
    constants: dict[str, dict[str, float]] = {}  # metric -> run -> value
    for is_online, metric in sorted(per_metric, key=_metric_order):
        series = per_metric[(is_online, metric)]
        if not is_curve(metric, series, is_online):
            for s in series:
                constants.setdefault(metric, {})[s.run] = s.ys[-1]
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        xlabels = sorted({s.xlabel for s in series})
        scale, unit = _time_scale(max(max(s.xs) for s in series)) if xlabels == ["time_s"] else (1.0, "")
        for s in series:
            ax.plot([x / scale for x in s.xs], s.ys, marker="o" if len(s.xs) < 30 else None, markersize=3,
                    label=s.run, color=colors[s.run])
        ax.set_xlabel(f"time ({unit})" if unit else " / ".join(xlabels))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if metric.endswith("ppl") and min(min(s.ys) for s in series) > 0:
            ax.set_yscale("log")
        if is_online and proved_share_rank(metric) is not None:
            ax.set_ylabel("share of theorems proved")
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
        fname = file_name(metric, used)
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=100)
        plt.close(fig)
        if is_online:
            section = ONLINE_PROVED if proved_share_rank(metric) is not None else ONLINE_OTHER
        else:
            section = f"{TRAINING}: {group_of(metric)}"
        page.figures.setdefault(section, []).append((metric, fname))
    evals = [r for r in runs if r.summary]
    if evals:
        _plot_evals(plt, evals, out_dir, page)
    if constants:
        names = [r.name for r in runs if any(r.name in by_run for by_run in constants.values())]
        rows = [[m] + [_fmt(constants[m][n]) if n in constants[m] else "" for n in names] for m in sorted(constants)]
        page.tables[CONSTANTS] = [(["metric"] + names, rows)]
    return write_index(out_dir, runs, page)


def _metric_order(key: tuple[bool, str]) -> tuple[bool, int, str]:
    is_online, metric = key
    rank = proved_share_rank(metric) if is_online else None
    return is_online, len(PROVED_SHARE) if rank is None else rank, metric


def _time_scale(max_s: float) -> tuple[float, str]:
    if max_s >= 3 * 3600:
        return 3600.0, "h"
    if max_s >= 600:
        return 60.0, "min"
    return 1.0, "s"


def _plot_evals(plt: Any, evals: list[Run], out_dir: Path, page: Page) -> None:
    """pass@k as horizontal bars, one group per evaluation (a bar per k), a curve over k when several k, and a
    table of the summaries' scalar values."""
    ks = sorted({k for r in evals for k in _pass_ks(r.summary or {})})
    if ks:
        height = 0.8 / len(ks)
        fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.3 * len(evals) * max(1.0, 0.6 * len(ks))))
        top = 0.0
        for j, k in enumerate(ks):
            bars = [(i - 0.4 + height * (j + 0.5), float((r.summary or {})[f"pass@{k}"]), r)
                    for i, r in enumerate(evals) if _number((r.summary or {}).get(f"pass@{k}"))]
            drawn = ax.barh([y for y, _, _ in bars], [v for _, v, _ in bars], height=height * 0.9,
                            label=f"pass@{k}", color=f"C{j % 10}")
            ax.bar_label(drawn, labels=[f"{100 * v:.1f}%{_count(r, len(ks))}" for _, v, r in bars], fontsize=7,
                         padding=2)
            top = max([top] + [v for _, v, _ in bars])
        ax.set_yticks(range(len(evals)), [r.name for r in evals], fontsize=8)
        ax.set_ylim(len(evals) - 0.5, -0.5)  # the first evaluation on top
        ax.set_xlim(0, min(1.25, 1.3 * top + 0.02))  # room for the labels
        ax.set_xlabel("share of theorems proved")
        ax.set_title(f"pass@{ks[0]}" if len(ks) == 1 else "pass@k")
        ax.grid(axis="x", alpha=0.3)
        if len(ks) > 1:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "pass_at_k.png", dpi=100)
        plt.close(fig)
        page.figures.setdefault(EVALUATION, []).append(("pass@k", "pass_at_k.png"))
        if len(ks) > 1:
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
            for i, r in enumerate(evals):
                rk = _pass_ks(r.summary or {})
                ax.plot(rk, [(r.summary or {})[f"pass@{k}"] for k in rk], marker="o", label=r.name,
                        color=f"C{i % 10}")
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.set_xlabel("k (attempts per theorem)")
            ax.set_ylabel("share of theorems proved")
            ax.set_title("pass@k over k")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(out_dir / "pass_at_k_curve.png", dpi=100)
            plt.close(fig)
            page.figures[EVALUATION].append(("pass@k over k", "pass_at_k_curve.png"))
    first = ["split", "prover", "expander", "n_expansions", "n_theorems", "proved"]
    keys = {k for r in evals for k, v in (r.summary or {}).items() if _number(v) or isinstance(v, str)}
    columns = [k for k in first if k in keys] + [f"pass@{k}" for k in ks]
    columns += sorted(keys - set(columns))
    rows = [[r.name] + [_fmt((r.summary or {}).get(c, "")) for c in columns] for r in evals]
    page.tables.setdefault(EVALUATION, []).append((["evaluation"] + columns, rows))


def _count(run: Run, n_ks: int) -> str:
    """` (proved/n_theorems)` when the summary has them and a single k (then `proved` is its pass@k)."""
    summary = run.summary or {}
    if n_ks == 1 and _number(summary.get("proved")) and _number(summary.get("n_theorems")):
        return f" ({summary['proved']}/{summary['n_theorems']})"
    return ""


def write_index(out_dir: Path, runs: list[Run], page: Page) -> Path:
    parts = ["<!doctype html><meta charset='utf-8'><title>hyperprover plots</title>",
             "<style>body{font-family:sans-serif;margin:2em} img{width:480px;margin:4px}"
             " table{border-collapse:collapse;font-size:90%;margin:0.5em 0}"
             " td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}</style>",
             "<h1>hyperprover runs</h1>"]
    training = [t for t in page.figures if t.startswith(TRAINING)]
    titles = sorted(training, key=lambda t: [f"{TRAINING}: {g}" for g in TRAINING_ORDER].index(t))
    titles += [t for t in (ONLINE_PROVED, ONLINE_OTHER, EVALUATION, CONSTANTS) if t in page.figures or t in
               page.tables]
    for title in titles:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if title == CONSTANTS:
            parts.append("<p>Settings and single measurements, not drawn as curves: the value logged, per run.</p>")
        parts += [f"<img src='{html.escape(f)}' alt='{html.escape(m)}' title='{html.escape(m)}'>"
                  for m, f in page.figures.get(title, [])]
        for header, rows in page.tables.get(title, []):
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts.append("<h2>Runs</h2><ul>")
    parts += [f"<li>{html.escape(r.name)} <small>({html.escape(str(r.path))})</small></li>" for r in runs]
    parts.append("</ul>")
    index = out_dir / "index.html"
    index.write_text("\n".join(parts) + "\n")
    return index


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="hyperprover plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dumps", nargs="+", type=Path, help="run folders, or folders holding runs")
    parser.add_argument("--names", default=None,
                        help="comma-separated legend names, one per folder given (default: the folders' names)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <first dump>/plots)")
    args = parser.parse_args(list(argv))
    names = [n.strip() for n in args.names.split(",")] if args.names is not None else None
    try:
        runs = find_runs(args.dumps, names)
    except (FileNotFoundError, ValueError) as e:
        print(f"hyperprover plot: {e}", file=sys.stderr)
        return 2
    if not runs:
        print("hyperprover plot: no __log__ lines or summary.json found under " +
              ", ".join(map(str, args.dumps)), file=sys.stderr)
        return 2
    index = plot_runs(runs, args.out or args.dumps[0] / "plots")
    print(f"{len(runs)} run(s) plotted: open {index}")
    return 0

"""`hyperprover compare A... --vs B...`: are two provers really different on the same theorems?

Each side is one or more eval folders (or their eval_results.jsonl), one per seed; with several, the
i-th folder of A is paired with the i-th of B, so give them in the same seed order. A unit is one
(theorem, seed); it counts as proved when any recorded attempt (or any of the first `--attempts`)
proved it. Reported: proved per side (pooled over the seeds), the paired table (both, only A, only B,
neither), the exact two-sided McNemar p-value of the discordant units, and a bootstrap 95% interval
of the difference in proved share that resamples theorems (a theorem keeps all its seeds together).
`--env E --split S` restricts every side to the theorems of split S (or a fold such as `identities%4=3`, the
quarter an online run never attempts), so one set of eval folders also answers for a held-out part.
Online runs (`hyperprover online`, whose folders hold mcts_results.jsonl) attempt what their controller hands
out in the time given, so two runs rarely attempt the same theorems: `--unattempted_fail` compares them on every
theorem either side attempted (or on all of `--split`), a theorem a run never attempted counting as not proved
by it. With several seeds the units of one theorem are not independent (a model prover often proves the same
theorems whatever the seed), so the verdict rests on the theorem-level sign test: the theorems A proves
in more seeds than B against those B proves in more seeds than A, exact binomial. With one seed the two
tests are the same.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hyperprover.config import ConfigError
from hyperprover.envs.base import make_env, split_theorems
from hyperprover.jsonl import read_jsonl


@dataclass(frozen=True)
class Side:
    name: str
    folders: tuple[str, ...]
    proved: int  # units proved, pooled over the folders
    units: int
    distinct_proved: int  # theorems proved in at least one folder


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    n_theorems: int
    n_runs: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float  # exact two-sided McNemar over (theorem, seed) units
    a_more: int  # theorems A proves in more seeds than B
    b_more: int
    p_theorems: float  # exact two-sided sign test over theorems (a_more vs b_more): the verdict's test
    diff: float  # proved share of A minus that of B
    ci_low: float
    ci_high: float
    n_bootstrap: int

    def verdict(self, alpha: float = 0.05) -> str:
        p = self.p_theorems
        if p >= alpha:
            return f"within noise (p = {p:.3g} >= {alpha})"
        better = self.a.name if self.a_more > self.b_more else self.b.name
        return f"{better} proves more (p = {p:.3g} < {alpha})"


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar test: binomial(n = only_a + only_b, 1/2) tail at the smaller count, doubled."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    # exact integer arithmetic: no float underflow for large n
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def bootstrap_interval(a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of mean(a) - mean(b) over theorems resampled with replacement.
    `a`, `b`: (theorems, runs) 0/1 arrays; a theorem's runs stay together."""
    d = (a - b).mean(axis=1)  # per theorem, averaged over its runs
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_resamples, len(d)))
    means = d[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def results_path(folder: str) -> Path:
    p = Path(folder)
    if p.is_dir():  # an eval folder, or an online run's (its provers' attempts)
        p = p / "eval_results.jsonl" if (p / "eval_results.jsonl").exists() else p / "mcts_results.jsonl"
    if not p.is_file():
        raise ConfigError(f"{folder}: no eval_results.jsonl or mcts_results.jsonl there (give an eval or online "
                          "folder, or its results file)")
    return p


def _attempts(path: Path) -> list[tuple[str, int, bool]]:
    """(label, attempt, proved) per record of an eval's or an online run's results (the online controller's
    records carry more fields than an eval's); a torn line (a kill mid-write) is skipped."""
    out = []
    for r in read_jsonl(path):
        try:
            out.append((str(r["label"]), int(r.get("attempt", 1)), bool(r["proved"])))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # not an attempt record
    return out


def outcomes(folder: str, attempts: int) -> dict[str, bool]:
    """label -> proved within the first `attempts` attempts (0: any recorded), for every attempted label."""
    out: dict[str, bool] = {}
    for label, attempt, proved in _attempts(results_path(folder)):
        if attempts and attempt > attempts:
            continue
        out[label] = out.get(label, False) or proved
    if not out:
        raise ConfigError(f"{folder}: no attempt recorded" + (f" within the first {attempts}" if attempts else ""))
    return out


def _same_theorems(runs: Sequence[tuple[str, dict[str, bool]]]) -> list[str]:
    first_folder, first = runs[0]
    labels = set(first)
    for folder, o in runs[1:]:
        if set(o) != labels:
            missing = sorted(labels - set(o))
            extra = sorted(set(o) - labels)
            example = f"missing {missing[0]}" if missing else f"extra {extra[0]}"
            raise ConfigError(f"{folder} covers {len(o)} theorems and {first_folder} {len(labels)}: not the same "
                              f"theorems ({example}); finish both evals, compare folders of the same split, or "
                              "give --unattempted_fail (online runs)")
    return sorted(labels)


def restrict(runs: list[tuple[str, dict[str, bool]]], only: Collection[str]) -> list[tuple[str, dict[str, bool]]]:
    """Each run's outcomes on the labels of `only`, all of which it must have attempted."""
    out = []
    for folder, o in runs:
        missing = sorted(set(only) - set(o))
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise ConfigError(f"{folder} has no attempt at {missing[0]}{more} of the theorems to compare on; "
                              "evaluate the whole split there first")
        out.append((folder, {t: o[t] for t in only}))
    return out


def fill_unattempted(runs: list[tuple[str, dict[str, bool]]],
                     labels: Collection[str]) -> list[tuple[str, dict[str, bool]]]:
    """Each run's outcomes on `labels`, a label it never attempted counting as not proved."""
    return [(folder, {t: o.get(t, False) for t in labels}) for folder, o in runs]


def compare(a_folders: Sequence[str], b_folders: Sequence[str], attempts: int = 0, n_bootstrap: int = 10000,
            seed: int = 0, names: tuple[str, str] = ("A", "B"), only: Collection[str] | None = None,
            unattempted_fail: bool = False) -> Comparison:
    """`only`: compare on these labels alone (every folder must cover them, unless `unattempted_fail`: then a
    label a folder never attempted counts as not proved there; without `only`, the labels any folder attempted)."""
    if len(a_folders) != len(b_folders):
        raise ConfigError(f"{len(a_folders)} folder(s) for A and {len(b_folders)} for B: give one folder per seed "
                          "on each side, in the same seed order")
    runs_a = [(f, outcomes(f, attempts)) for f in a_folders]
    runs_b = [(f, outcomes(f, attempts)) for f in b_folders]
    if unattempted_fail:
        pool = only if only is not None else {t for _, o in runs_a + runs_b for t in o}
        runs_a, runs_b = fill_unattempted(runs_a, pool), fill_unattempted(runs_b, pool)
    elif only is not None:
        runs_a, runs_b = restrict(runs_a, only), restrict(runs_b, only)
    labels = _same_theorems(runs_a + runs_b)
    a = np.array([[o[t] for _, o in runs_a] for t in labels], dtype=float)
    b = np.array([[o[t] for _, o in runs_b] for t in labels], dtype=float)
    both = int(((a == 1) & (b == 1)).sum())
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    units = a.size
    lo, hi = bootstrap_interval(a, b, n_bootstrap, seed)
    per_theorem = a.sum(axis=1) - b.sum(axis=1)
    a_more, b_more = int((per_theorem > 0).sum()), int((per_theorem < 0).sum())

    def side(name: str, folders: Sequence[str], m: np.ndarray) -> Side:
        return Side(name, tuple(folders), int(m.sum()), units, int(m.any(axis=1).sum()))

    return Comparison(side(names[0], a_folders, a), side(names[1], b_folders, b), len(labels), len(a_folders),
                      both, only_a, only_b, units - both - only_a - only_b, mcnemar_exact(only_a, only_b),
                      a_more, b_more, mcnemar_exact(a_more, b_more), float(a.mean() - b.mean()), lo, hi, n_bootstrap)


def format_comparison(c: Comparison) -> str:
    width = max(len(c.a.name), len(c.b.name))
    lines = []
    for s in (c.a, c.b):
        where = s.folders[0] + (f" (+{len(s.folders) - 1} more)" if len(s.folders) > 1 else "")
        lines.append(f"{s.name:<{width}}  proved {s.proved}/{s.units} ({100 * s.proved / s.units:.1f}%), "
                     f"{s.distinct_proved} distinct theorems  [{where}]")
    lines.append(f"paired over {c.n_theorems} theorems x {c.n_runs} run(s): both {c.both}, only {c.a.name} "
                 f"{c.only_a}, only {c.b.name} {c.only_b}, neither {c.neither}")
    lines.append(f"exact McNemar p = {c.p_value:.4g} (two-sided, over theorem x run units)")
    if c.n_runs > 1:
        lines.append(f"theorems proved in more runs by {c.a.name}: {c.a_more}, by {c.b.name}: {c.b_more}; "
                     f"sign test over theorems p = {c.p_theorems:.4g} (seeds of a theorem are not independent)")
    lines.append(f"{c.a.name} - {c.b.name}: {100 * c.diff:+.1f} points of proved share, 95% bootstrap interval "
                 f"[{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}] ({c.n_bootstrap} resamples of the theorems)")
    lines.append(f"verdict: {c.verdict()}")
    return "\n".join(lines)


def split_labels(env_name: str, split: str) -> list[str]:
    try:
        env = make_env(env_name)
    except (ValueError, NotImplementedError) as e:
        raise ConfigError(f"--env {env_name}: {e}") from None
    try:
        return [t.label for t in split_theorems(env, split)]
    except ValueError as e:
        raise ConfigError(f"--split {split}: {e}") from e
    finally:
        close = getattr(env, "close", None)  # envs with processes (Coq) have one
        if close is not None:
            close()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="hyperprover compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", nargs="+", help="eval (or online) folders of prover A (one per seed)")
    parser.add_argument("--vs", nargs="+", required=True, metavar="B", help="eval folders of prover B, same seeds")
    parser.add_argument("--names", default="A,B", help="names of the two sides in the output, e.g. htps,uniform")
    parser.add_argument("--attempts", type=int, default=0, help="count only the first K attempts (0: all)")
    parser.add_argument("--n_bootstrap", type=int, default=10000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--env", default="", help="with --split: the env whose split names the theorems")
    parser.add_argument("--split", default="", help="compare on this split or fold only, e.g. identities%%4=3")
    parser.add_argument("--unattempted_fail", action="store_true", help="a theorem a folder never attempted counts "
                        "as not proved there (online runs, which attempt what they reach in their time)")
    args = parser.parse_args(list(argv))
    names = tuple(args.names.split(","))
    if len(names) != 2 or not all(names):
        raise ConfigError(f"--names {args.names}: give two names separated by a comma, e.g. htps,uniform")
    if args.attempts < 0 or args.n_bootstrap < 1:
        raise ConfigError("--attempts must be >= 0 and --n_bootstrap >= 1")
    if bool(args.env) != bool(args.split):
        raise ConfigError("--env and --split go together: e.g. --env eq --split identities%4=3")
    only = split_labels(args.env, args.split) if args.split else None
    c = compare(args.a, args.vs, args.attempts, args.n_bootstrap, args.seed, (names[0], names[1]), only,
                args.unattempted_fail)
    if args.json:
        print(json.dumps({**asdict(c), "verdict": c.verdict()}, indent=2))
    else:
        print(format_comparison(c))
    sys.stdout.flush()
    return 0

"""`hyperprover eval`: attempt every theorem of a split up to `--max_attempts` times; pass@k.

Attempts go in rounds (every unproved theorem gets attempt 1, then attempt 2, ...), a theorem stops
at its first success, each attempt is one line of `eval_results.jsonl` (appended and flushed), and a
run restarted on the same folder skips what is already recorded. `summary.json` holds pass@1..k.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from hyperprover.config import ConfigError, help_text, load_config, opt
from hyperprover.envs.base import BackwardEnv, Theorem
from hyperprover.evaluation.proving import PRESETS, ProvingOptions, build_prover, open_env
from hyperprover.evaluation.results import (
    AttemptRecord,
    ResultsFile,
    pending_attempts,
    proof_to_json,
    summarize,
)
from hyperprover.experiment import Experiment, RunConfig, setup_experiment
from hyperprover.search.prover import ProofRecord


@dataclass
class EvalConfig(RunConfig, ProvingOptions):
    split: str = opt("identities", "which theorems: identities, valid, test, train, bench (per env)")
    max_attempts: int = opt(1, "attempts per theorem; pass@1..k is reported", min=1)
    n_theorems: int = opt(0, "evaluate only the first N theorems of the split (0: all)", min=0)
    exp_name: str = opt("eval", "experiment name (a folder under dump_path)")


def attempt_record(env: BackwardEnv, rec: ProofRecord, attempt: int, params: dict[str, Any]) -> AttemptRecord:
    stats = dict(rec.stats)
    stats["time_s"] = float(stats.get("time_wall_s", 0.0))
    return AttemptRecord(label=rec.label, attempt=attempt, proved=rec.proved,
                         proof=proof_to_json(env, rec.proof) if rec.proof is not None else None,
                         stats=stats, params=params, error=rec.error)


def select_theorems(env: BackwardEnv, split: str, n: int) -> list[Theorem]:
    try:
        theorems = env.theorems(split)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"--split {split}: {e}") from None
    if not theorems:
        raise ConfigError(f"--split {split}: the split has no theorems")
    return theorems[:n] if n else theorems


def run_local(cfg: EvalConfig, env: BackwardEnv, theorems: list[Theorem], results: ResultsFile,
              exp: Experiment) -> None:
    by_label = {t.label: t for t in theorems}
    params = {"prover": cfg.prover, "search": asdict(cfg.search), "decoding": asdict(cfg.decoding)}
    proved = {r.label for r in results.read() if r.proved}
    with build_prover(cfg, env) as prover:
        for attempt in range(1, cfg.max_attempts + 1):
            todo = [label for label, a in pending_attempts(list(by_label), cfg.max_attempts, results.read())
                    if a == attempt]
            if not todo:
                continue
            exp.logger.info(f"attempt {attempt}: {len(todo)} theorem(s)")
            jobs = [replace(by_label[label], meta={**by_label[label].meta, "attempt": attempt}) for label in todo]
            for rec in prover.prove(jobs):
                results.append(attempt_record(env, rec, attempt, params))
                if rec.proved:
                    proved.add(rec.label)
                exp.logger.info(f"{rec.label} attempt {attempt}: {'proved' if rec.proved else 'not proved'} "
                                f"({rec.stats.get('time_wall_s', 0.0):.1f}s) -- proved {len(proved)}/{len(theorems)}")


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(EvalConfig, "eval", __doc__ or "", PRESETS))
        return 0
    cfg = load_config(EvalConfig, argv, PRESETS)
    env = open_env(cfg.env)
    theorems = select_theorems(env, cfg.split, cfg.n_theorems)
    exp = setup_experiment(cfg, "eval", log_name="eval.log")
    results = ResultsFile(exp.path / "eval_results.jsonl")
    start = time.time()
    run_local(cfg, env, theorems, results, exp)
    summary = summarize([t.label for t in theorems], results.read(), cfg.max_attempts)
    summary.update({"split": cfg.split, "prover": cfg.prover, "n_expansions": cfg.search.n_expansions,
                    "wall_time_s": time.time() - start})
    (exp.path / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    exp.metrics.log({k: v for k, v in summary.items() if isinstance(v, int | float)}, step=0)
    k = cfg.max_attempts
    print(f"{cfg.prover} on {cfg.split}: proved {summary['proved']}/{summary['n_theorems']} "
          f"(pass@{k} {100 * summary[f'pass@{k}']:.1f}%), {summary['time_per_theorem_s']:.1f}s per theorem; "
          f"results in {exp.path}", file=sys.stderr)
    exp.close()
    return 0

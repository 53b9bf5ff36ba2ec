"""`hyperprover eval`: attempt every theorem of a split up to `--max_attempts` times; pass@k.

Attempts go in rounds (every unproved theorem gets attempt 1, then attempt 2, ...), a theorem stops
at its first success, each attempt is one line of `eval_results.jsonl` (appended and flushed), and a
run restarted on the same folder skips what is already recorded. `summary.json` holds pass@1..k.
A restart must keep the options that define the results (EVAL_DEFINING and the env's options); --n_theorems may grow.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hyperprover import atomic
from hyperprover.config import ConfigError, help_text, load_config, opt, read_text_file, section
from hyperprover.envs.base import BackwardEnv, GoalParseError, Theorem, proof_to_json, split_theorems
from hyperprover.experiment import (
    Experiment,
    RunConfig,
    absolute_paths,
    check_run_names,
    check_same_run,
    dump_dir,
    setup_experiment,
)
from hyperprover.provers.options import PRESETS, ProvingOptions, RayConfig, build_prover, check_expander, open_env
from hyperprover.results import AttemptRecord, ResultsFile, critic_json, part_times, pending_attempts, summarize
from hyperprover.search.prover import ProofRecord, Prover


@dataclass
class EvalConfig(RunConfig, ProvingOptions):
    split: str = opt("identities", "which theorems: identities, valid, test, train, bench (per env)")
    theorems_file: str = opt("", "prove the goals of this text file instead of --split (one goal per line, "
                             "e.g. 'x0 + 0 == x0'; '#' starts a comment)")
    max_attempts: int = opt(1, "attempts per theorem; pass@1..k is reported", min=1)
    n_theorems: int = opt(0, "evaluate only the first N theorems of the split (0: all)", min=0)
    exp_name: str = opt("eval", "experiment name (a folder under dump_path)")
    n_provers: int = opt(0, "Ray prover actors sharing the attempts (0: prove in this process)", min=0)
    prover_gpus: float = opt(0.0, "GPU share of each Ray prover", min=0.0)
    max_restarts: int = opt(5, "times Ray restarts a prover that died", min=0)
    torch_threads: int = opt(1, "torch threads of each Ray prover (0: torch's default)", min=0)
    ray: RayConfig = section(RayConfig, "Ray (with --n_provers)")


# the options a resumed eval must share with its folder's params.json: what is proved and how. Not among
# them: how many theorems (a run is extended to more), where and how fast it runs (device, provers, threads).
EVAL_DEFINING = ("env", "split", "theorems_file", "prover", "expander", "reload_model", "search", "decoding",
                 "max_attempts")
# decoding options that change the speed of a model call, not the tactics it returns; where the env keeps its
# extracted data, when a hung coqtop is given up (its tactic has failed by then either way), and how long a found
# proof's re-check may take
EVAL_IGNORED = ("decoding.tokens_per_batch", "decoding.use_cache", "coq.data_dir", "coq.answer_timeout_s",
                "coq.check_timeout_s")


def eval_defining(cfg: EvalConfig) -> tuple[str, ...]:
    """EVAL_DEFINING and the options of the env proved in (`--coq.*` time limits and libraries, `--mm.*`...):
    a Coq eval resumed with other tactic time limits would mix two provers in one results file."""
    return (*EVAL_DEFINING, cfg.env)


def attempt_record(env: BackwardEnv, rec: ProofRecord, attempt: int, params: dict[str, Any]) -> AttemptRecord:
    stats = dict(rec.stats)
    stats["time_s"] = float(stats.get("time_wall_s", 0.0))
    return AttemptRecord(label=rec.label, attempt=attempt, proved=rec.proved,
                         proof=proof_to_json(env, rec.proof) if rec.proof is not None else None,
                         stats=stats, params=params, error=rec.error, critic=critic_json(rec.critic_pairs))


def read_theorems_file(env: BackwardEnv, path: str) -> list[Theorem]:
    lines = read_text_file(path, "--theorems_file").splitlines()
    out = []
    for i, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            out.append(Theorem(f"{Path(path).stem}:{i}", env.parse_goal(text), "file"))
        except GoalParseError as e:
            raise ConfigError(f"--theorems_file {path}, line {i}: {e}") from None
    if not out:
        raise ConfigError(f"--theorems_file {path} holds no goal")
    return out


def select_theorems(env: BackwardEnv, split: str, n: int) -> list[Theorem]:
    try:
        theorems = split_theorems(env, split)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"--split {split}: {e}") from None
    if not theorems:
        raise ConfigError(f"--split {split}: the split has no theorems")
    return theorems[:n] if n else theorems


# attempt k of these theorems; yields each attempt's record as it finishes (in this process or on Ray provers)
RoundRunner = Callable[[int, list[Theorem]], Iterator[AttemptRecord]]


def run_rounds(cfg: EvalConfig, theorems: list[Theorem], results: ResultsFile, exp: Experiment,
               run_round: RoundRunner) -> None:
    """Attempt k (k = 1..max_attempts) of every theorem whose earlier attempts all failed, each finished attempt
    appended to the results at once; what the results file already holds is not attempted again."""
    by_label = {t.label: t for t in theorems}
    proved = {r.label for r in results.read() if r.proved}
    for attempt in range(1, cfg.max_attempts + 1):
        todo = [label for label, a in pending_attempts(list(by_label), cfg.max_attempts, results.read())
                if a == attempt]
        if not todo:
            continue
        exp.logger.info(f"attempt {attempt}: {len(todo)} theorem(s)")
        for rec in run_round(attempt, [by_label[label] for label in todo]):
            results.append(rec)
            if rec.proved:
                proved.add(rec.label)
            exp.logger.info(f"{rec.label} attempt {attempt}: {'proved' if rec.proved else 'not proved'} "
                            f"({rec.stats.get('time_s', 0.0):.1f}s) -- proved {len(proved)}/{len(theorems)}")


def local_rounds(env: BackwardEnv, prover: Prover, params: dict[str, Any]) -> RoundRunner:
    """Rounds proved by `prover` in this process (its searches share each model call)."""
    def run_round(attempt: int, theorems: list[Theorem]) -> Iterator[AttemptRecord]:
        jobs = [replace(t, meta={**t.meta, "attempt": attempt}) for t in theorems]
        for rec in prover.prove(jobs):
            yield attempt_record(env, rec, attempt, params)

    return run_round


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(EvalConfig, "eval", __doc__ or "", PRESETS))
        return 0
    cfg = load_config(EvalConfig, argv, PRESETS)
    if cfg.n_provers > 0:
        absolute_paths(cfg)
        cfg.ray.check()
    check_run_names(cfg)
    # a folder of other results is refused before a model is loaded (setup_experiment checks it again)
    check_same_run(dump_dir(cfg), cfg, "eval", eval_defining(cfg), EVAL_IGNORED)
    env = open_env(cfg)
    if cfg.theorems_file:
        theorems = read_theorems_file(env, cfg.theorems_file)[: cfg.n_theorems or None]
    else:
        theorems = select_theorems(env, cfg.split, cfg.n_theorems)
    # a bad checkpoint fails here, before the run folder is made (Ray provers load it themselves)
    prover = build_prover(cfg, env) if cfg.n_provers == 0 else None
    if prover is None:
        check_expander(cfg, env)
    exp = setup_experiment(cfg, "eval", log_name="eval.log", argv=argv, defining=eval_defining(cfg),
                           ignored=EVAL_IGNORED)
    results = ResultsFile(exp.path / "eval_results.jsonl")
    torn = results.repair()
    if torn:
        exp.logger.warning(torn)
    part = results.begin_part()
    if cfg.n_provers > 0:
        from hyperprover.evaluation.ray_eval import ray_rounds

        with ray_rounds(cfg, exp) as run_round:
            run_rounds(cfg, theorems, results, exp, run_round)
    else:
        assert prover is not None
        with prover:
            run_rounds(cfg, theorems, results, exp, local_rounds(env, prover, cfg.record_params()))
    summary = summarize([t.label for t in theorems], results.read(), cfg.max_attempts)
    # every run of the eval in this folder (each resume is one part) counts towards the wall time
    parts = {**part_times(results.read()), part: results.part_wall_s()}
    previous = exp.path / "summary.json"
    if any(r.part == 0 for r in results.read()) and previous.exists():
        # records from before parts were numbered: their time is what the last summary of that time said
        old = json.loads(previous.read_text())
        parts[0] = old["wall_time_parts_s"][0] if "wall_time_parts_s" in old else old.get("wall_time_s", 0.0)
    summary.update({"split": cfg.theorems_file or cfg.split, "prover": cfg.prover, "expander": cfg.expander,
                    "n_expansions": cfg.search.n_expansions, "wall_time_s": sum(parts.values()),
                    "wall_time_parts_s": [round(parts[k], 3) for k in sorted(parts)]})
    atomic.write_text(exp.path / "summary.json", json.dumps(summary, indent=2) + "\n")
    exp.metrics.log({k: v for k, v in summary.items() if isinstance(v, int | float)}, step=0)
    k = cfg.max_attempts
    auc = "" if summary["critic_auc"] is None else f", critic AUC {summary['critic_auc']:.3f}"
    print(f"{cfg.prover} ({cfg.expander} expander) on {summary['split']}: "
          f"proved {summary['proved']}/{summary['n_theorems']} "
          f"(pass@{k} {100 * summary[f'pass@{k}']:.1f}%), {summary['time_per_theorem_s']:.1f}s per theorem{auc}; "
          f"results in {exp.path}", file=sys.stderr)
    exp.close()
    return 0

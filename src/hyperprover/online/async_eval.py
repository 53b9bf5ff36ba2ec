"""Asynchronous evaluation of a trainer snapshot (docs/guide-online.md), in its own Ray task.

`bwd_prover_eval/<lang>/<split>/<epoch>/` holds checkpoint.pth (written by the trainer), then
results.json and an empty `done` file written here; `done` appears last, so a reader that sees it
finds complete results. `increasing_quality` provers only load snapshots at least as good as the best.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from hyperprover import atomic


def run_async_eval(cfg: Any, out_dir: str, epoch: int) -> dict[str, Any]:
    """Prove the first `async_eval_n` theorems of `async_eval_split` with the snapshot in `out_dir`."""

    import torch

    from hyperprover.envs.base import split_theorems
    from hyperprover.model.expander import load_expander
    from hyperprover.provers.options import open_env
    from hyperprover.results import roc_auc
    from hyperprover.search.prover import Prover

    if cfg.local and cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    out = Path(out_dir)
    env = open_env(cfg)
    theorems = split_theorems(env, cfg.async_eval_split)
    if cfg.async_eval_n:
        theorems = theorems[: cfg.async_eval_n]
    expander = load_expander(out / "checkpoint.pth", env, "cpu", seed=cfg.search.seed)
    start = time.time()
    proved: list[str] = []
    pairs: list[tuple[float, bool]] = []
    with Prover(env, expander, cfg.search, cfg.decoding, cfg.prover_config(),
                env_factory=cfg.env_factory()) as prover:
        for rec in prover.prove(theorems):
            pairs.extend(rec.critic_pairs)
            if rec.proved:
                proved.append(rec.label)
    n = len(theorems)
    results = {"epoch": epoch, "split": cfg.async_eval_split, "n_theorems": n, "proved": len(proved),
               "proved_rate": len(proved) / n if n else 0.0, "proved_labels": sorted(proved),
               "critic_auc": roc_auc(pairs), "time_s": time.time() - start}
    atomic.write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    (out / "done").touch()
    return results


async_eval_task = ray.remote(run_async_eval)


@dataclass(frozen=True)
class EvalResult:
    epoch: int
    proved_rate: float
    checkpoint: Path
    critic_auc: float | None = None  # solved vs unsolved expanded goals (None: one side empty)


def finished_evals(run_path: Path, env: str, split: str) -> list[EvalResult]:
    """Finished async evaluations of a run, by epoch."""
    root = run_path / "bwd_prover_eval" / env / split
    out = []
    if root.is_dir():
        for d in root.iterdir():
            if d.name.isdigit() and (d / "done").exists():
                r = json.loads((d / "results.json").read_text())
                out.append(EvalResult(int(d.name), float(r["proved_rate"]), d / "checkpoint.pth", r.get("critic_auc")))
    return sorted(out, key=lambda e: e.epoch)

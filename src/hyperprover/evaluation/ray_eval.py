"""`hyperprover eval --n_provers N`: the local evaluation spread over N Ray prover actors.

The rounds of `run_rounds` (evaluation/main.py), with the same results file, resume and summary: attempt k
of a theorem runs only once attempts 1..k-1 failed; every finished attempt is appended (flushed) to
eval_results.jsonl; a prover that dies is restarted by Ray and its theorems handed out again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hyperprover.envs.base import Theorem
from hyperprover.experiment import Experiment
from hyperprover.provers.actor import Job, JobResult
from hyperprover.results import AttemptRecord, critic_json


def attempt_from_job(r: JobResult, params: dict[str, Any]) -> AttemptRecord:
    stats = dict(r.stats)
    stats["time_s"] = float(stats.get("time_wall_s", 0.0))
    return AttemptRecord(label=r.label, attempt=r.attempt, proved=r.proved, proof=r.proof, stats=stats,
                         params=params, error=r.error, critic=critic_json(r.critic_pairs))


@contextmanager
def ray_rounds(cfg: Any, exp: Experiment) -> Iterator[Callable[[int, list[Theorem]], Iterator[AttemptRecord]]]:
    """Rounds spread over `--n_provers` Ray provers (started here, stopped at the end): each prover keeps
    2 x n_simultaneous_proofs jobs; the jobs of a prover that dies go to the others."""
    import ray

    from hyperprover.provers.pool import ProverPool, init_ray, start_provers

    params = cfg.record_params()
    init_ray(cfg.ray.address, cfg.ray.num_cpus or cfg.n_provers + 1, cfg.ray.log_to_driver)
    try:
        pool = ProverPool(start_provers(cfg.n_provers, cfg, cfg.reload_model, str(exp.path / "provers"),
                                        cfg.max_restarts, cfg.prover_gpus, cfg.torch_threads, keep_samples=False,
                                        resources=cfg.ray.prover_resource_dict()),
                          exp.logger)
        next_id = 0

        def run_round(attempt: int, theorems: list[Theorem]) -> Iterator[AttemptRecord]:
            from tqdm import tqdm

            nonlocal next_id
            queue = [Job(next_id + i, t.label, cfg.split, attempt, theorem=t) for i, t in enumerate(theorems)]
            next_id += len(queue)
            remaining = len(queue)
            with tqdm(total=remaining, desc=f"attempt {attempt}", unit="thm", disable=None) as bar:
                while remaining:
                    if not pool.alive:
                        raise RuntimeError("every prover died and Ray has no restarts left (--max_restarts)")
                    for p in pool.available:
                        n = 2 * cfg.n_simultaneous_proofs - len(p.in_flight)
                        if n > 0 and queue:
                            pool.submit(p, queue[:n])
                            del queue[:n]
                    done, lost = pool.poll()
                    queue = lost + queue
                    for r in done:
                        remaining -= 1
                        bar.update(1)
                        yield attempt_from_job(r, params)
                    if not done:
                        time.sleep(0.1)

        yield run_round
        pool.shutdown()
    finally:
        ray.shutdown()

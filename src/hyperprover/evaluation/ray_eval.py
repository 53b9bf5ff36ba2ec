"""`hyperprover eval --n_provers N`: the local evaluation spread over N Ray prover actors (htps spec 5).

Same rounds, results file, resume and summary as `run_local`: attempt k of a theorem runs only once
attempts 1..k-1 failed; every finished attempt is appended (flushed) to eval_results.jsonl; a prover
that dies is restarted by Ray and its theorems handed out again.
"""

from __future__ import annotations

import time
from typing import Any

from hyperprover.envs.base import BackwardEnv, Theorem
from hyperprover.experiment import Experiment
from hyperprover.provers.actor import Job, JobResult
from hyperprover.results import AttemptRecord, ResultsFile, critic_json, pending_attempts


def attempt_from_job(r: JobResult, params: dict[str, Any]) -> AttemptRecord:
    stats = dict(r.stats)
    stats["time_s"] = float(stats.get("time_wall_s", 0.0))
    return AttemptRecord(label=r.label, attempt=r.attempt, proved=r.proved, proof=r.proof, stats=stats,
                         params=params, error=r.error, critic=critic_json(r.critic_pairs))


def run_ray(cfg: Any, env: BackwardEnv, theorems: list[Theorem], results: ResultsFile, exp: Experiment) -> None:
    import ray
    from tqdm import tqdm

    from hyperprover.provers.pool import ProverPool, init_ray, start_provers

    labels = [t.label for t in theorems]
    by_label = {t.label: t for t in theorems}
    params = cfg.record_params()
    init_ray(cfg.ray.address, cfg.ray.num_cpus or cfg.n_provers + 1, cfg.ray.log_to_driver)
    try:
        pool = ProverPool(start_provers(cfg.n_provers, cfg, cfg.reload_model, str(exp.path / "provers"),
                                        cfg.max_restarts, cfg.prover_gpus, cfg.torch_threads, keep_samples=False,
                                        resources=cfg.ray.prover_resource_dict()),
                          exp.logger)
        next_id = 0
        for attempt in range(1, cfg.max_attempts + 1):
            todo = [label for label, a in pending_attempts(labels, cfg.max_attempts, results.read()) if a == attempt]
            if not todo:
                continue
            exp.logger.info(f"attempt {attempt}: {len(todo)} theorem(s) on {cfg.n_provers} prover(s)")
            queue: list[Job] = []
            for label in todo:
                queue.append(Job(next_id, label, cfg.split, attempt, theorem=by_label[label]))
                next_id += 1
            bar = tqdm(total=len(todo), desc=f"attempt {attempt}", unit="thm", disable=None)
            remaining = len(todo)
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
                    results.append(attempt_from_job(r, params))
                    remaining -= 1
                    bar.update(1)
                    exp.logger.info(f"{r.label} attempt {attempt}: {'proved' if r.proved else 'not proved'} "
                                    f"(prover {r.prover}, {r.stats.get('time_wall_s', 0.0):.1f}s)")
                if not done:
                    time.sleep(0.1)
            bar.close()
        pool.shutdown()
    finally:
        ray.shutdown()

"""Prover actors seen from the driver: start them, hand out jobs, collect results, survive deaths.

The pool keeps, per prover, the jobs it handed out and has not received back. A job comes back at most
once (a result for a job the pool no longer holds is dropped), and a job the prover lost (the actor
died, or Ray restarted it with an empty inbox) is returned by `poll` for the caller to re-queue. So the
caller records every job exactly once, whatever dies in between.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from hyperprover.evaluation.proving import ProvingOptions
from hyperprover.online.prover_actor import Job, JobResult, PollReply, ProverWorker

DEAD_AFTER = 8  # consecutive failed polls after which a prover is given up (its restarts are spent)


@dataclass
class ProverHandle:
    index: int
    actor: Any
    in_flight: dict[int, Job] = field(default_factory=dict)
    instance: str | None = None
    failures: int = 0
    restarts_seen: int = 0
    version: int = 0
    dead: bool = False


def start_provers(n: int, cfg: ProvingOptions, checkpoint: str, log_dir: str, max_restarts: int, gpus: float,
                  torch_threads: int, keep_samples: bool = True) -> list[ProverHandle]:
    cls = ray.remote(ProverWorker)
    out = []
    for i in range(n):
        actor = cls.options(max_restarts=max_restarts, max_task_retries=0, num_cpus=1, num_gpus=gpus,
                            name=None).remote(i, cfg, checkpoint, log_dir, torch_threads, keep_samples)
        out.append(ProverHandle(i, actor))
    return out


class ProverPool:
    def __init__(self, provers: Sequence[ProverHandle], logger: logging.Logger, poll_timeout: float = 60.0) -> None:
        self.provers = list(provers)
        self.log = logger
        self.poll_timeout = poll_timeout
        self.n_requeued = 0
        self.n_prover_deaths = 0

    @property
    def alive(self) -> list[ProverHandle]:
        return [p for p in self.provers if not p.dead]

    def n_in_flight(self) -> int:
        return sum(len(p.in_flight) for p in self.provers)

    def submit(self, p: ProverHandle, jobs: list[Job]) -> None:
        if not jobs:
            return
        for j in jobs:
            p.in_flight[j.job_id] = j
        # failures surface in the next poll (a job the actor never got is not in its `held` set)
        p.actor.submit.remote(jobs)

    def poll(self) -> tuple[list[JobResult], list[Job]]:
        """Finished results, and jobs to re-queue (their prover lost them)."""
        results: list[JobResult] = []
        lost: list[Job] = []
        live = self.alive
        refs = [p.actor.poll.remote() for p in live]
        for p, ref in zip(live, refs):
            try:
                reply: PollReply = ray.get(ref, timeout=self.poll_timeout)
            except GetTimeoutError:
                self.log.warning(f"prover {p.index} did not answer in {self.poll_timeout:.0f}s")
                continue
            except (RayActorError, RayError) as e:
                lost += self._lose_all(p, f"died ({type(e).__name__})")
                p.failures += 1
                if p.failures >= DEAD_AFTER:
                    p.dead = True
                    self.log.error(f"prover {p.index} is gone for good after {p.failures} failed calls")
                continue
            p.failures = 0
            if reply.error is not None:
                lost += self._lose_all(p, "crashed in its proving thread")
                self.log.error(f"prover {p.index} crashed:\n{reply.error}")
                ray.kill(p.actor, no_restart=False)  # Ray restarts it with a fresh proving thread
                continue
            if p.instance is not None and reply.instance != p.instance:
                self.n_prover_deaths += 1
                self.log.warning(f"prover {p.index} was restarted by Ray (instance {reply.instance[:8]})")
            p.instance = reply.instance
            p.version = reply.version
            for r in reply.results:
                if p.in_flight.pop(r.job_id, None) is not None:
                    results.append(r)
            missing = [j for jid, j in p.in_flight.items() if jid not in reply.held]
            for j in missing:
                del p.in_flight[j.job_id]
            if missing:
                self.log.warning(f"prover {p.index} lost {len(missing)} job(s); re-queued")
                self.n_requeued += len(missing)
                lost += missing
        return results, lost

    def _lose_all(self, p: ProverHandle, why: str) -> list[Job]:
        jobs = list(p.in_flight.values())
        p.in_flight.clear()
        p.instance = None  # the restarted actor's new instance id is not a second death
        self.n_requeued += len(jobs)
        if p.failures == 0:
            self.n_prover_deaths += 1
        self.log.warning(f"prover {p.index} {why}: {len(jobs)} theorem(s) re-queued")
        return jobs

    def set_weights(self, version: int, state_ref: Any) -> None:
        for p in self.alive:
            if p.version < version:
                p.actor.set_weights.remote(version, state_ref)

    def shutdown(self) -> None:
        for p in self.provers:
            try:
                ray.kill(p.actor, no_restart=True)
            except (RayError, ValueError):
                pass

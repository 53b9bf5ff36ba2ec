"""Prover actors seen from the driver: start them, hand out jobs, collect results, survive deaths.

The pool keeps, per prover, the jobs it handed out and has not received back. A job comes back at most
once (a result for a job the pool no longer holds is dropped), and a job the prover lost (the actor
died, or Ray restarted it with an empty inbox) is returned by `poll` for the caller to re-queue. So the
caller records every job exactly once, whatever dies in between.

A prover whose node is lost (its raylet died, the machine went away) is *unavailable*: Ray restarts it
when a node with the resources it needs is there again, maybe never. Its jobs go back to the caller at
once (the other provers take them) and it gets no new ones until it answers again; the lost node is
named in the log and counted in `lost_nodes`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayError

from hyperprover.config import ConfigError
from hyperprover.provers.actor import Job, JobResult, PollReply, ProverWorker
from hyperprover.provers.options import ProvingOptions

DEAD_AFTER = 8  # consecutive failed polls after which a prover is given up (its restarts are spent)
RETRY_UNAVAILABLE_S = 2.0  # an unavailable prover is asked again at most this often


@dataclass
class ProverHandle:
    index: int
    actor: Any
    in_flight: dict[int, Job] = field(default_factory=dict)
    instance: str | None = None
    failures: int = 0
    restarts_seen: int = 0
    version: int = 0
    sent_version: int = 0  # the newest weights sent to this instance
    dead: bool = False
    node: str = ""  # Ray node id, from its last answer
    unavailable_since: float | None = None  # its node was lost; Ray restarts it when a node can hold it
    last_try: float = 0.0


def init_ray(address: str, num_cpus: int, log_to_driver: bool) -> None:
    if address:
        try:
            ray.init(address=address, log_to_driver=log_to_driver)
        except (ConnectionError, ray.exceptions.RayError) as e:
            # Ray >= 2.5x: `ray start` turns token authentication on unless RAY_AUTH_MODE says otherwise, and a
            # joining driver only sends the token when told to
            raise ConfigError(f"cannot join the Ray cluster at --ray.address {address} ({type(e).__name__}); "
                               "check `ray status` there, and if the cluster uses token authentication, export "
                               "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or ~/.ray/auth_token) here "
                               "too") from None
    else:  # "local": our own instance, even when RAY_ADDRESS is set or a `ray start` cluster runs here
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=log_to_driver,
                 configure_logging=False)


def start_provers(n: int, cfg: ProvingOptions, checkpoint: str, log_dir: str, max_restarts: int, gpus: float,
                  torch_threads: int, keep_samples: bool = True,
                  resources: dict[str, float] | None = None) -> list[ProverHandle]:
    cls = ray.remote(ProverWorker)
    out = []
    for i in range(n):
        actor = cls.options(max_restarts=max_restarts, max_task_retries=0, num_cpus=1, num_gpus=gpus,
                            resources=resources or {}, name=None
                            ).remote(i, cfg, checkpoint, log_dir, torch_threads, keep_samples)
        out.append(ProverHandle(i, actor))
    return out


class ProverPool:
    def __init__(self, provers: Sequence[ProverHandle], logger: logging.Logger, poll_timeout: float = 60.0) -> None:
        self.provers = list(provers)
        self.log = logger
        self.poll_timeout = poll_timeout
        self.n_requeued = 0
        self.n_prover_deaths = 0
        self.lost_nodes: set[str] = set()
        self.weights: tuple[int, Any] | None = None  # the newest published (version, state ref)
        self.last_wait_note = 0.0

    @property
    def alive(self) -> list[ProverHandle]:
        """Provers not given up (some may be waiting for Ray to restart them)."""
        return [p for p in self.provers if not p.dead]

    @property
    def available(self) -> list[ProverHandle]:
        """Provers that take jobs now."""
        return [p for p in self.provers if not p.dead and p.unavailable_since is None]

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
        now = time.time()
        live = [p for p in self.alive if p.unavailable_since is None or now - p.last_try > RETRY_UNAVAILABLE_S]
        for p in live:
            p.last_try = now
        refs = [p.actor.poll.remote() for p in live]
        for p, ref in zip(live, refs):
            try:
                reply: PollReply = ray.get(ref, timeout=self.poll_timeout)
            except GetTimeoutError:
                self.log.warning(f"prover {p.index} did not answer in {self.poll_timeout:.0f}s")
                continue
            except ActorUnavailableError:  # restarting, or waiting for a node that can hold it
                if p.unavailable_since is None:
                    p.unavailable_since = now
                    lost += self._lose_all(p, "is unavailable")
                self._check_node(p)  # Ray marks a node dead only after its health checks fail
                continue
            except (RayActorError, RayError) as e:
                lost += self._lose_all(p, f"died ({type(e).__name__})")
                p.failures += 1
                if p.failures >= DEAD_AFTER:
                    p.dead = True
                    self.log.error(f"prover {p.index} is gone for good after {p.failures} failed calls")
                continue
            p.failures = 0
            if p.unavailable_since is not None:
                self.log.warning(f"prover {p.index} is back after {now - p.unavailable_since:.0f}s"
                                 f"{' on another node' if reply.node != p.node else ''}")
                p.unavailable_since = None
            p.node = reply.node
            if reply.error is not None:
                lost += self._lose_all(p, "crashed in its proving thread")
                self.log.error(f"prover {p.index} crashed:\n{reply.error}")
                ray.kill(p.actor, no_restart=False)  # Ray restarts it with a fresh proving thread
                continue
            if p.instance is not None and reply.instance != p.instance:
                self.n_prover_deaths += 1
                self.log.warning(f"prover {p.index} was restarted by Ray (instance {reply.instance[:8]})")
            if reply.instance != p.instance:
                p.sent_version = 0
            p.instance = reply.instance
            p.version = reply.version
            if self.weights is not None and max(p.version, p.sent_version) < self.weights[0]:
                self._send_weights(p)  # a restarted prover starts from the first checkpoint again
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
        if self.alive and not self.available and now - self.last_wait_note > 60.0:
            self.last_wait_note = now
            waited = now - min(p.unavailable_since or now for p in self.alive)
            self.log.warning(f"no prover available for {waited:.0f}s: waiting for Ray to restart them on a node "
                             f"with the resources they need ({len(self.lost_nodes)} node(s) lost)")
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

    def _check_node(self, p: ProverHandle) -> None:
        """Log (once per node) when Ray says the node of an unavailable prover is dead."""
        if not p.node or p.node in self.lost_nodes:
            return
        for n in ray.nodes():
            if n["NodeID"] == p.node and not n["Alive"]:
                self.lost_nodes.add(p.node)
                self.log.error(f"Ray lost node {p.node[:8]} ({n['NodeManagerAddress']}:{n['NodeManagerPort']}): "
                               f"its provers wait for a node with the resources they need; their theorems went "
                               f"to the others")

    def set_weights(self, version: int, state_ref: Any) -> None:
        self.weights = (version, state_ref)
        for p in self.available:
            if max(p.version, p.sent_version) < version:
                self._send_weights(p)

    def _send_weights(self, p: ProverHandle) -> None:
        assert self.weights is not None
        p.sent_version = self.weights[0]
        p.actor.set_weights.remote(*self.weights)

    def shutdown(self) -> None:
        for p in self.provers:
            try:
                ray.kill(p.actor, no_restart=True)
            except (RayError, ValueError):
                pass

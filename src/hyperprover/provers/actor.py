"""A prover worker (one Ray actor): a Prover with its own model copy, fed with jobs by the controller.

The controller `submit`s jobs and `poll`s for finished ones. A background thread runs the Prover over
an inbox that can refill while searches are alive; the actor's methods only touch the inbox, the
outbox and a pending weight update, so they answer at once. `poll` also says which jobs the worker
still holds: a job the controller thinks is here but the worker does not know (a restarted actor)
is re-queued by the controller. New weights are swapped in between two Prover steps.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprover.envs.base import ProofNode, Theorem, split_theorems
from hyperprover.experiment import create_logger
from hyperprover.provers.draws import apply_draw
from hyperprover.provers.options import ProvingOptions, build_expander, open_env
from hyperprover.search.prover import BatchTrace, ProofRecord, Prover
from hyperprover.search.samples import CriticSample, TacticSample


@dataclass(frozen=True)
class Job:
    job_id: int
    label: str
    split: str
    attempt: int = 1
    draw: dict[str, Any] = field(default_factory=dict)  # per-proof search parameters (hyperopt)
    theorem: Theorem | None = None  # given when the theorem is not in env.theorems(split) (a theorems file)


@dataclass(frozen=True)
class JobResult:
    job_id: int
    label: str
    split: str
    attempt: int
    proved: bool
    proof_size: int | None
    proof: dict[str, Any] | None
    stats: dict[str, float]
    draw: dict[str, Any]
    version: int  # model version that ran the search
    prover: int
    error: str | None
    tactic_samples: tuple[TacticSample, ...] = ()
    critic_samples: tuple[CriticSample, ...] = ()
    critic_pairs: tuple[tuple[float, bool], ...] = ()  # the critic's calibration (ProofRecord.critic_pairs)


@dataclass(frozen=True)
class PollReply:
    instance: str  # changes when Ray restarts the actor
    results: list[JobResult]
    held: frozenset[int]  # job ids queued or being searched
    version: int
    error: str | None  # the proving thread crashed
    node: str = ""  # the Ray node the actor runs on: a lost node is named in the driver's log


def proof_size(p: ProofNode) -> int:
    return 1 + sum(proof_size(c) for c in p.children)


class _Inbox:
    """An iterator the Prover can drain: StopIteration when empty, items again once refilled."""

    def __init__(self) -> None:
        self.items: deque[Theorem] = deque()
        self.lock = threading.Lock()

    def __iter__(self) -> _Inbox:
        return self

    def __next__(self) -> Theorem:
        with self.lock:
            if not self.items:
                raise StopIteration
            return self.items.popleft()


def _ray_node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""  # "" outside Ray (tests)


class ProverWorker:
    def __init__(self, index: int, cfg: ProvingOptions, checkpoint: str, log_dir: str, torch_threads: int = 0,
                 keep_samples: bool = True) -> None:
        import torch

        if torch_threads > 0:
            torch.set_num_threads(torch_threads)
        self.index, self.keep_samples = index, keep_samples
        self.instance = uuid.uuid4().hex
        self.node = _ray_node_id()
        self.log: logging.Logger = create_logger(Path(log_dir) / f"prover_{index}.log", f"prover{index}",
                                                 stderr=False)
        self.env = open_env(cfg)
        self.expander = build_expander(cfg, self.env, cfg.search.seed + index, checkpoint)
        search, decoding = cfg.search, cfg.decoding
        self.prover = Prover(self.env, self.expander, search, decoding, cfg.prover_config(),
                             env_factory=cfg.env_factory(), on_batch=self._on_batch,
                             per_theorem=lambda th: apply_draw(search, decoding, th.meta.get("draw") or {}))
        self.theorems: dict[str, dict[str, Theorem]] = {}
        self.inbox = _Inbox()
        self.jobs: dict[int, Job] = {}  # held: queued or running
        self.outbox: list[JobResult] = []
        self.lock = threading.Lock()
        self.version = 0
        self.pending: tuple[int, dict[str, Any]] | None = None
        self.error: str | None = None
        self.log.info(f"prover {index} (instance {self.instance[:8]}, pid {os.getpid()}) loaded {checkpoint}")
        threading.Thread(target=self._loop, daemon=True, name=f"prover{index}").start()

    # ---------------------------------------------------------------- actor methods
    def submit(self, jobs: list[Job]) -> str:
        for job in jobs:
            th = self._theorem(job)
            with self.lock:
                self.jobs[job.job_id] = job
            with self.inbox.lock:
                self.inbox.items.append(th)
        return self.instance

    def poll(self) -> PollReply:
        with self.lock:
            out, self.outbox = self.outbox, []
            held = frozenset(self.jobs)
        return PollReply(self.instance, out, held, self.version, self.error, self.node)

    def set_weights(self, version: int, state: dict[str, Any]) -> int:
        """Queue a weight update (applied between two Prover steps); returns the version now running."""
        if version > self.version:
            self.pending = (version, state)
        return self.version

    def pid(self) -> int:
        return os.getpid()

    def crash(self) -> None:
        """Die as a crash would (tests of fault tolerance)."""
        os._exit(1)

    # ---------------------------------------------------------------- internals
    def _theorem(self, job: Job) -> Theorem:
        if job.theorem is not None:
            return dataclasses.replace(job.theorem, meta={**job.theorem.meta, "attempt": job.attempt,
                                                          "job_id": job.job_id, "draw": job.draw})
        if job.split not in self.theorems:
            self.theorems[job.split] = {t.label: t for t in split_theorems(self.env, job.split)}
        th = self.theorems[job.split].get(job.label)
        if th is None:
            raise KeyError(f"theorem {job.label} is not in split {job.split}")
        meta = {**th.meta, "attempt": job.attempt, "job_id": job.job_id, "draw": job.draw}
        return dataclasses.replace(th, meta=meta)

    def _apply_weights(self) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        version, state = pending
        from hyperprover.model.expander import TransformerExpander

        if isinstance(self.expander, TransformerExpander):  # the uniform floor has no weights to take
            self.expander.set_weights(state)
        self.version = version
        self.log.info(f"loaded model version {version}")

    def _on_batch(self, trace: BatchTrace) -> None:
        self._apply_weights()

    def _loop(self) -> None:
        while True:
            try:
                self._apply_weights()
                if not self.inbox.items:
                    time.sleep(0.05)
                    continue
                for rec in self.prover.prove(self.inbox):
                    self._finish(rec)
            except Exception:  # noqa: BLE001 - reported through poll; the controller stops or restarts us
                self.error = traceback.format_exc(limit=5)
                self.log.error(f"proving thread crashed:\n{self.error}")
                return

    def _finish(self, rec: ProofRecord) -> None:
        job_id = self._job_id(rec)
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            return
        from hyperprover.envs.base import proof_to_json

        res = JobResult(job.job_id, job.label, job.split, job.attempt, rec.proved,
                        proof_size(rec.proof) if rec.proof is not None else None,
                        proof_to_json(self.env, rec.proof) if rec.proof is not None else None,
                        {k: float(v) for k, v in rec.stats.items()}, job.draw, self.version, self.index, rec.error,
                        rec.samples.tactic if self.keep_samples else (),
                        rec.samples.critic if self.keep_samples else (), rec.critic_pairs)
        cache = getattr(self.expander, "cache_counts", None)  # the model's: expansions reused under these weights
        reused = f", cached expansions so far {cache['hits']}/{cache['hits'] + cache['misses']}" if cache else ""
        self.log.info(f"job {job.job_id} {job.label} ({job.split}, attempt {job.attempt}): "
                      f"{'proved' if rec.proved else 'not proved'} in {rec.stats.get('time_wall_s', 0.0):.1f}s, "
                      f"{len(res.tactic_samples)} tactic / {len(res.critic_samples)} critic samples{reused}")
        with self.lock:
            self.jobs.pop(job_id, None)
            self.outbox.append(res)

    def _job_id(self, rec: ProofRecord) -> int:
        # the Prover reports labels; a label may be held twice (two attempts), so match the oldest job
        with self.lock:
            # jobs are started in submission order, and a finished job leaves `jobs` at once
            return next((jid for jid, job in self.jobs.items() if job.label == rec.label), -1)

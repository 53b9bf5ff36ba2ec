"""Applying tactics through the env, in this process or in a pool of worker processes.

Workers build their own env from a picklable factory (a module-level function or a
functools.partial of one) and use the `spawn` start method, so a parent that has already started
torch threads cannot deadlock its children. An exception inside `env.apply` becomes an error
result for that one tactic instead of ending the whole evaluation. A task carries its search's deadline
(`time.time()` seconds, valid in every process): an env whose tactics may run for seconds (TimeCappedEnv,
Coq's automation) gets the time left as each tactic's limit, and the tactics still waiting when it has passed
are not tried (error kind SKIPPED; the searches leave a goal they know nothing about unexpanded, see
GraphSearch.receive). Envs whose tactics take milliseconds try every tactic, so their results never depend
on the clock. A task may also stop at the first tactic that closes its goal (the provers ask for it under
search.only_keep_one_solving): tactics come best first, and the search would keep that one and throw the rest
away, so the node is the same; on Coq the rest can be seconds of automation (`hammer` after a `sauto` that
already closed the goal).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

from hyperprover.envs.base import BackwardEnv, Goal, TacticError, TacticErrorKind, TacticResult, TimeCappedEnv

# a goal, its tactics, the deadline of its search (inf: none), whether to stop at the first closing tactic
Task = tuple[Goal, tuple[str, ...], float, bool]


def apply_tactics(env: BackwardEnv, goal: Goal, tactics: Sequence[str], timed: bool = False,
                  deadline: float = math.inf, whole: bool = False, stop_at_closing: bool = False,
                  ) -> list[TacticResult]:
    """`timed`: fill in `duration_s` where the env left it at 0 (for proof_stype time); `whole`: a time-capped
    env gives each tactic all the time left, past its own limit (search.finish_with); `stop_at_closing`: the
    tactics after the first that closes the goal are not tried (SKIPPED)."""
    capped = env if math.isfinite(deadline) and isinstance(env, TimeCappedEnv) else None
    out: list[TacticResult] = []
    closed = False
    for tac in tactics:
        t0 = time.perf_counter()
        if closed:
            out.append(TacticResult(tac, error=TacticError(TacticErrorKind.SKIPPED, "a better tactic closed the goal")))
            continue
        left = deadline - time.time() if capped else math.inf
        if left <= 0:
            out.append(TacticResult(tac, error=TacticError(TacticErrorKind.SKIPPED, "its search's time was up")))
            continue
        try:
            r = capped.apply_within(goal, tac, left, whole=whole) if capped else env.apply(goal, tac)
        except Exception as e:  # noqa: BLE001 - one broken tactic must not stop the other searches
            msg = f"env.apply raised {type(e).__name__}: {e}".splitlines()[0]
            r = TacticResult(tac, error=TacticError(TacticErrorKind.OTHER, msg))
        if timed and r.duration_s == 0.0:
            r = dataclasses.replace(r, duration_s=time.perf_counter() - t0)
        out.append(r)
        closed = stop_at_closing and r.closes
    return out


_WORKER_ENV: BackwardEnv | None = None
_WORKER_TIMED = False


def _init_worker(factory: Callable[[], BackwardEnv], timed: bool) -> None:
    global _WORKER_ENV, _WORKER_TIMED
    _WORKER_ENV, _WORKER_TIMED = factory(), timed


def _work(task: Task) -> list[TacticResult]:
    assert _WORKER_ENV is not None, "worker env not initialised"
    return apply_tactics(_WORKER_ENV, task[0], task[1], _WORKER_TIMED, task[2], stop_at_closing=task[3])


class EnvPool:
    """`apply(tasks)` -> one result list per (goal, tactics) task, in order."""

    def __init__(self, env: BackwardEnv, workers: int = 0, factory: Callable[[], BackwardEnv] | None = None,
                 timed: bool = False) -> None:
        self.env = env
        self.workers = workers
        self.timed = timed
        self._pool: Any = None
        if workers > 0:
            if factory is None:
                raise ValueError("env_workers > 0 needs an env factory that worker processes can call "
                                 "(a module-level function, or functools.partial(make_env, name, ...))")
            try:
                pickle.dumps(factory)
            except Exception as e:  # noqa: BLE001 - any pickling failure is the same user error
                raise ValueError(f"the env factory cannot be sent to worker processes ({e}); use a "
                                 "module-level function or functools.partial of one") from None
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(workers, initializer=_init_worker, initargs=(factory, timed))

    def apply(self, tasks: Sequence[Task]) -> list[list[TacticResult]]:
        if not tasks:
            return []
        if self._pool is None:
            return [apply_tactics(self.env, g, ts, self.timed, deadline, stop_at_closing=stop)
                    for g, ts, deadline, stop in tasks]
        chunk = max(1, len(tasks) // (self.workers * 4))
        out: list[list[TacticResult]] = self._pool.map(_work, tasks, chunksize=chunk)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

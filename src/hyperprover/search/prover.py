"""The Prover: K searches at once against one batched expander and one env (or env pool).

Each step asks every live search for its goals, sends all of them to the expander in ONE call,
applies every proposed tactic through the env, and hands each search its share of the results.
A finished search is replaced by the next theorem of the queue. Every proof is re-checked from
scratch with `env.check_proof` before it is reported; a proof that fails is reported as not proved
with the checker's message in `error`. `on_batch` sees every step (`hyperprover prove --trace 1`).
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from hyperprover.config import load_ref
from hyperprover.envs.base import BackwardEnv, Goal, ProofNode, TacticError, TacticErrorKind, TacticResult, Theorem
from hyperprover.search.api import Search
from hyperprover.search.config import PROVERS, ProverConfig, SearchConfig, check_search_config
from hyperprover.search.env_pool import EnvPool, apply_tactics
from hyperprover.search.expander import DecodingConfig, Expander, Expansion, keep_best
from hyperprover.search.samples import Samples, Tokenizer, with_finisher_proof


def search_class(kind: str) -> Callable[..., Search]:
    """The Search class of a prover name (search/config.py: PROVERS)."""
    if kind not in PROVERS:
        raise ValueError(f"unknown prover {kind!r}; choose one of {', '.join(PROVERS)}")
    cls: Callable[..., Search] = load_ref(PROVERS[kind])
    return cls


def make_search(kind: str, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                rng: random.Random | None = None) -> Search:
    return search_class(kind)(goal, cfg, label, tokenizer, rng)


@dataclass(frozen=True)
class ProofRecord:
    """What the Prover reports per theorem (attempt)."""

    label: str
    goal: Goal
    proved: bool
    proof: ProofNode | None  # None unless proved (a proof that failed its re-check is dropped)
    stats: dict[str, float]
    samples: Samples = field(default_factory=Samples)
    stop_reason: str = ""
    error: str | None = None  # failed re-check, or a crash of the search
    critic_pairs: tuple[tuple[float, bool], ...] = ()  # see SearchResult


@dataclass(frozen=True)
class BatchTrace:
    """One Prover step: the goals of every live search and what the model and env made of them."""

    step: int
    labels: tuple[str, ...]  # the theorem each goal belongs to
    goals: tuple[Goal, ...]
    expansions: tuple[Expansion, ...]
    results: tuple[tuple[TacticResult, ...], ...]
    n_searches: int
    model_s: float
    env_s: float
    search_s: float


@dataclass
class _Slot:
    theorem: Theorem
    search: Search
    start: float
    deadline: float  # time.time() when its time limit (search.timeout_s) passes: caps its tactics (TimeCappedEnv)
    finish: tuple[str, float] = ("", 0.0)  # search.finish_with and the time.time() its time runs out
    goals: list[Goal] = field(default_factory=list)
    # seeds of this search's expansions: its samples do not depend on the other searches of a batch, so a
    # resumed or re-batched evaluation proposes the same tactics
    decode_rng: random.Random = field(default_factory=random.Random)
    decoding: DecodingConfig | None = None  # its own (per_theorem); None: the prover's
    stop_at_closing: bool = True  # search.only_keep_one_solving: a goal's other tactics would be thrown away
    model_s: float = 0.0
    env_s: float = 0.0
    error: str | None = None


class Prover:
    def __init__(self, env: BackwardEnv, expander: Expander, search: SearchConfig, decoding: DecodingConfig,
                 cfg: ProverConfig, env_factory: Callable[[], BackwardEnv] | None = None,
                 on_batch: Callable[[BatchTrace], None] | None = None,
                 per_theorem: Callable[[Theorem], tuple[SearchConfig, DecodingConfig]] | None = None) -> None:
        """`per_theorem`: the search and decoding settings of one theorem's search (an online run's draws), in
        place of `search` and `decoding`; the goals of searches with other decodings go to the model apart."""
        check_search_config(search, decoding.length_penalty)
        if decoding.fast:
            # What exists now (the env's database and caches, the model: ~1.7M objects with set.mm) lives as long
            # as the prover, and the caches the env fills while proving are as long-lived: full collections
            # scanning them took 15-25% of a prover's time. Freeze the first (collected first, so that no garbage
            # is frozen for good), and scan the rest 10x less often.
            gc.collect()
            gc.freeze()
            young, middle, full = gc.get_threshold()
            gc.set_threshold(young, middle, max(full, 100))
        search_class(cfg.prover)  # an unknown name fails here, before anything starts
        self.env, self.expander, self.search_cfg, self.decoding, self.cfg = env, expander, search, decoding, cfg
        self.on_batch, self.per_theorem = on_batch, per_theorem
        self.pool = EnvPool(env, cfg.env_workers, env_factory, timed=search.proof_stype == "time")
        # wall seconds by part (search_cpu_s: CPU time of this thread in the searches, for benchmarks)
        self.totals = {"model_s": 0.0, "env_s": 0.0, "search_s": 0.0, "search_cpu_s": 0.0, "check_s": 0.0,
                       "steps": 0.0, "goals": 0.0, "tactics": 0.0}

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Prover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, th: Theorem) -> _Slot:
        attempt = th.meta.get("attempt", 0)
        name = f"{self.search_cfg.seed}:{th.label}:{attempt}"  # a draw changes the settings, not the random stream
        search_cfg, decoding = self.per_theorem(th) if self.per_theorem else (self.search_cfg, None)
        end = time.time() + search_cfg.timeout_s
        if search_cfg.finish_with:  # the search stops early: the rest of its time is the finisher's
            search_cfg = dataclasses.replace(search_cfg, timeout_s=search_cfg.timeout_s - search_cfg.finish_s)
        search = make_search(self.cfg.prover, th.goal, search_cfg, th.label, self.env, random.Random(name))
        return _Slot(th, search, time.perf_counter(), time.time() + search_cfg.timeout_s, (search_cfg.finish_with, end),
                     decode_rng=random.Random(name + ":decode"), decoding=decoding,
                     stop_at_closing=search_cfg.only_keep_one_solving)

    def _expand(self, alive: list[_Slot]) -> list[Expansion]:
        """One model call for the goals of every search, or one per distinct decoding (per_theorem)."""
        seeds = [s.decode_rng.getrandbits(62) for s in alive for _ in s.goals]
        goals = [g for s in alive for g in s.goals]
        groups: dict[str, tuple[DecodingConfig, list[int]]] = {}  # one per distinct decoding, keyed by its repr
        i = 0
        for s in alive:
            dec = s.decoding or self.decoding
            groups.setdefault(repr(dec), (dec, []))[1].extend(range(i, i + len(s.goals)))
            i += len(s.goals)
        out: list[Expansion | None] = [None] * len(goals)
        for dec, idx in groups.values():
            part = self.expander.expand([goals[i] for i in idx], dec, [seeds[i] for i in idx])
            if len(part) != len(idx):
                raise RuntimeError(f"the expander returned {len(part)} expansions for {len(idx)} goals")
            for i, e in zip(idx, part):
                out[i] = keep_best(e, dec.max_tactics)
        return [e for e in out if e is not None]

    def prove(self, theorems: Iterable[Theorem]) -> Iterator[ProofRecord]:
        """Yield one record per theorem, in the order the searches finish."""
        queue = iter(theorems)
        alive: list[_Slot] = []
        step = 0
        while True:
            # ask every search for goals; replace finished ones until the queue runs dry
            i = 0
            while True:
                while len(alive) < self.cfg.n_simultaneous_proofs:
                    th = next(queue, None)
                    if th is None:
                        break
                    alive.append(self._start(th))
                if i >= len(alive):
                    break
                slot = alive[i]
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    slot.goals = [] if slot.error else slot.search.to_expand()
                except Exception:  # noqa: BLE001 - a crashed search is reported, the others go on
                    slot.error, slot.goals = "search crashed: " + traceback.format_exc(limit=3), []
                self.totals["search_s"] += time.perf_counter() - t0
                self.totals["search_cpu_s"] += time.thread_time() - c0
                if slot.goals:
                    i += 1
                else:
                    alive.pop(i)
                    yield self._finish(slot)
            if not alive:
                return
            step += 1
            self._step(step, alive)

    def _step(self, step: int, alive: list[_Slot]) -> None:
        goals = [g for s in alive for g in s.goals]
        t0 = time.perf_counter()
        expansions = self._expand(alive)
        t1 = time.perf_counter()
        owners = [s for s in alive for _ in s.goals]
        # the finisher's tactic is not tried on the theorem itself inside the search: it gets more time after it
        held = [tuple(bool(s.finish[0]) and t == s.finish[0] and e.goal.key == s.theorem.goal.key for t in e.tactics)
                for s, e in zip(owners, expansions)]
        tasks = [(e.goal, tuple(t for t, h in zip(e.tactics, hs) if not h), s.deadline,
                  s.stop_at_closing) for e, hs, s in zip(expansions, held, owners) if e.error is None]
        applied = iter(self.pool.apply(tasks))
        results = [_put_back(next(applied), e.tactics, hs) if e.error is None else ()
                   for e, hs in zip(expansions, held)]
        t2 = time.perf_counter()
        model_s, env_s = t1 - t0, t2 - t1
        n_tactics = max(1, sum(len(t[1]) for t in tasks))
        search_s = 0.0
        j = 0
        for s in alive:
            k = len(s.goals)
            exps, res = expansions[j:j + k], results[j:j + k]
            j += k
            s.model_s += model_s * k / len(goals)
            s.env_s += env_s * sum(len(r) for r in res) / n_tactics
            t3, c3 = time.perf_counter(), time.thread_time()
            try:
                s.search.receive(exps, res)
            except Exception:  # noqa: BLE001
                s.error = "search crashed: " + traceback.format_exc(limit=3)
            search_s += time.perf_counter() - t3
            self.totals["search_cpu_s"] += time.thread_time() - c3
        tot = self.totals
        tot["model_s"] += model_s
        tot["env_s"] += env_s
        tot["search_s"] += search_s
        tot["steps"] += 1
        tot["goals"] += len(goals)
        tot["tactics"] += sum(len(r) for r in results)
        if self.on_batch is not None:
            labels = tuple(s.theorem.label for s in alive for _ in s.goals)
            self.on_batch(BatchTrace(step, labels, tuple(goals), tuple(expansions), tuple(results), len(alive),
                                     model_s, env_s, search_s))

    def _finish(self, slot: _Slot) -> ProofRecord:
        th = slot.theorem
        if slot.error is not None:
            stats = {"time_model_s": slot.model_s, "time_env_s": slot.env_s,
                     "time_wall_s": time.perf_counter() - slot.start}
            return ProofRecord(th.label, th.goal, False, None, stats, Samples(), "crashed", slot.error)
        t0, c0 = time.perf_counter(), time.thread_time()
        res = slot.search.result()
        self.totals["search_s"] += time.perf_counter() - t0
        self.totals["search_cpu_s"] += time.thread_time() - c0
        stats = dict(res.stats)
        stats.update({"time_model_s": slot.model_s, "time_env_s": slot.env_s,
                      "time_wall_s": time.perf_counter() - slot.start})
        proof, error, samples, reason = res.proof, None, res.samples, res.stop_reason
        if proof is None and slot.finish[0]:
            proof = self._finish_with(slot, stats)
            if proof is not None:
                reason = "finish"
                samples = with_finisher_proof(samples, th.label, th.goal, proof.tactic, self.env,
                                              self.search_cfg.proof_stype)
        if proof is not None:
            t0 = time.perf_counter()
            try:
                self.env.check_proof(proof)
            except Exception as e:  # noqa: BLE001 - any failure of the checker means "not proved"
                proof, error = None, f"proof failed re-check: {type(e).__name__}: {e}".splitlines()[0]
                samples = Samples()  # the env contradicted itself: nothing from this search is trusted
            stats["time_check_s"] = time.perf_counter() - t0
            self.totals["check_s"] += stats["time_check_s"]
        return ProofRecord(th.label, th.goal, proof is not None, proof, stats, samples, reason, error,
                           res.critic_pairs)

    def _finish_with(self, slot: _Slot, stats: dict[str, float]) -> ProofNode | None:
        """The finisher on the theorem itself, within what is left of the search's time, in this process: a proof
        only where it closes the goal (subgoals it leaves are not searched)."""
        tactic, end = slot.finish
        t0 = time.perf_counter()
        # with all the time left, past the limit the env gives the tactic inside searches (Coq's hammer_timeout_s)
        (r,) = apply_tactics(self.env, slot.theorem.goal, [tactic], deadline=end, whole=True)
        stats["time_finish_s"] = time.perf_counter() - t0
        stats["time_wall_s"] = time.perf_counter() - slot.start
        slot.env_s += stats["time_finish_s"]
        stats["time_env_s"] = slot.env_s
        self.totals["env_s"] += stats["time_finish_s"]
        closed = r.closes
        stats["proved_by_finish"] = float(closed)
        return ProofNode(slot.theorem.goal, r.tactic) if closed else None  # the env's name for it


LEFT_TO_FINISH = TacticError(TacticErrorKind.OTHER, "left to search.finish_with, tried after the search")


def _put_back(results: list[TacticResult], tactics: tuple[str, ...],
              held: tuple[bool, ...]) -> tuple[TacticResult, ...]:
    """The results of the tactics tried, with those held back for the finisher in their places."""
    tried = iter(results)
    return tuple(TacticResult(t, error=LEFT_TO_FINISH) if h else next(tried) for t, h in zip(tactics, held))


def proof_to_dict(proof: ProofNode, text: Callable[[Goal], str] = lambda g: g.key) -> dict[str, object]:
    """A proof as nested JSON-able dicts {goal, tactic, children} (goal text from `text`)."""
    return {"goal": text(proof.goal), "tactic": proof.tactic,
            "children": [proof_to_dict(c, text) for c in proof.children]}


def format_proof(proof: ProofNode, text: Callable[[Goal], str] = lambda g: g.key, indent: str = "  ") -> str:
    """A proof as an indented tree: each goal, then the tactic applied to it, then its subgoals."""
    lines: list[str] = []
    stack = [(proof, 0)]  # not recursive: a proof typed by hand may be a chain of thousands of steps
    while stack:
        p, depth = stack.pop()
        # a goal shown on several lines (a Coq sequent) keeps its indentation on each
        lines.extend(f"{indent * depth}{line}" for line in text(p.goal).splitlines() or [""])
        lines.append(f"{indent * depth}  by {p.tactic}")
        stack.extend((c, depth + 1) for c in reversed(p.children))
    return "\n".join(lines)

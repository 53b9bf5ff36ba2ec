"""The Prover: K searches batched into one expander call, env in-process or in a worker pool, re-checks."""

from __future__ import annotations

import dataclasses
import functools
import math
import subprocess
import sys
import time

import pytest

from hyperprover.config import ConfigError
from hyperprover.envs.base import TacticErrorKind, Theorem
from hyperprover.search import BatchTrace, ProofRecord, Prover, ProverConfig, SearchConfig, env_pool
from hyperprover.search.env_pool import apply_tactics
from hyperprover.search.expander import DecodingConfig, Expansion, keep_best
from search_fixtures import (
    PROBLEM_ROOTS,
    PROBLEMS,
    PROVABLE_ROOTS,
    ToyEnv,
    ToyGoal,
    expander_from_rules,
    make_problem_env,
)


def run(prover: str = "htps", k: int = 3, workers: int = 0, env: ToyEnv | None = None,
        traces: list[BatchTrace] | None = None,
        decoding: DecodingConfig | None = None) -> tuple[list[ProofRecord], list[list[str]], ToyEnv]:
    env = env or make_problem_env()
    exp = expander_from_rules(PROBLEMS, seed=3)
    cfg = ProverConfig(prover=prover, n_simultaneous_proofs=k, env_workers=workers)
    search = SearchConfig(early_stop=True, n_expansions=200, succ_expansions=4)
    with Prover(env, exp, search, decoding or DecodingConfig(), cfg, env_factory=make_problem_env,
                on_batch=traces.append if traces is not None else None) as p:
        records = list(p.prove(env.theorems("toy")))
        assert p.totals["steps"] == len(exp.calls) and p.totals["goals"] == sum(map(len, exp.calls))
    return records, exp.calls, env


def labels_proved(records: list[ProofRecord]) -> set[str]:
    return {PROBLEM_ROOTS[int(r.label.split(":")[1])] for r in records if r.proved}


def test_k_searches_share_one_expander_call() -> None:
    traces: list[BatchTrace] = []
    records, calls, env = run(k=3, traces=traces)
    assert calls[0] == ["p0", "p1", "p2"]  # the first three theorems' roots in ONE model call
    assert sorted(r.label for r in records) == [f"toy:{i}" for i in range(5)]
    assert labels_proved(records) == PROVABLE_ROOTS
    for r in records:
        assert r.error is None
        if r.proved:
            assert r.proof is not None
            env.check_proof(r.proof)  # every proof returned re-checks
            assert r.stats["n_expansions"] >= 1 and r.stats["n_nodes"] >= 1
            assert {"time_model_s", "time_env_s", "time_search_s", "time_wall_s"} <= set(r.stats)
            assert r.samples.proof is not None
    # at most K searches at once; the trace names the theorem of every goal
    assert max(t.n_searches for t in traces) == 3
    assert any(len(set(t.labels)) > 1 for t in traces)
    assert [len(t.goals) for t in traces] == [len(c) for c in calls]


def test_max_tactics_keeps_the_best_of_each_goal() -> None:
    full: list[BatchTrace] = []
    run(traces=full)
    assert any(len(e.tactics) > 1 for t in full for e in t.expansions)
    capped: list[BatchTrace] = []
    run(traces=capped, decoding=DecodingConfig(max_tactics=1))
    for t in capped:
        for e, results in zip(t.expansions, t.results):
            assert len(e.tactics) <= 1 and len(results) == len(e.tactics)  # the env applied only what was kept
    # what is kept is the expander's best: the first tactic of the same goal's full expansion
    best = {e.goal: e.tactics[0] for t in full for e in t.expansions if e.tactics}
    assert all(e.tactics[0] == best[e.goal] for t in capped for e in t.expansions if e.tactics and e.goal in best)


def test_keep_best() -> None:
    e = Expansion(ToyGoal("g"), ("a", "b", "c"), (-0.1, -0.5, -2.0), 0.5)
    assert keep_best(e, 2) == Expansion(ToyGoal("g"), ("a", "b"), (-0.1, -0.5), 0.5)
    assert keep_best(e, 0) is e and keep_best(e, 3) is e


def test_env_workers_give_the_same_records() -> None:
    local, _, _ = run(workers=0)
    pooled, _, env = run(workers=2)
    assert [(r.label, r.proved, r.proof) for r in pooled] == [(r.label, r.proved, r.proof) for r in local]
    for r in pooled:
        if r.proof is not None:
            env.check_proof(r.proof)


@pytest.mark.parametrize("prover", ["htps", "bfs", "greedy"])
def test_every_prover_kind(prover: str) -> None:
    records, _, env = run(prover=prover, k=2)
    assert len(records) == 5
    assert labels_proved(records) <= PROVABLE_ROOTS
    if prover != "greedy":
        assert labels_proved(records) == PROVABLE_ROOTS
    for r in records:
        if r.proof is not None:
            env.check_proof(r.proof)


def test_a_proof_that_fails_its_recheck_is_not_reported() -> None:
    env = ToyEnv(PROBLEMS, PROBLEM_ROOTS, reject_proofs_of=["p3"])
    records, _, _ = run(env=env)
    p3 = [r for r in records if r.label == "toy:3"][0]
    assert not p3.proved and p3.proof is None and "re-check" in (p3.error or "")
    assert labels_proved(records) == PROVABLE_ROOTS - {"p3"}


class RaisingEnv(ToyEnv):
    def apply(self, goal, tactic):  # type: ignore[no-untyped-def,override]
        if goal.key == "p1 a" and tactic == "step":
            raise RuntimeError("boom")
        return super().apply(goal, tactic)


class CappedEnv(ToyEnv):
    """Records the time each search had left when its tactics were applied (TimeCappedEnv)."""

    left: list[float]
    whole: list[bool]

    def apply_within(self, goal, tactic, seconds, whole=False):  # type: ignore[no-untyped-def]
        self.left.append(seconds)
        self.whole.append(whole)
        return super().apply(goal, tactic)


@pytest.mark.parametrize("timeout_s", [30.0, 3600.0])
def test_an_env_that_takes_time_limits_gets_the_time_its_search_has_left(timeout_s: float) -> None:
    """Coq's automation runs under the time its search has left (`--search.timeout_s`), so that a call started
    near the limit does not run its whole own limit past it; the same records as an env without time limits."""
    env = CappedEnv(PROBLEMS, PROBLEM_ROOTS)
    env.left, env.whole = [], []
    exp = expander_from_rules(PROBLEMS, seed=3)
    search = SearchConfig(early_stop=True, n_expansions=200, succ_expansions=4, timeout_s=timeout_s)
    with Prover(env, exp, search, DecodingConfig(), ProverConfig(n_simultaneous_proofs=3)) as p:
        records = list(p.prove(env.theorems("toy")))
    assert env.left and all(timeout_s - 10 < s <= timeout_s for s in env.left)
    plain, _, _ = run()
    assert [(r.label, r.proved, r.proof) for r in records] == [(r.label, r.proved, r.proof) for r in plain]


class SlowCappedEnv(ToyEnv):
    """Every tactic takes 50 ms whatever time is left (Coq's automation, shrunk; Timeout's whole seconds)."""

    def apply_within(self, goal, tactic, seconds, whole=False):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        return super().apply(goal, tactic)


def test_tactics_are_skipped_once_the_time_is_up_only_where_they_take_time() -> None:
    env = SlowCappedEnv({"g": {"t": ("h",)}}, ["g"])
    past = time.time() - 1
    (skipped,) = apply_tactics(env, ToyGoal("g"), ["t"], deadline=past)
    assert skipped.error is not None and skipped.error.kind == TacticErrorKind.SKIPPED and env.applied == 0
    (tried,) = apply_tactics(env, ToyGoal("g"), ["t"], deadline=time.time() + 60)
    assert tried.ok and env.applied == 1
    # an env whose tactics take no time tries them all: its results never depend on the clock
    plain = ToyEnv({"g": {"t": ("h",)}})
    assert apply_tactics(plain, ToyGoal("g"), ["t"], deadline=past)[0].ok
    assert apply_tactics(plain, ToyGoal("g"), ["t"], deadline=math.inf)[0].ok


def test_a_goals_tactics_stop_at_the_first_that_closes_it() -> None:
    env = ToyEnv({"g": {"a": ("h",), "c": (), "d": (), "e": ("h",)}})
    results = apply_tactics(env, ToyGoal("g"), ["x", "a", "c", "d", "e"], stop_at_closing=True)
    # a failed tactic and one with subgoals do not stop it; after the closing `c` nothing is tried
    assert [r.ok for r in results[:3]] == [False, True, True] and env.applied == 3
    assert all(r.error is not None and r.error.kind == TacticErrorKind.SKIPPED for r in results[3:])
    assert all(r.ok for r in apply_tactics(env, ToyGoal("g"), ["a", "c", "d", "e"])) and env.applied == 7


# goals that several tactics close, between others: the search keeps the best closing one
CLOSING = {**PROBLEMS, "p0 a": {"close": (), "step": ("p0 c",), "also": ()}, "p3": {"close": (), "again": (),
           "step": ("p1 b",), "bad": "no"}, "p1 b": {"close": (), "also": ()}}


@pytest.mark.parametrize("prover", ["htps", "bfs", "greedy"])
def test_stopping_at_the_closing_tactic_changes_no_search(prover: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tactics come best first and the search keeps only the best closing one (search.only_keep_one_solving):
    the searches, their proofs and their graphs are those of a prover that tries every tactic, with fewer
    tactics applied."""
    def search() -> tuple[list[ProofRecord], ToyEnv]:
        env = ToyEnv(CLOSING, PROBLEM_ROOTS)
        cfg = ProverConfig(prover=prover, n_simultaneous_proofs=3)
        with Prover(env, expander_from_rules(CLOSING, seed=3), SearchConfig(early_stop=False, n_expansions=200,
                    succ_expansions=4), DecodingConfig(), cfg) as p:
            return list(p.prove(env.theorems("toy"))), env

    def same(r: ProofRecord) -> tuple[object, ...]:
        return r.label, r.proved, r.proof, r.stats["n_expansions"], r.stats["n_nodes"]

    stopped, env_stopped = search()
    every = functools.partial(env_pool.apply_tactics, stop_at_closing=False)
    monkeypatch.setattr(env_pool, "apply_tactics", lambda *a, stop_at_closing=False, **k: every(*a, **k))
    tried_all, env_all = search()
    assert [same(r) for r in stopped] == [same(r) for r in tried_all]
    assert sum(r.proved for r in stopped) >= 3 and env_stopped.applied < env_all.applied


def test_a_search_ends_within_one_tactic_of_its_time_limit() -> None:
    """Ten 50 ms tactics on the root of a search given 0.2 s: those past its limit are not tried, the root stays
    unexpanded (none of its tried tactics proves it), and the search stops within one tactic of its limit."""
    rules = {"w": {f"t{i}": (f"c{i}",) for i in range(10)}}
    env = SlowCappedEnv(rules, ["w", "w"])
    exp = expander_from_rules(rules)
    search = SearchConfig(n_expansions=100, timeout_s=0.2)
    with Prover(env, exp, search, DecodingConfig(), ProverConfig(n_simultaneous_proofs=1)) as p:
        records = list(p.prove(env.theorems("wide")))
    assert len(records) == 2 and env.applied < 2 * 10
    for r in records:
        assert not r.proved and r.error is None and r.stop_reason == "timeout"
        assert r.stats["skipped_tactics"] >= 4 and r.stats["n_expansions"] == 0
        assert r.stats["time_wall_s"] < 0.2 + 0.05 + 0.2, r.stats


def test_an_env_exception_is_an_error_result() -> None:
    records, _, _ = run(env=RaisingEnv(PROBLEMS, PROBLEM_ROOTS))
    assert "p1" not in labels_proved(records) and "p0" in labels_proved(records)


def test_bad_configuration_errors() -> None:
    env = make_problem_env()
    exp = expander_from_rules(PROBLEMS)
    with pytest.raises(ValueError, match="env factory"):
        Prover(env, exp, SearchConfig(), DecodingConfig(), ProverConfig(env_workers=2))
    with pytest.raises(ValueError, match="cannot be sent"):
        Prover(env, exp, SearchConfig(), DecodingConfig(), ProverConfig(env_workers=1),
               env_factory=lambda: env)
    with pytest.raises(ValueError, match="length_penalty"):
        Prover(env, exp, SearchConfig(add_tactic_fill=True), DecodingConfig(length_penalty=1.0), ProverConfig())
    partial = functools.partial(ToyEnv, PROBLEMS)
    Prover(env, exp, SearchConfig(), DecodingConfig(), ProverConfig(env_workers=1), env_factory=partial).close()


def test_expander_with_wrong_count_is_an_error() -> None:
    class Short:
        def expand(self, goals, params, seeds=None):  # type: ignore[no-untyped-def]
            return []

    with Prover(make_problem_env(), Short(), SearchConfig(), DecodingConfig(), ProverConfig()) as p:
        with pytest.raises(RuntimeError, match="0 expansions for 1 goals"):
            list(p.prove([Theorem("x", ToyGoal("p3"))]))


def test_search_package_does_not_import_torch() -> None:
    code = ("import sys, pkgutil, importlib, hyperprover.search as s\n"
            "for m in pkgutil.iter_modules(s.__path__): importlib.import_module('hyperprover.search.' + m.name)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_finisher_gets_the_time_the_search_left_and_proves_only_by_closing_the_goal() -> None:
    """`--search.finish_with` (Coq: hammer after the learned search): tried on the theorem where the search ends
    without a proof, within what is left of its time; a tactic that only makes subgoals proves nothing. Inside
    the search it is tried on subgoals, not on the theorem itself."""
    rules = {"a": {"t": ("a1",), "fin": ()}, "a1": {"s": ("a2",)}, "b": {"t": ("b1",), "fin": ("b2",)},
             "b1": {}, "c": {"t": ("c1",)}, "c1": {"close": ()}, "d": {"t": ("d1",), "fin": ()}, "d1": {"fin": ()}}
    env = CappedEnv(rules, ["a", "b", "c", "d"])
    env.left, env.whole = [], []
    search = SearchConfig(early_stop=True, n_expansions=100, timeout_s=30.0, finish_with="fin", finish_s=20.0)
    with Prover(env, expander_from_rules(rules), search, DecodingConfig(), ProverConfig(n_simultaneous_proofs=1)) as p:
        a, b, c, d = sorted(p.prove(env.theorems("toy")), key=lambda r: r.label)
    assert a.proved and a.stop_reason == "finish" and a.proof is not None and a.proof.tactic == "fin"
    assert not a.proof.children and a.stats["proved_by_finish"] == 1.0
    assert not b.proved and b.stats["proved_by_finish"] == 0.0 and b.stop_reason == "dead_root"
    # the trainer learns the finisher's proof: the root's tactic sample is its tactic, the root's critic says solved
    (root_tactic,) = [t for t in a.samples.tactic if t.goal == "a"]
    assert root_tactic.tactics == ("fin",) and root_tactic.target_pi == (1.0,)
    (root_critic,) = [c for c in a.samples.critic if c.goal == "a"]
    assert root_critic.solved and root_critic.q_estimate == 1.0
    assert a.samples.proof is not None and a.samples.proof.samples == (root_tactic,)
    assert not any("fin" in t.tactics for t in b.samples.tactic) and b.samples.proof is None
    for r in (c, d):  # no finisher needed; d by `fin` on its subgoal
        assert r.proved and r.stop_reason == "proved" and "proved_by_finish" not in r.stats
    assert d.proof is not None and d.proof.tactic == "t" and d.proof.children[0].tactic == "fin"
    # the search's tactics had its 10 s; the finisher the 20 s kept for it (and whatever the search did not use)
    long = [s for s in env.left if s > 10.0]
    assert len(long) == 2 and all(20.0 < s <= 30.0 for s in long) and len(env.left) > 2
    assert [w for s, w in zip(env.left, env.whole) if s > 10.0] == [True, True] and sum(env.whole) == 2
    with pytest.raises(ConfigError, match="finish_s"):
        Prover(env, expander_from_rules(rules), dataclasses.replace(search, finish_s=30.0), DecodingConfig(),
               ProverConfig())
    with pytest.raises(ConfigError, match="finish_with"):
        Prover(env, expander_from_rules(rules), dataclasses.replace(search, finish_with=""), DecodingConfig(),
               ProverConfig())

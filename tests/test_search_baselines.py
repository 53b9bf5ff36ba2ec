"""Best-first and greedy on the same toy problems, and property tests of every search on random ones."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import TacticResult
from hyperprover.search.bfs import BestFirst
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import DecodingConfig
from hyperprover.search.greedy import Greedy
from hyperprover.search.htps import HTPS
from search_fixtures import SKIPPED, ScriptedExpander, ToyEnv, ToyGoal, expander_from_rules, provable, run_search

# A (p .6) looks better than B (.4), but A's only tactic is unlikely (.1) and fails further down; B's (.9)
# closes: cumulative log-probs order the expansions R, A, B, D (.36 beats C's .06)
RULES = {"R": {"a": ("A",), "b": ("B",)}, "A": {"x": ("C",)}, "B": {"y": ("D",)}, "C": {"z": ("G",)},
         "D": {"close": ()}}
SCRIPT = {"R": [("a", .6), ("b", .4)], "A": [("x", .1)], "B": [("y", .9)], "C": [("z", .9)],
          "D": [("close", .9)]}


def trace(search: object, env: ToyEnv, exp: ScriptedExpander) -> list[list[str]]:
    run_search(search, env, exp)
    return exp.calls


def test_best_first_expands_by_cumulative_log_prob() -> None:
    s = BestFirst(ToyGoal("R"), SearchConfig())
    exp = ScriptedExpander(SCRIPT)
    assert trace(s, ToyEnv(RULES), exp) == [["R"], ["A"], ["B"], ["D"]]
    res = s.result()
    assert res.stop_reason == "proved" and res.proof is not None
    assert [t for _, t in res.proof.steps()] == ["b", "y", "close"]
    assert s.score["D"] == __import__("pytest").approx(__import__("math").log(.4 * .9))


def test_best_first_batches_and_budget() -> None:
    s = BestFirst(ToyGoal("R"), SearchConfig(bfs_batch=2))
    assert trace(s, ToyEnv(RULES), ScriptedExpander(SCRIPT)) == [["R"], ["A", "B"], ["D", "C"]]
    s = BestFirst(ToyGoal("R"), SearchConfig(n_expansions=2))
    run_search(s, ToyEnv(RULES), ScriptedExpander(SCRIPT))
    assert s.stop_reason == "budget" and s.n_expanded == 2 and not s.result().proved


def test_best_first_skips_goals_no_longer_needed() -> None:
    # R -a-> (P, Q); P fails so a is dead and Q is never expanded; b proves R
    rules = {"R": {"a": ("P", "Q"), "b": ("S",)}, "Q": {"q": ()}, "S": {"s": ()}}
    exp = ScriptedExpander({"R": [("a", .7), ("b", .2)], "Q": [("q", .9)], "S": [("s", .9)]})
    s = BestFirst(ToyGoal("R"), SearchConfig())
    calls = trace(s, ToyEnv(rules), exp)
    assert calls == [["R"], ["P"], ["S"]] and s.stats["skipped_unneeded"] == 1 and s.result().proved


def test_greedy_follows_the_best_tactic_and_fails_on_error() -> None:
    s = Greedy(ToyGoal("R"), SearchConfig())
    exp = ScriptedExpander(SCRIPT)
    # greedy takes a (.6) and then A's x; C's z leads to G, which the model cannot expand: the proof fails
    assert trace(s, ToyEnv(RULES), exp) == [["R"], ["A"], ["C"], ["G"]]
    assert s.stop_reason == "failed" and not s.result().proved


def test_greedy_expands_all_open_goals_and_avoids_cycles() -> None:
    rules = {"R": {"s": ("A", "B")}, "A": {"back": ("R",), "ok": ("C",)}, "B": {"close": ()}, "C": {"close": ()}}
    exp = ScriptedExpander({"R": [("s", .9)], "A": [("back", .8), ("ok", .1)], "B": [("close", .9)],
                            "C": [("close", .9)]})
    s = Greedy(ToyGoal("R"), SearchConfig())
    assert trace(s, ToyEnv(rules), exp) == [["R"], ["A", "B"], ["C"]]
    res = s.result()
    assert res.proved and res.proof is not None and [t for _, t in res.proof.steps()] == ["s", "ok", "close",
                                                                                          "close"]


def test_greedy_depth_limit() -> None:
    rules = {f"G{i}": {"next": (f"G{i + 1}",)} for i in range(50)}
    exp = expander_from_rules(rules)
    s = Greedy(ToyGoal("G0"), SearchConfig(greedy_max_depth=10))
    run_search(s, ToyEnv(rules), exp)
    assert s.stop_reason == "failed" and "greedy_max_depth" in s.failure


def test_htps_and_baselines_on_the_same_problem() -> None:
    for cls in (HTPS, BestFirst, Greedy):
        s = cls(ToyGoal("R"), SearchConfig(early_stop=True))
        env = ToyEnv(RULES)
        run_search(s, env, ScriptedExpander(SCRIPT))
        res = s.result()
        assert res.proved == (cls is not Greedy), cls.__name__
        if res.proof is not None:
            env.check_proof(res.proof)


# -- random problems ------------------------------------------------------------------------------------
@st.composite
def problems(draw: st.DrawFn) -> dict[str, dict[str, tuple[str, ...] | str]]:
    n = draw(st.integers(2, 9))
    names = [f"g{i}" for i in range(n)]
    rules: dict[str, dict[str, tuple[str, ...] | str]] = {}
    for g in names:
        tacs: dict[str, tuple[str, ...] | str] = {}
        for j in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["close", "error", "children", "children", "children"]))
            if kind == "close":
                tacs[f"t{j}"] = ()
            elif kind == "error":
                tacs[f"t{j}"] = "invalid"
            else:
                tacs[f"t{j}"] = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)))
        rules[g] = tacs
    return rules


def check_every_batch(search: HTPS) -> None:
    g = search.graph
    assert all(v == 0 for n in g.nodes.values() for v in n.V), "virtual counts not back to 0"
    g.check_solved_ok()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=problems(), seed=st.integers(0, 1000), succ=st.integers(1, 8), policy=st.sampled_from(
    ["alpha_zero", "other"]), temp=st.sampled_from([0.0, 1.0]))
def test_random_problems(rules: dict[str, dict[str, tuple[str, ...] | str]], seed: int, succ: int, policy: str,
                         temp: float) -> None:
    truth = "g0" in provable(rules)
    env = ToyEnv(rules)
    # best-first with an unlimited budget is complete: it proves exactly the provable roots
    bfs = BestFirst(ToyGoal("g0"), SearchConfig(n_expansions=10_000))
    run_search(bfs, env, expander_from_rules(rules, seed))
    res = bfs.result()
    assert res.proved == truth
    if res.proof is not None:
        env.check_proof(res.proof)
    # HTPS may lose proofs to cycle kills (as the original), but whatever it reports must hold
    cfg = SearchConfig(n_expansions=10_000, succ_expansions=succ, policy=policy, policy_temperature=temp,
                       policy_temp_level="node", early_stop=bool(seed % 2), seed=seed,
                       early_stop_on_solved_if_root_unproved=seed % 3 == 0, depth_penalty=.9 if seed % 5 else 1.)
    htps = HTPS(ToyGoal("g0"), cfg)
    run_search(htps, env, expander_from_rules(rules, seed), after_receive=check_every_batch)
    res = htps.result()
    assert htps.done and (not res.proved or truth)
    for stype in ("size", "depth"):
        htps.cfg.proof_stype = stype
        p = htps.graph.proof(stype)
        if p is not None:
            env.check_proof(p)
            assert (p.size() if stype == "size" else p.depth()) == htps.graph.minproofs(stype)[0]["g0"]
    # without any cycle kill, exhausting the graph decides provability exactly
    if htps.stats["cycle_kills"] == 0 and htps.stop_reason != "budget":
        assert res.proved == truth
    greedy = Greedy(ToyGoal("g0"), SearchConfig())
    run_search(greedy, env, expander_from_rules(rules, seed))
    res = greedy.result()
    assert not res.proved or truth
    if res.proof is not None:
        env.check_proof(res.proof)


def test_best_first_takes_back_a_dropped_goal_that_a_new_parent_needs() -> None:
    # Q is dropped once R's tactic a dies (P fails); X, expanded later, needs Q again at a lower score
    rules = {"R": {"a": ("P", "Q"), "b": ("X",)}, "Q": {"q": ()}, "X": {"x": ("Q",)}}
    exp = ScriptedExpander({"R": [("a", .7), ("b", .2)], "Q": [("q", .9)], "X": [("x", .5)]})
    s = BestFirst(ToyGoal("R"), SearchConfig())
    assert trace(s, ToyEnv(rules), exp) == [["R"], ["P"], ["X"], ["Q"]]
    assert s.result().proved


@pytest.mark.parametrize("kind", [HTPS, BestFirst, Greedy])
def test_a_goal_whose_tactics_were_skipped_stays_unexpanded(kind: type) -> None:
    """A goal whose tried tactics do not prove it, the others not tried (the search's time was up), is undecided,
    not dead: it stays out of the graph and is asked for again; once a tried tactic proves it, it enters the
    graph with the tactics that were tried."""
    rules = {"R": {"a": ("A",), "c": ()}, "A": {}}
    env, exp = ToyEnv(rules), ScriptedExpander({"R": [("a", .6), ("c", .3)]})
    s = kind(ToyGoal("R"), SearchConfig())
    for tried in [(), ("a",), ("c",)]:  # nothing, then a (its subgoal A is not proved), then c (closes R)
        goals = s.to_expand()
        assert [g.key for g in goals] == ["R"] and not s.graph.nodes
        (e,) = exp.expand(goals, DecodingConfig(n_samples=64))
        s.receive([e], [[env.apply(goals[0], t) if t in tried else TacticResult(t, error=SKIPPED)
                         for t in e.tactics]])
    assert s.graph.nodes["R"].tactics == ["c"] and s.graph.proved and s.stats["skipped_tactics"] == 4
    assert s.n_expanded == 1 and s.to_expand() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=problems(), seed=st.integers(0, 1000), succ=st.integers(1, 8))
def test_skipped_tactics_never_decide_anything(rules: dict[str, dict[str, tuple[str, ...] | str]], seed: int,
                                               succ: int) -> None:
    """With a third of the tactics skipped at random, exhaustive searches decide provability as without skips,
    HTPS's virtual counts come back to 0, and no goal is dead unless it is unprovable."""
    truth = provable(rules)
    env = ToyEnv(rules)
    bfs = BestFirst(ToyGoal("g0"), SearchConfig(n_expansions=10_000))
    run_search(bfs, env, expander_from_rules(rules, seed), skip=1 / 3, rng=random.Random(seed))
    assert bfs.result().proved == ("g0" in truth)
    htps = HTPS(ToyGoal("g0"), SearchConfig(n_expansions=10_000, succ_expansions=succ, seed=seed))
    run_search(htps, env, expander_from_rules(rules, seed), after_receive=check_every_batch, skip=1 / 3,
               rng=random.Random(seed))
    res = htps.result()
    if htps.stats["cycle_kills"] == 0:  # a cycle kill may kill a provable goal's tactics, skipped or not
        assert res.proved == ("g0" in truth)
        assert not any(n.is_bad and n.key in truth for n in htps.graph.nodes.values())
    greedy = Greedy(ToyGoal("g0"), SearchConfig())
    run_search(greedy, env, expander_from_rules(rules, seed), skip=1 / 3, rng=random.Random(seed))
    assert not greedy.result().proved or "g0" in truth

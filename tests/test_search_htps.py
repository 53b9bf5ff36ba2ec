"""Golden tests of HTPS on small hand-built hypergraphs (numbers worked out from the spec formulas)."""

from __future__ import annotations

import math

import pytest

from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import DecodingConfig
from hyperprover.search.htps import HTPS
from search_fixtures import ScriptedExpander, ToyEnv, ToyGoal, run_search

PARAMS = DecodingConfig(n_samples=16)


def step(search: HTPS, env: ToyEnv, exp: ScriptedExpander) -> list[str]:
    goals = search.to_expand()
    exps = exp.expand(goals, PARAMS)
    search.receive(exps, [[env.apply(e.goal, t) for t in e.tactics] if e.error is None else [] for e in exps])
    return [g.key for g in goals]


def all_virtual_zero(search: HTPS) -> bool:
    return all(v == 0 for n in search.graph.nodes.values() for v in n.V)


# R -a-> (A1, A2) p=.55, R -b-> (B1) p=.45; A1 closes; A2 -y-> C, -z-> D (p .5/.5); B1 -w-> E; E fails;
# C -c-> F; D closes.
RULES = {
    "R": {"a": ("A1", "A2"), "b": ("B1",)},
    "A1": {"x": ()},
    "A2": {"y": ("C",), "z": ("D",)},
    "B1": {"w": ("E",)},
    "C": {"c": ("F",)},
    "D": {"d": ()},
}
SCRIPT = {"R": [("a", .55), ("b", .45)], "A1": [("x", .9)], "A2": [("y", .5), ("z", .5)], "B1": [("w", .7)],
          "C": [("c", .8)], "D": [("d", .6)]}
CRITICS = {"R": .9, "A2": .5, "B1": .4, "C": .6}


def golden_search(succ: int) -> tuple[HTPS, ToyEnv, ScriptedExpander]:
    cfg = SearchConfig(policy="alpha_zero", exploration=1.0, succ_expansions=succ, n_expansions=100)
    return HTPS(ToyGoal("R"), cfg), ToyEnv(RULES), ScriptedExpander(SCRIPT, CRITICS)


def test_selection_order_virtual_counts_and_backup_values() -> None:
    s, env, exp = golden_search(succ=3)
    assert step(s, env, exp) == ["R"]  # three simulations, all stop at the unexpanded root
    root = s.graph.nodes["R"]
    assert root.priors == pytest.approx([.55, .45])
    assert root.N == [0, 0] and all_virtual_zero(s)

    s.cfg.succ_expansions = 2
    goals = s.to_expand()
    # sim 1: uniform policy on a fresh node -> index 0 (a); sim 2: Q_a = FPU/V = .5, u_a = .55*1/2 = .275,
    # u_b = .45*1/1 = .45 -> b
    assert [g.key for g in goals] == ["A1", "A2", "B1"]
    assert root.V == [1, 1]
    exps = exp.expand(goals, PARAMS)
    s.receive(exps, [[env.apply(e.goal, t) for t in e.tactics] for e in exps])
    assert all_virtual_zero(s)
    # sim 1 backs up A1 (solved leaf, 1) x A2 (critic .5); sim 2 backs up B1's critic .4
    assert root.N == [1, 1] and root.W == pytest.approx([.5, .4])

    # sim 1: Q = [.5, .4], u = [.55, .45] * sqrt(2) / 2 -> a; A1 is a solved leaf (value 1), A2 fresh -> y -> C
    # sim 2: Q_a = .5 / (1 + 1) = .25, u_a = .55 sqrt(3) / 3 = .3175; Q_b = .4, u_b = .45 sqrt(3) / 2 = .3897 -> b
    assert step(s, env, exp) == ["C", "E"]
    assert all_virtual_zero(s)
    a2, b1 = s.graph.nodes["A2"], s.graph.nodes["B1"]
    assert a2.N == [1, 0] and a2.W == pytest.approx([.6, 0])
    assert root.N == [2, 2] and root.W == pytest.approx([1.1, .4])  # 1 * .6 through a; 0 (E failed) through b
    assert b1.N == [1] and b1.W == [0.0]
    # E failed: it kills B1's only tactic, B1 is dead, which kills R's tactic b
    assert s.graph.nodes["E"].error is not None
    assert b1.killed == [True] and b1.is_bad and b1.critic == 0.0 and b1.old_critic == pytest.approx(.4)
    assert root.killed == [False, True] and not root.is_bad

    s.cfg.succ_expansions = 1
    # b is killed, so a is the only choice; at A2: Q = [.6, FPU .5], u = [.5 * 1/2, .5 * 1/1] -> z (1.0 > .85)
    assert step(s, env, exp) == ["D"]
    assert all_virtual_zero(s)
    assert s.graph.proved and a2.solving == [False, True] and root.solving == [True, False]
    # D is a solved leaf: 1 up through A2 (now solved) and R (now solved), backup_one_for_solved
    assert a2.N == [1, 1] and a2.W == pytest.approx([.6, 1.0])
    assert root.N == [3, 2] and root.W == pytest.approx([2.1, .4])
    s.graph.check_solved_ok()
    proof = s.graph.proof("size")
    assert proof is not None and proof.tactic == "a"
    assert [(g.key, t) for g, t in proof.steps()] == [("R", "a"), ("A1", "x"), ("A2", "z"), ("D", "d")]
    env.check_proof(proof)


def test_depth_penalty_and_backup_once() -> None:
    # R -a-> A (critic .8); A -b-> B (critic .5). With gamma .9 the value through A's tactic is .9 * .5
    # and through R's tactic .9 * (.9 * .5). Identical simulations are backed up once.
    rules = {"R": {"a": ("A",)}, "A": {"b": ("B",)}, "B": {"c": ("Q",)}}
    exp = ScriptedExpander({"R": [("a", .9)], "A": [("b", .9)], "B": [("c", .9)]}, {"A": .8, "B": .5})
    cfg = SearchConfig(depth_penalty=0.9, succ_expansions=2, n_expansions=100)
    s = HTPS(ToyGoal("R"), cfg)
    env = ToyEnv(rules)
    step(s, env, exp)
    assert step(s, env, exp) == ["A"]  # both simulations are R -a-> A: one goal, two simulations
    r = s.graph.nodes["R"]
    assert r.N == [1] and r.W == pytest.approx([.9 * .8]) and s.stats["backup_skipped"] == 1
    assert step(s, env, exp) == ["B"]
    a = s.graph.nodes["A"]
    assert a.N == [1] and a.W == pytest.approx([.9 * .5])
    assert r.N == [2] and r.W == pytest.approx([.9 * .8 + .9 * .9 * .5])
    assert all_virtual_zero(s)


def test_cycle_kills_the_tactic_and_restarts() -> None:
    # A's best tactic u leads back to R (on the path): it is killed and the descent restarts, taking v.
    rules = {"R": {"t": ("A",)}, "A": {"u": ("R",), "v": ("B",)}, "B": {"close": ()}}
    exp = ScriptedExpander({"R": [("t", .9)], "A": [("u", .7), ("v", .3)], "B": [("close", .9)]})
    s = HTPS(ToyGoal("R"), SearchConfig(succ_expansions=1, early_stop=True))
    env = ToyEnv(rules)
    assert step(s, env, exp) == ["R"]
    assert step(s, env, exp) == ["A"]
    assert step(s, env, exp) == ["B"]
    a = s.graph.nodes["A"]
    assert a.tactics == ["u", "v"] and a.killed == [True, False]
    assert s.stats["cycle_kills"] == 1 and all_virtual_zero(s)
    assert s.done and s.stop_reason == "proved"
    res = s.result()
    assert res.proof is not None and [t for _, t in res.proof.steps()] == ["t", "v", "close"]


def test_regularized_policy_matches_closed_form() -> None:
    from hyperprover.search.policy import policy

    # two tactics: sum pi = 1 is a quadratic in alpha; take its larger root (alpha > max Q + lam p)
    q, counts, priors, c = [.6, .2], [2, 1], [.5, .5], 2.0
    lam = c * math.sqrt(3) / (2 + 3)
    h = .5 * lam
    b, cc = .8 + 2 * h, .12 + .8 * h
    alpha = (b + math.sqrt(b * b - 4 * cc)) / 2
    expect = [h / (alpha - .6), h / (alpha - .2)]
    pi = policy("other", q, counts, priors, [True, True], c)
    assert pi == pytest.approx(expect, abs=2e-3) and sum(pi) == pytest.approx(1)
    # no visits: lambda = 0 and pi is proportional to Q
    assert policy("other", [.6, .2], [0, 0], priors, [True, True], c) == pytest.approx([.75, .25])
    # alpha_zero: s = Q + c p sqrt(3) / (1 + n)
    s = [.6 + 2 * .5 * math.sqrt(3) / 3, .2 + 2 * .5 * math.sqrt(3) / 2]
    assert policy("alpha_zero", q, counts, priors, [True, True], c) == pytest.approx([x / sum(s) for x in s])
    # a masked tactic gets nothing, a single allowed one gets everything
    assert policy("other", q, counts, priors, [False, True], c) == [0.0, 1.0]


@pytest.mark.parametrize("option,expect", [(0, 1 / 3), (1, 2 / 3), (2, 1.0), (3, .5), (4, 1 / 3), (5, 2 / 3)])
def test_q_value_solved_options(option: int, expect: float) -> None:
    from hyperprover.search.policy import q_values

    # a solving tactic with N = 2 real and V = 1 virtual visits, W = 1.2
    q = q_values([2, 0], [1.2, 0.0], [1, 2], [True, True], [True, False], .5, option)
    assert q[0] == pytest.approx(expect)
    assert q[1] == pytest.approx(.5 / 2)  # never really visited, two in flight: FPU / V


def test_early_stop_off_keeps_searching_after_the_proof() -> None:
    # via a: R, A, D (size 3, depth 3); via b: R, B, C, E (size 4, depth 2)
    rules = {"R": {"a": ("A",), "b": ("B", "C", "E")}, "A": {"x": ("D",)}, "D": {"close": ()},
             "B": {"close": ()}, "C": {"close": ()}, "E": {"close": ()}}
    exp = ScriptedExpander({"R": [("a", .6), ("b", .3)], "A": [("x", .9)], "D": [("close", .9)],
                            "B": [("close", .9)], "C": [("close", .9)], "E": [("close", .9)]})
    env = ToyEnv(rules)
    s = HTPS(ToyGoal("R"), SearchConfig(early_stop=False, n_expansions=50, succ_expansions=4))
    run_search(s, env, exp, after_receive=lambda x: all_virtual_zero(x) or pytest.fail("virtual counts"))
    assert s.stop_reason == "proved" and len(s.graph.nodes) == 6  # explored everything, then stopped
    for stype, tactics in (("depth", ["b", "close", "close", "close"]), ("size", ["a", "x", "close"])):
        s.cfg.proof_stype = stype
        res = s.result()
        assert res.proof is not None and [t for _, t in res.proof.steps()] == tactics
        env.check_proof(res.proof)


def test_budget_counts_unique_goals_and_dead_root() -> None:
    rules = {"R": {"a": ("A", "B")}, "A": {"x": ("A1",)}, "B": {"y": ("B1",)}, "A1": {"z": ("A2",)}}
    exp = ScriptedExpander({"R": [("a", .9)], "A": [("x", .9)], "B": [("y", .9)], "A1": [("z", .9)]})
    s = HTPS(ToyGoal("R"), SearchConfig(n_expansions=3, succ_expansions=10))
    run_search(s, ToyEnv(rules), exp)
    assert s.n_expanded == 3 and s.stop_reason == "budget"
    # B1 has no script: its failure kills B's tactic, B kills R's only tactic: the root is dead
    s = HTPS(ToyGoal("R"), SearchConfig(n_expansions=100, succ_expansions=10))
    run_search(s, ToyEnv(rules), exp)
    assert s.stop_reason == "dead_root" and s.graph.dead and not s.result().proved


def test_malformed_and_duplicate_tactics_are_filtered() -> None:
    from hyperprover.search.expander import Expansion
    from hyperprover.search.filtering import build_node

    g = ToyGoal("G")
    rules = {"G": {"a": ("X", "Y"), "b": ("Y", "X"), "c": ("X",), "d": ("X", "Y", "Z"), "e": ("W",), "f": ("G",)}}
    env = ToyEnv(rules)
    tacs = ["?bad", "a", "b", "c", "d", "e", "f", "nope"]
    lp = [math.log(p) for p in (.3, .2, .15, .1, .08, .05, .04, .03)]
    e = Expansion(g, tuple(tacs), tuple(lp), .7)
    res = [env.apply(g, t) for t in tacs]
    n = build_node(g, e, res, SearchConfig())
    # b has a's child set; a and d are strict supersets of c's; f loops on G; ?bad and nope fail
    assert n.tactics == ["c", "e"]
    assert n.priors == pytest.approx([.1 / .15, .05 / .15])
    n = build_node(g, e, res, SearchConfig(add_tactic_errors=True, add_tactic_fill=True))
    assert n.tactics == ["c", "e", "<parse_error>", "<env_error>", "<fill>"]
    assert n.killed == [False, False, True, True, True] and n.n_live == 2
    # priors: softmax over c .1, e .05, parse .3, env .04 + .03 (f loops, nope fails), fill 1 - .52
    assert n.priors == pytest.approx([.1, .05, .3, .07, .48])
    # a closing tactic wins over everything else
    rules["G"]["z"] = ()
    n = build_node(g, Expansion(g, ("a", "z"), (math.log(.6), math.log(.1)), .2), [env.apply(g, "a"),
                                                                                   env.apply(g, "z")],
                   SearchConfig())
    assert n.is_solved_leaf and n.tactics == ["z"] and n.critic == 1.0


def test_policy_temperature_sampling() -> None:
    import random

    from hyperprover.search.policy import choose

    rng = random.Random(0)
    pi, allowed = [.7, .3, 0.0], [True, True, False]
    assert choose(pi, allowed, 0.0, rng) == 0
    draws = [choose(pi, allowed, 1.0, rng) for _ in range(4000)]
    assert 0.66 < draws.count(0) / 4000 < 0.74 and 2 not in draws
    # T = 0.5 squares the odds: .49 / (.49 + .09)
    draws = [choose(pi, allowed, 0.5, rng) for _ in range(4000)]
    assert 0.81 < draws.count(0) / 4000 < 0.88
    assert {choose(pi, allowed, 1e-9, rng) for _ in range(100)} == {0}  # floored at 0.001: argmax


def test_max_nodes_in_expansion_and_timeout() -> None:
    rules = {"R": {"a": ("A", "B"), "b": ("C",)}, "A": {"x": ("D",)}, "B": {"y": ("E",)}, "C": {"z": ("F",)}}
    exp = ScriptedExpander({"R": [("a", .6), ("b", .3)], "A": [("x", .9)], "B": [("y", .9)], "C": [("z", .9)]})
    env = ToyEnv(rules)
    s = HTPS(ToyGoal("R"), SearchConfig(succ_expansions=10, max_nodes_in_expansion=1))
    step(s, env, exp)
    assert step(s, env, exp) == ["A", "B"]  # one simulation, then the cap stops the batch
    assert s.stats["n_simulations"] == 2
    s = HTPS(ToyGoal("R"), SearchConfig(timeout_s=0.0))
    step(s, env, exp)
    assert s.done and s.stop_reason == "timeout" and s.to_expand() == []


def test_critic_pairs_are_the_models_critic_and_the_search_outcome() -> None:
    """Every goal the model expanded gives (its raw critic, solved): even with no_critic, and closing goals
    (solved leaves, whose node critic is forced to 1) keep the model's own value; failed model calls give none."""
    rules = {"R": {"a": ("A",), "b": ("B",)}, "A": {"close": ()}, "B": {"x": ("C",)}, "C": {"y": ("D",)}}
    exp = ScriptedExpander({"R": [("a", .5), ("b", .5)], "A": [("close", .9)], "B": [("x", .9)], "C": [("y", .9)]},
                           critics={"R": 0.7, "A": 0.2, "B": 0.9, "C": 0.4})
    s = HTPS(ToyGoal("R"), SearchConfig(early_stop=False, n_expansions=50, succ_expansions=4, no_critic=True))
    run_search(s, ToyEnv(rules), exp)
    pairs = dict(zip(["R", "A", "B", "C"], [None] * 4))
    for key, node in s.graph.nodes.items():
        if node.model_critic is not None:
            pairs[key] = (node.model_critic, node.solved)
    assert sorted(s.result().critic_pairs) == sorted(p for p in pairs.values() if p is not None)
    assert pairs == {"R": (0.7, True), "A": (0.2, True), "B": (0.9, False), "C": (0.4, False)}
    assert "D" not in s.graph.nodes or s.graph.nodes["D"].model_critic is None  # no script: an error expansion

"""Training-sample extraction (htps spec 3) for each only_learn_tactics_from mode, and JSON lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperprover.search.config import SearchConfig
from hyperprover.search.graph import Hypergraph
from hyperprover.search.policy import node_policy
from hyperprover.search.samples import (
    CriticSample,
    ProofSample,
    TacticSample,
    extract_samples,
    from_json,
    read_jsonl,
    to_json,
    with_finisher_proof,
    write_jsonl,
)
from search_fixtures import ToyEnv
from test_search_graph import graph, mk


def sample_graph(proved: bool = True) -> Hypergraph:
    # R -a-> (A, B, C) all closing [size 4]; R -b-> D -d-> E closing [size 3]; R -c-> U (unsolved, visited);
    # U -u1-> (U1, S2) with S2 closing (solved, in no proof); U -u2-> W (unsolved, barely visited)
    nodes = [mk("R", {"a": ("A", "B", "C"), "b": ("D",), "c": ("U",)}), mk("A", {"c": ()}), mk("B", {"c": ()}),
             mk("D", {"d": ("E",)}), mk("U", {"u1": ("U1", "S2"), "u2": ("W",)}),
             mk("S2", {"s": ()}), mk("W", {"w": ("W1",)})]
    if proved:  # else C and E stay unexpanded and the root is not proved
        nodes += [mk("C", {"c": ()}), mk("E", {"e": ()})]
    g = graph("R", *nodes)
    u, w = g.nodes["U"], g.nodes["W"]
    u.N, u.W = [4, 2], [2.0, 0.2]
    w.N, w.W = [1], [0.3]
    return g


def goals(samples: tuple[TacticSample, ...]) -> set[str]:
    return {s.goal for s in samples}


@pytest.mark.parametrize("mask,expect", [
    ("all", {"R", "A", "B", "C", "D", "E", "S2", "U"}),
    ("solving", {"R", "A", "B", "C", "D", "E", "S2"}),
    ("proof", {"R", "A", "B", "C", "D", "E"}),
    ("minproof", {"R", "D", "E"}),
    ("minproof-solving", {"R", "D", "E"}),
])
def test_tactic_samples_by_mask(mask: str, expect: set[str]) -> None:
    cfg = SearchConfig(only_learn_tactics_from=mask, count_threshold=5, proof_stype="size")
    s = extract_samples(sample_graph(), cfg, "lbl")
    assert goals(s.tactic) == expect
    by_goal = {t.goal: t for t in s.tactic}
    # the root is solved: uniform over its solving tactics, or only its minimal one under minproof
    assert by_goal["R"].tactics == (("b",) if mask.startswith("minproof") else ("a", "b"))
    assert sum(by_goal["R"].target_pi) == pytest.approx(1)
    assert by_goal["R"].inproof == 2 and by_goal["D"].inproof == 2
    if "A" in by_goal:
        assert by_goal["A"].inproof == 1
    if "S2" in by_goal:
        assert by_goal["S2"].inproof == 0


def test_minproof_solving_falls_back_to_solving_when_the_root_is_unproved() -> None:
    cfg = SearchConfig(only_learn_tactics_from="minproof-solving", count_threshold=5, proof_stype="size")
    s = extract_samples(sample_graph(proved=False), cfg, "lbl")
    assert goals(s.tactic) == {"A", "B", "S2"} and s.proof is None


def test_a_finishers_proof_replaces_the_roots_samples_and_keeps_the_others() -> None:
    """search.finish_with proved the theorem after the search: the trainer learns its tactic for the root and that
    the root is solved; what the search learnt about the other goals stays."""
    cfg = SearchConfig(only_learn_tactics_from="minproof-solving", count_threshold=5, proof_stype="size")
    g = sample_graph(proved=False)
    s = extract_samples(g, cfg, "lbl")
    root = g.nodes["R"].goal
    assert s.tactic and s.critic
    out = with_finisher_proof(s, "lbl", root, "hauto use: x", ToyEnv({}), "size")
    assert [t for t in out.tactic if t.goal != "R"] == list(s.tactic)
    (step,) = [t for t in out.tactic if t.goal == "R"]
    assert step.tactics == ("hauto use: x",) and step.tactic_tokens == (("<t>", "hauto", "use:", "x"),)
    assert step.target_pi == (1.0,) and step.inproof == 2
    assert [c for c in out.critic if c.goal != "R"] == [c for c in s.critic if c.goal != "R"]
    (solved,) = [c for c in out.critic if c.goal == "R"]
    assert solved.solved and solved.q_estimate == 1.0 and not solved.bad
    assert out.proof is not None and out.proof.samples == (step,)


def test_only_learn_best_tactics() -> None:
    cfg = SearchConfig(only_learn_tactics_from="proof", only_learn_best_tactics=True, count_threshold=5,
                       proof_stype="size")
    by_goal = {t.goal: t for t in extract_samples(sample_graph(), cfg, "lbl").tactic}
    assert by_goal["R"].tactics == ("b",) and by_goal["R"].target_pi == (1.0,)


def test_unsolved_node_targets_are_the_final_policy_above_threshold() -> None:
    g = sample_graph()
    cfg = SearchConfig(count_threshold=5)
    u = [t for t in extract_samples(g, cfg, "lbl").tactic if t.goal == "U"][0]
    pi, _ = node_policy(g.nodes["U"], cfg, selection=False)
    kept = [(g.nodes["U"].tactics[i], p) for i, p in enumerate(pi) if p >= cfg.tactic_p_threshold]
    assert u.tactics == tuple(t for t, _ in kept) and u.visit_count == 6
    assert u.target_pi == pytest.approx([p for _, p in kept])
    assert len(kept) >= 1
    cfg = SearchConfig(count_threshold=5, tactic_p_threshold=0.99)
    assert "U" not in goals(extract_samples(g, cfg, "lbl").tactic)


def test_critic_samples_soft_hard_and_threshold() -> None:
    g = sample_graph()
    soft = {c.goal: c for c in extract_samples(g, SearchConfig(count_threshold=5), "lbl").critic}
    # solved nodes are always eligible, U has 6 visits, W only 1; the policy argmax of U is u1: W/N = .5
    assert set(soft) == {"R", "A", "B", "C", "D", "E", "S2", "U"}
    assert soft["R"].q_estimate == 1.0 and soft["R"].solved
    assert soft["U"].q_estimate == pytest.approx(.5) and not soft["U"].solved and soft["U"].critic == .5
    hard = {c.goal: c for c in extract_samples(g, SearchConfig(count_threshold=5, hard_critic_estimates=True),
                                                "lbl").critic}
    assert hard["U"].q_estimate == 0.0 and hard["R"].q_estimate == 1.0
    low = {c.goal for c in extract_samples(g, SearchConfig(count_threshold=1), "lbl").critic}
    assert "W" in low
    strict = SearchConfig(count_threshold=5, use_count_threshold_for_solved=True)
    assert {c.goal for c in extract_samples(g, strict, "lbl").critic} == {"U"}
    balanced = extract_samples(g, SearchConfig(count_threshold=5, balance_critic_data=True), "lbl").critic
    assert sorted(c.solved for c in balanced) == [False, True]
    assert extract_samples(g, SearchConfig(count_threshold=5, critic_subsampling=0.0), "lbl").critic == ()
    assert len(extract_samples(g, SearchConfig(count_threshold=5, max_nodes_for_train=2), "lbl").tactic) == 2


def test_proof_sample_and_json_lines(tmp_path: Path) -> None:
    env = ToyEnv({})
    s = extract_samples(sample_graph(), SearchConfig(count_threshold=5, proof_stype="size"), "lbl", env)
    assert isinstance(s.proof, ProofSample) and s.proof.size == 3.0 and s.proof.stype == "size"
    assert goals(s.proof.samples) == {"R", "D", "E"}
    t = s.tactic[0]
    assert t.goal_tokens == ("<g>", t.goal) and t.tactic_tokens[0] == ("<t>", t.tactics[0])
    for x in s.all():
        assert from_json(to_json(x)) == x
    path = tmp_path / "samples.jsonl"
    assert write_jsonl(path, s.all()) == len(s.all())
    back = list(read_jsonl(path))
    assert back == s.all()
    assert sum(isinstance(x, CriticSample) for x in back) == len(s.critic)
    path.write_text('{"type": "nope"}\n')
    with pytest.raises(ValueError, match="samples.jsonl:1"):
        list(read_jsonl(path))

"""Generators of the Equations env (spec section 4): sampler, random walks, random graphs, data streams."""

from __future__ import annotations

import collections
import json
import os
import random
import subprocess
import sys
from dataclasses import replace

import pytest

from hyperprover.envs.base import ProofNode, Theorem
from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.equations.data import (
    critic_examples,
    critic_targets,
    seq2seq_examples,
    split_examples,
    take,
    theorem_from_json,
    theorem_from_line,
    theorem_to_json,
    theorem_to_line,
)
from hyperprover.envs.equations.env import EqGoal, goal_from_tokens
from hyperprover.envs.equations.expr import evaluate, is_valid
from hyperprover.envs.equations.generators import context, fixed_split, generate, unit_rng, walk_starts
from hyperprover.envs.equations.graph import DERIVED, node_proof, random_graph
from hyperprover.envs.equations.rwalk import identity_walk_theorem, random_walk, walk_proof
from hyperprover.envs.equations.sampler import GenConfig, _counts, random_statement, sample_shape
from hyperprover.envs.equations.tactics import negate

# small graphs keep the fast tests fast; the slow test uses the spec's defaults
SMALL_GRAPH = replace(EquationsConfig(), gen=replace(GenConfig(), graph_n_nodes=120, graph_max_trials=300,
                                                      graph_n_samples=10))


def _ops_count(node) -> int:  # type: ignore[no-untyped-def]
    return (node.kind in ("unary", "binary")) + sum(_ops_count(c) for c in node.children)


# ---------------------------------------------------------------- sampler


@pytest.mark.parametrize("unary", [True, False])
def test_tree_shapes_are_uniform(unary: bool) -> None:
    rng = random.Random(0)
    n_ops = 3
    counts = collections.Counter(tuple(sample_shape(rng, n_ops, unary)) for _ in range(6000))
    n_shapes = _counts(100, unary)[n_ops][1]
    assert len(counts) == n_shapes  # every shape shows up, and no impossible one
    expected = 6000 / n_shapes
    assert all(abs(c - expected) < 0.25 * expected for c in counts.values()), counts


def test_sampled_expressions_have_the_requested_size_and_valid_leaves() -> None:
    ctx = context()
    rng = random.Random(1)
    for n_ops in range(0, 9):
        for _ in range(20):
            e = ctx.sampler.expr(rng, n_ops)
            assert _ops_count(e) == n_ops and is_valid(e)
            for leaf in _leaves(e):
                if leaf.kind == "int" and n_ops > 0:
                    assert 1 <= abs(leaf.value) <= 10  # non-null leaves inside compound expressions
                if leaf.kind == "var":
                    assert leaf.value in {f"x{i}" for i in range(5)}


def _leaves(e):  # type: ignore[no-untyped-def]
    if not e.children:
        yield e
    for c in e.children:
        yield from _leaves(c)


def test_fill_values_and_random_statements() -> None:
    ctx = context()
    rng = random.Random(2)
    for _ in range(50):
        fill = ctx.sampler.fill(rng, {"B", "A"})
        assert sorted(fill) == ["A", "B"]
        for v in fill.values():
            assert v.has_var or evaluate(v, {}) == evaluate(v, {})  # a variable, or a finite constant
            assert _ops_count(v) <= ctx.gen.fill_max_ops
        st = random_statement(ctx.sampler, rng, 3, ("==", "<"), ctx.eval_assert)
        assert st.kind == "cmp" and st.value in ("==", "<") and st.has_var and is_valid(st)
        assert ctx.eval_assert(st) is None


# ---------------------------------------------------------------- random walks


def test_random_walk_structure_and_proof() -> None:
    ctx = context()
    n_walks = 0
    for seed in range(15):
        walk = random_walk(ctx, unit_rng("test", "rwalk", seed, 0))
        if walk is None:
            continue
        n_walks += 1
        assert len(walk.statements) == ctx.gen.rwalk_n_steps + 1 == len(walk.steps) + 1
        assert len(walk.created_hyps) <= ctx.gen.rwalk_max_created_hyps
        assert all(s.kind == "cmp" and is_valid(s) for s in walk.statements)
        assert walk.statements[0].value != "!="
        found = walk_proof(ctx, walk)
        if found is None:
            continue
        goal, proof = found
        assert goal.conclusion == walk.statements[-1] and walk.statements[0] in goal.hyps
        assert proof.goal == goal
        ctx.env.check_proof(proof)
        # a walk proof is a chain of transformation steps, each undoing one rewrite
        node: ProofNode | None = proof
        while node is not None:
            assert node.tactic.startswith("<TRANFORM_RULE>") and len(node.children) <= 1
            node = node.children[0] if node.children else None
    assert n_walks >= 12


def test_rwalk_theorems_all_check(caplog: pytest.LogCaptureFixture) -> None:
    ths = generate("rwalk", 200, seed=11)
    assert "dropped" not in caplog.text  # no generated step was rejected by the env
    env = context().env
    assert len(ths) == 200 and len({t.label for t in ths}) == 200
    for th in ths:
        proof = th.meta["proof"]
        assert proof.goal == th.goal
        env.check_proof(proof)
    assert sum(t.meta["proof"].size() for t in ths) > 200 * 5  # walks give long proofs


# ---------------------------------------------------------------- walks from the identities' sides


def test_idwalk_theorems_check_and_keep_their_identity_hypotheses(caplog: pytest.LogCaptureFixture) -> None:
    ths = generate("idwalk", 60, seed=2)
    assert "dropped" not in caplog.text
    env = context().env
    starts = walk_starts(GenConfig().idwalk_split)
    hyp_sets = {frozenset(g.hyps) for g in starts}
    assert len(ths) == 60
    for th in ths:
        proof = th.meta["proof"]
        assert proof.goal == th.goal and th.label.startswith("idwalk_train2_")
        env.check_proof(proof)
        assert env.checker.eval_assert(th.goal.conclusion) is not True  # never closed before any step
        assert any(h <= th.goal.hypset for h in hyp_sets)  # the identity's hypotheses (plus created ones)
    # the walks start from the identities: their operators are the identities' (trig, hyperbolic, ...)
    words = collections.Counter(w for th in ths for w in th.goal.tokens())
    assert words["cos"] + words["sin"] + words["cosh"] + words["sinh"] + words["exp"] + words["ln"] > 60


def test_identity_walk_starts_from_both_sides_of_the_identity_and_meets_there() -> None:
    """With one identity and one step, the theorem is one rewrite away from `S == S` for one of its sides,
    under its hypotheses, and undoing that rewrite closes it."""
    ctx = context(replace(EquationsConfig(), gen=replace(GenConfig(), rwalk_n_steps=1, rwalk_max_created_hyps=0)))
    identity = next(g for g in walk_starts("identities") if g.hyps)
    sides = set(identity.conclusion.children)
    seen = set()
    for seed in range(30):
        found = identity_walk_theorem(ctx, random.Random(seed), [identity])
        if found is None:
            continue
        goal, proof = found
        assert goal.hyps == identity.hyps and not proof.children
        ctx.env.check_proof(proof)
        a, b = goal.conclusion.children
        assert a in sides or b in sides  # one side rewritten once, the other still the identity's side
        seen.update(s for s in (a, b) if s in sides)
    assert seen == sides


def test_idwalk_starts_leave_the_held_out_fold_out() -> None:
    held_out = {g.key for g in walk_starts("identities%4=3")}
    starts = walk_starts(GenConfig().idwalk_split)
    assert len(starts) == 120 and len(held_out) == 40
    assert held_out.isdisjoint(g.key for g in starts)
    cfg = replace(EquationsConfig(), gen=replace(GenConfig(), idwalk_split="identities%4=9"))
    with pytest.raises(ValueError, match=r"gen.idwalk_split 'identities%4=9': bad fold"):
        generate("idwalk", 1, cfg=cfg)
    with pytest.raises(ValueError, match=r"gen.idwalk_split 'nope': idwalk starts from the identities or a fold"):
        generate("idwalk", 1, cfg=replace(EquationsConfig(), gen=replace(GenConfig(), idwalk_split="nope")))


# ---------------------------------------------------------------- random graphs


def test_graph_nodes_all_have_replayable_proofs() -> None:
    ctx = context(SMALL_GRAPH)
    for seed in range(3):
        graph = random_graph(ctx, unit_rng("test", "graph", seed, 0))
        kinds = collections.Counter(n.kind for n in graph.nodes)
        assert kinds["T"] > 0 and kinds["A"] > 0 and kinds["true"] <= ctx.gen.graph_max_true_nodes
        assert len(set(graph.ids)) == len(graph.nodes)  # statements are unique
        for nid, node in enumerate(graph.nodes):
            assert all(c < nid for c in node.children)  # derived from earlier nodes: a DAG
            if node.kind not in DERIVED:
                continue
            goal, proof = node_proof(ctx, graph, nid)
            hyp_stmts = {n.stmt for n in graph.nodes if n.kind == "hyp"}
            assert set(goal.hyps) <= hyp_stmts
            ctx.env.check_proof(proof)


def test_graph_theorems_check_and_skip_inequalities_between_terms(caplog: pytest.LogCaptureFixture) -> None:
    ths = generate("graph", 60, seed=5, cfg=SMALL_GRAPH)
    assert "dropped" not in caplog.text
    env = context(SMALL_GRAPH).env
    assert len(ths) == 60
    for th in ths:
        goal = th.goal
        assert isinstance(goal, EqGoal) and goal.conclusion.value != "!="
        assert th.label.startswith(f"graph_train5_{th.meta['index']}_node")
        env.check_proof(th.meta["proof"])


# ---------------------------------------------------------------- reproducibility


def _fingerprint(ths: list[Theorem]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    return [(t.label, t.goal.key, [(g.key, tac) for g, tac in t.meta["proof"].steps()]) for t in ths]


@pytest.mark.parametrize("gen", ["rwalk", "idwalk", "graph"])
def test_generators_are_reproducible_by_seed(gen: str) -> None:
    a = generate(gen, 12, seed=3, cfg=SMALL_GRAPH)
    b = generate(gen, 12, seed=3, cfg=SMALL_GRAPH)
    c = generate(gen, 12, seed=4, cfg=SMALL_GRAPH)
    assert _fingerprint(a) == _fingerprint(b)
    assert {t.goal.key for t in a}.isdisjoint({t.goal.key for t in c})


def test_same_seed_same_theorems_in_another_process() -> None:
    """String hashing differs between processes: generation must not depend on it."""
    code = ("import json\nfrom hyperprover.envs.equations.generators import generate\n"
            "from hyperprover.envs.equations.data import theorem_to_json\n"
            "print(json.dumps([theorem_to_json(t) for t in generate('rwalk', 4, seed=9)]))")
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        outs.append(json.loads(res.stdout))
    assert outs[0] == outs[1]
    assert outs[0] == [theorem_to_json(t) for t in generate("rwalk", 4, seed=9)]


def test_fixed_splits() -> None:
    valid, test = fixed_split("valid", n=15), fixed_split("test", n=15)
    assert len(valid) == len(test) == 15
    assert [t.label for t in valid] == [t.label for t in fixed_split("valid", n=15)]
    assert {t.goal.key for t in valid}.isdisjoint({t.goal.key for t in test})
    assert len({t.goal.key for t in valid}) == 15
    train = generate("rwalk", 15, seed=0)  # training seed 0 is not the valid split
    assert {t.goal.key for t in valid}.isdisjoint({t.goal.key for t in train})
    assert all(t.split == "valid" and isinstance(t.meta["proof"], ProofNode) for t in valid)
    with pytest.raises(ValueError, match="fixed splits"):
        fixed_split("train")


# ---------------------------------------------------------------- data streams and records


def test_seq2seq_pairs_replay_in_the_env() -> None:
    env = context().env
    pairs = take(seq2seq_examples("rwalk", 1), 80)
    assert len(pairs) == 80
    for goal_toks, tac_toks in pairs:
        goal = goal_from_tokens(goal_toks)
        res = env.apply(goal, env.tactic_from_tokens(tac_toks))
        assert res.ok, res.error
    graph_pairs = take(seq2seq_examples("graph", 1, SMALL_GRAPH), 60)
    assert any(t[0] == "<ASSERT_RULE>" for _, t in graph_pairs)
    assert len({(tuple(g), tuple(t)) for g, t in graph_pairs}) == len(graph_pairs)  # de-duplicated


def test_critic_examples_balance_and_negatives() -> None:
    examples = take(critic_examples("rwalk", 2), 400)
    targets = collections.Counter(t for _, t in examples)
    assert set(targets) == {0.0, 1.0} and 120 < targets[1.0] < 280
    assert all(goal_from_tokens(toks).conclusion.kind == "cmp" for toks, _ in examples[:50])
    # positives are proof goals; negatives are proof goals negated, or the theorem with fewer hypotheses
    rng = random.Random(0)
    kinds: collections.Counter[str] = collections.Counter()
    for th in generate("rwalk", 20, seed=2):
        root = th.goal
        assert isinstance(root, EqGoal)
        goals = {g.key: g for g, _ in th.meta["proof"].steps()}
        for goal, target in critic_targets(th, rng):
            if target == 1.0:
                assert goal.key in goals
                kinds["pos"] += 1
            elif goal.conclusion == root.conclusion and len(goal.hyps) < len(root.hyps):
                assert set(goal.hyps) < set(root.hyps)
                kinds["fewer_hyps"] += 1
            else:
                assert any(goal.with_conclusion(negate(goal.conclusion)).key == k for k in goals)
                kinds["negated"] += 1
    assert kinds["pos"] and kinds["negated"] and kinds["fewer_hyps"]


def test_split_examples() -> None:
    seq = split_examples("rwalk", "valid", "seq2seq", n=10)
    crit = split_examples("rwalk", "valid", "critic", n=10)
    assert len(seq) >= 10 * 5 and len(crit) == 10
    assert split_examples("rwalk", "valid", "critic", n=10) == crit  # fixed, not random per call
    with pytest.raises(ValueError):
        split_examples("rwalk", "valid", "tactic", n=10)  # type: ignore[arg-type]


def test_json_round_trip() -> None:
    for th in generate("rwalk", 5, seed=21) + generate("graph", 5, seed=21, cfg=SMALL_GRAPH):
        back = theorem_from_line(theorem_to_line(th))
        assert back.label == th.label and back.goal == th.goal
        assert back.meta["proof"] == th.meta["proof"]
        assert theorem_to_json(back) == theorem_to_json(th)
        record = theorem_to_json(th)
        assert record["goal"]["prefix"].startswith("<GOAL>") and record["gen"] in ("rwalk", "graph")
        # the human-readable goal parses back to the same goal too
        del record["goal"]["prefix"]
        assert theorem_from_json(record).goal == th.goal


# ---------------------------------------------------------------- full acceptance counts (slow)


@pytest.mark.slow
def test_acceptance_counts_recheck(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """10,000 random-walk and 2,000 graph theorems (default settings) all re-check from the file."""
    from hyperprover.envs.equations.cli import check_main, data_main

    rw, gr = tmp_path / "rwalk.jsonl", tmp_path / "graph.jsonl"
    assert data_main(["--gen", "rwalk", "--n", "10000", "--seed", "0", "--out", str(rw)]) == 0
    assert data_main(["--gen", "graph", "--n", "2000", "--seed", "0", "--out", str(gr)]) == 0
    assert check_main([str(rw), str(gr)]) == 0
    assert sum(1 for _ in rw.open()) == 10000 and sum(1 for _ in gr.open()) == 2000


@pytest.mark.slow
def test_env_valid_and_test_splits_have_1000_theorems() -> None:
    env = context().env
    for split in ("valid", "test"):
        ths = env.theorems(split)
        assert len(ths) == 1000 and len({t.label for t in ths}) == 1000

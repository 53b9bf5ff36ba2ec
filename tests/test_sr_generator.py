import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.envs.equations.expr import parse_infix, parse_prefix
from hyperprover.envs.sr import generator
from hyperprover.envs.sr.benchmark import BENCH
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.data import seq2seq_examples, split_examples, vocabulary
from hyperprover.envs.sr.env import SREnv, SRGoal
from hyperprover.envs.sr.numeric import evaluate_array, simplify
from hyperprover.envs.sr.rules import START_RULE
from hyperprover.envs.sr.splits import make_env

ENV = make_env()


def only_child(res) -> SRGoal:
    (c,) = res.children
    assert isinstance(c, SRGoal)
    return c


def assert_problem_ok(env, p):
    env.check_proof(p.proof())
    first, last = p.steps[0], p.steps[-1]
    assert first[0].expr.prefix_str() == "+ 0" and first[1].startswith(START_RULE.name + " <PREFIX_0>")
    assert env.apply(last[0], last[1]).closes
    # no step before the last one already closes its goal (the chain is cut at the first match)
    assert all(not env.apply(g, t).closes for g, t in p.steps[:-1])
    assert np.allclose(evaluate_array(p.target, p.points.x), p.points.y, rtol=0, atol=0)


def test_generated_trajectories_recheck():
    probs = generator.take(generator.problems(11), 300)
    for p in probs:
        assert_problem_ok(ENV, p)
    lengths = [len(p.steps) for p in probs]
    assert min(lengths) >= 2 and max(lengths) > 4  # a start step plus at least one rule each
    assert len({p.target for p in probs}) > 250  # the stream is diverse


def test_polynomial_variant():
    cfg = SRConfig(variant="polynomial")
    env = SREnv(cfg)
    for p in generator.take(generator.problems(5, cfg), 50):
        assert_problem_ok(env, p)
        ops = {n.value for n in _nodes(p.target) if n.kind in ("unary", "binary")}
        assert ops <= {"neg", "pow2", "add", "sub", "mul"}


def _nodes(e):
    yield e
    for c in e.children:
        yield from _nodes(c)


def test_generation_is_reproducible_by_seed():
    a = [(p.label, p.target, [t for _, t in p.steps]) for p in generator.take(generator.problems(7), 20)]
    b = [(p.label, p.target, [t for _, t in p.steps]) for p in generator.take(generator.problems(7), 20)]
    c = [(p.label, p.target, [t for _, t in p.steps]) for p in generator.take(generator.problems(8), 20)]
    assert a == b and a != c
    ex1 = list(itertools.islice(seq2seq_examples(3), 30))
    ex2 = list(itertools.islice(seq2seq_examples(3), 30))
    assert ex1 == ex2 and ex1 != list(itertools.islice(seq2seq_examples(4), 30))


def test_valid_and_test_splits():
    valid, test = ENV.theorems("valid"), ENV.theorems("test")
    assert len(valid) == len(test) == 1000
    assert [t.label for t in valid[:3]] == ["sr_valid:0", "sr_valid:1", "sr_valid:2"]
    assert len({t.label for t in valid}) == 1000 and {t.split for t in valid} == {"valid"}
    assert [t.meta["target"] for t in valid[:50]] != [t.meta["target"] for t in test[:50]]
    again = make_env().theorems("valid")
    assert [t.goal.key for t in again] == [t.goal.key for t in valid]
    for th in valid[:: 10]:
        assert isinstance(th.goal, SRGoal) and th.goal.expr.prefix_str() == "+ 0"
        steps = th.meta["proof"]
        goals = [th.goal]
        for t in steps[:-1]:
            goals.append(only_child(ENV.apply(goals[-1], t)))
        assert ENV.apply(goals[-1], steps[-1]).closes
        assert [g.expr.prefix_str() for g in goals] == th.meta["exprs"]


def test_train_split_is_a_finite_sample():
    env = make_env(SRConfig(n_train_theorems=30))
    th = env.theorems("train")
    assert len(th) == 30 and len({t.label for t in th}) == 30


def test_benchmark_is_named_stable_and_provable():
    th = ENV.theorems("bench")
    assert [t.label for t in th] == [f"sr_bench:{name}" for name, _ in BENCH]
    assert len(th) >= 20
    for prefix in ("poly", "rational", "exp", "log", "trig", "nguyen"):
        assert any(t.label.startswith(f"sr_bench:{prefix}") for t in th)
    for t, (_, text) in zip(th, BENCH):
        assert t.meta["target"] == parse_infix(text).prefix_str()
        goals = [t.goal]
        for tac in t.meta["proof"][:-1]:
            goals.append(only_child(ENV.apply(goals[-1], tac)))
        assert ENV.apply(goals[-1], t.meta["proof"][-1]).closes


def test_data_streams_use_the_env_tokens():
    vocab = set(vocabulary())
    pairs = list(itertools.islice(seq2seq_examples(0), 200))
    for goal_toks, tac_toks in pairs:
        assert goal_toks[0] == "<GOAL>" and goal_toks[-1] == "</GOAL>"
        assert set(goal_toks) <= vocab and set(tac_toks) <= vocab
        assert ENV.parse_goal(" ".join(goal_toks)).expr == parse_prefix(goal_toks[1:goal_toks.index("<SUBST>")])
    v = split_examples("valid", 100)
    assert len(v) == 100 and v == split_examples("valid", 100)
    assert split_examples("valid", 10) == v[:10]
    assert len(split_examples("bench", 10_000)) == sum(len(t.meta["proof"]) for t in ENV.theorems("bench"))
    with pytest.raises(ValueError, match="no fixed split"):
        split_examples("train")


def test_simplifier_examples():
    cases = {"x - x": "0", "-(-(x))": "x", "x * 1 + 0": "x", "x * x": "x^2", "sqrt(4) * x": "2 * x",
             "(x + 1) / (x + 1)": "1", "ln(exp(x))": "x", "|-(x)|": "|x|", "x + x": "2 * x", "0 - x": "-x",
             "x * (1 / x)": "x / x"}
    for src, want in cases.items():
        got = simplify(parse_infix(src))
        assert got == simplify(parse_infix(want)), (src, got)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 10))
def test_simplify_keeps_values_where_the_original_is_defined(seed, n_ops):
    cfg = SRConfig()
    e = generator.random_expr(np.random.default_rng(seed), n_ops, cfg.unary(), cfg.binary(), 0.2, 5)
    s = simplify(e)
    xs = np.linspace(-10, 10, 20)
    a, b = evaluate_array(e, xs), evaluate_array(s, xs)
    ok = np.isfinite(a) & np.isfinite(b)
    assert np.allclose(a[ok], b[ok], rtol=1e-6, atol=1e-6)
    n_ops_of = lambda t: sum(1 for n in _nodes(t) if n.kind in ("unary", "binary"))  # noqa: E731
    assert n_ops_of(s) <= n_ops_of(e)


def test_tree_shapes_have_the_requested_size():
    rng = np.random.default_rng(0)
    for n in range(0, 12):
        shape = generator.tree_shape(rng, n)
        assert sum(1 for a in shape if a > 0) == n
        assert len(shape) == 1 + sum(shape)  # prefix sequence of a complete tree
    # the first operator is unary in about the share predicted by the counting table (not just binary)
    firsts = [generator.tree_shape(rng, 3)[0] for _ in range(2000)]
    assert 0.2 < firsts.count(1) / len(firsts) < 0.6
    assert math.isfinite(len(firsts))

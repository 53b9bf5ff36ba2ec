"""The identities split (spec section 5, appendix B): counts, stable labels, numerical truth."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import split_theorems
from hyperprover.envs.equations.env import EqGoal
from hyperprover.envs.equations.expr import Node, bin, evaluate, holds, ops, variables
from hyperprover.envs.equations.identities import identity_texts, load_identities
from hyperprover.envs.equations.library import dataset
from hyperprover.envs.equations.splits import make_env

INVERSE_FUNCS = {"asin", "acos", "atan", "asinh", "acosh", "atanh"}


def test_counts_and_families() -> None:
    kept, everything = load_identities(), load_identities(include_dropped=True)
    assert len(kept) == 160 and len(everything) == 180
    fam = [t.meta["family"] for t in kept]
    assert (fam.count("EXP"), fam.count("TRIGO"), fam.count("HYPER")) == (28, 70, 62)
    assert all(t.split == "identities" for t in everything)


def test_labels_are_stable_and_unique() -> None:
    kept, everything = load_identities(), load_identities(include_dropped=True)
    assert [t.label for t in kept] == [f"identities:{i}" for i in range(160)]
    assert len({t.label for t in everything}) == 180
    # asking for the dropped ones does not renumber the kept ones
    assert [(t.label, t.goal) for t in everything[:160]] == [(t.label, t.goal) for t in kept]
    assert kept[0].meta["text"].startswith("(ln(x) - ln(x / y)) / ln(y) = 1")


def test_dropped_are_exactly_those_with_disabled_operators() -> None:
    ds = dataset("eq_dataset_exp_trigo_hyper")
    allowed = ds.unary | ds.binary
    for th in load_identities(include_dropped=True):
        goal = th.goal
        assert isinstance(goal, EqGoal)
        used = ops(goal.conclusion)
        assert th.meta["dropped"] == (not used <= allowed), th.meta["text"]
        assert th.meta["dropped"] == bool(used & INVERSE_FUNCS)


def test_env_loads_identities_and_goals_are_equalities_over_x0_x1() -> None:
    env = make_env()
    ths = env.theorems("identities")
    assert [t.label for t in ths] == [t.label for t in load_identities()]
    for th in ths:
        goal = th.goal
        assert isinstance(goal, EqGoal) and goal.conclusion.value == "=="
        assert variables(goal.conclusion) <= {"x0", "x1"}
        # the goal survives its own token form (what the model reads)
        assert env.goal_tokens(goal)[0] == "<GOAL>"


def test_texts_parse_back_to_the_same_goals() -> None:
    texts = identity_texts()
    goals = [t.goal for t in load_identities(include_dropped=True)]
    kept_then_dropped = [t for t in texts if not t.dropped] + [t for t in texts if t.dropped]
    env = make_env()
    for t, g in zip(kept_then_dropped, goals, strict=True):
        assert env.parse_goal(t.text.replace("  given", " given")) == g


# spec 6.5 grid plus random points: an identity must hold wherever its hypotheses hold
GRID = [-math.pi, -2.1, -math.pi / 2, -math.pi / 4, -1.3, -0.4, 0.0, 0.3924, 0.6364, 1.0, 1.1313,
        math.pi / 4, math.pi / 2, 1.81, 2.12, math.pi]


def _points(n_vars: int, rng: random.Random) -> list[dict[str, float]]:
    pts = [{"x0": a, "x1": b} for a in GRID for b in (GRID if n_vars > 1 else [0.0])]
    pts += [{"x0": rng.uniform(-4, 4), "x1": rng.uniform(-4, 4)} for _ in range(200)]
    return pts


def _check_numerically(goal: EqGoal, rng: random.Random) -> tuple[int, int]:
    """(points where the identity holds, points where it fails), over points satisfying the hypotheses."""
    good = bad = 0
    for pt in _points(len(variables(goal.conclusion)), rng):
        if not all(holds(h, pt) is True for h in goal.hyps):
            continue
        a, b = (evaluate(c, pt) for c in goal.conclusion.children)
        if math.isnan(a) or math.isnan(b):
            continue
        verdict = holds(goal.conclusion, pt)
        good += verdict is True
        bad += verdict is False
    return good, bad


def test_every_identity_holds_numerically() -> None:
    rng = random.Random(0)
    for th in load_identities(include_dropped=True):
        goal = th.goal
        assert isinstance(goal, EqGoal)
        good, bad = _check_numerically(goal, rng)
        need = 1 if not variables(goal.conclusion) else 10
        assert bad == 0 and good >= need, f"{th.label} {th.meta['text']}: {good} good, {bad} bad points"


def test_numerical_check_catches_a_wrong_identity() -> None:
    rng = random.Random(1)
    wrong = 0
    for th in load_identities()[::10]:
        goal = th.goal
        assert isinstance(goal, EqGoal)
        lhs, rhs = goal.conclusion.children
        broken = EqGoal(Node("cmp", "==", (lhs, bin("add", rhs, Node("int", 1)))), goal.hyps)
        wrong += _check_numerically(broken, rng)[1] > 0
    assert wrong == len(load_identities()[::10])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 9), k=st.integers(0, 8))
def test_folds_partition_a_split(n: int, k: int) -> None:
    k %= n
    env = make_env()
    labels = [t.label for t in env.theorems("identities")]
    held = [t.label for t in split_theorems(env, f"identities%{n}={k}")]
    rest = [t.label for t in split_theorems(env, f"identities%{n}!={k}")]
    assert held == [lab for i, lab in enumerate(labels) if i % n == k]
    assert not set(held) & set(rest) and sorted(held + rest, key=labels.index) == labels
    assert [t.label for t in split_theorems(env, "identities")] == labels


@settings(max_examples=30, deadline=None)
@given(idx=st.sets(st.integers(0, 159), min_size=1, max_size=20))
def test_a_pick_keeps_the_named_indices_in_split_order(idx: set[int]) -> None:
    env = make_env()
    labels = [t.label for t in env.theorems("identities")]
    text = ",".join(str(i) for i in sorted(idx, reverse=True))
    assert [t.label for t in split_theorems(env, f"identities@{text}")] == [labels[i] for i in sorted(idx)]


@settings(max_examples=30, deadline=None)
@given(start=st.integers(0, 150), length=st.integers(1, 10), n=st.integers(2, 4), k=st.integers(0, 3))
def test_a_range_pick_is_its_indices_and_folds_fold_the_picked(start: int, length: int, n: int, k: int) -> None:
    k %= n
    env = make_env()
    labels = [t.label for t in env.theorems("identities")]
    end = min(160, start + length)
    picked = [t.label for t in split_theorems(env, f"identities@{start}-{end - 1}")]
    assert picked == labels[start:end]
    assert picked == [t.label for t in split_theorems(env, "identities@" + ",".join(map(str, range(start, end))))]
    held = [t.label for t in split_theorems(env, f"identities@{start}-{end - 1}%{n}={k}")]
    rest = [t.label for t in split_theorems(env, f"identities@{start}-{end - 1}%{n}!={k}")]
    assert held == picked[k::n] and sorted(held + rest, key=labels.index) == picked


def test_bad_picks_name_the_form() -> None:
    env = make_env()
    for bad in ("identities@0,0", "identities@160", "identities@5-4", "identities@150-160", "identities@3,2-5"):
        with pytest.raises(ValueError, match=r"bad pick .*distinct indices below 160"):
            split_theorems(env, bad)
    with pytest.raises(ValueError, match="unknown equations split"):
        split_theorems(env, "nope@1")


def test_bad_folds_name_the_form() -> None:
    env = make_env()
    for bad in ("identities%1=0", "identities%4=4"):
        with pytest.raises(ValueError, match=r"write split%n=k"):
            split_theorems(env, bad)
    with pytest.raises(ValueError, match="unknown equations split"):
        split_theorems(env, "nope%4=1")

import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import ProofError, ProofNode, TacticErrorKind, make_env
from hyperprover.envs.equations.expr import (
    Int,
    Var,
    bin,
    evaluate,
    parse_infix,
    positions,
    replace_at,
    subtree_at,
    un,
)
from hyperprover.envs.sr.env import SREnv, SRGoal, start_goal
from hyperprover.envs.sr.generator import random_expr
from hyperprover.envs.sr.numeric import PointSet, evaluate_array, evaluate_points
from hyperprover.envs.sr.rules import GROW_RULE, RULES, START_RULE, WRAP_RULE, tactic_text
from hyperprover.envs.sr.splits import make_env as make_sr_env

ENV = SREnv()
X = Var("x0")
XS = tuple(np.linspace(-10, 10, 20).tolist())
ALL_UNARY = ("neg", "exp", "ln", "pow2", "inv", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "abs")


def only_child(res) -> SRGoal:
    (c,) = res.children
    assert isinstance(c, SRGoal)
    return c


def points_of(text, xs=XS):
    return PointSet.from_target(parse_infix(text), xs)


def exprs(max_ops=6):
    """Random expressions of x0 drawn by the generator's own sampler (all 13 unary ops)."""
    return st.builds(lambda seed, n: random_expr(np.random.default_rng(seed), n, ALL_UNARY,
                                                 ("add", "sub", "mul", "div"), 0.3, 5),
                     st.integers(0, 2**32 - 1), st.integers(0, max_ops))


def test_rule_table():
    assert len(RULES) == 18 and len(WRAP_RULE) == 13 and len(GROW_RULE) == 4
    assert WRAP_RULE["sin"].name == "T||A|sin(A)" and WRAP_RULE["neg"].name == "T||A|(-A)"
    assert WRAP_RULE["pow2"].name == "T||A|(A_**_2)" and WRAP_RULE["inv"].name == "T||A|(A_**_-1)"
    assert GROW_RULE["add"].name == "T||A|(A_+_B)" and START_RULE.name == "T||0|A"
    assert all(r.fill == ("B",) for r in GROW_RULE.values()) and START_RULE.fill == ("A",)
    assert all(r.fill == () for r in WRAP_RULE.values())
    assert all(" " not in r.name for r in RULES)


def test_a_two_step_proof_closes():
    g0 = start_goal(points_of("sin(x)"))
    assert g0.values.tolist() == [0.0] * 20
    r1 = ENV.apply(g0, tactic_text(START_RULE, 0, {"A": X}))
    assert r1.ok and only_child(r1).expr == X
    r2 = ENV.apply(only_child(r1), "T||A|sin(A) <PREFIX_0>")
    assert r2.closes and r2.duration_s >= 0
    r3 = ENV.apply(only_child(r1), "T||A|cos(A) <PREFIX_0>")
    assert r3.ok and only_child(r3).expr == un("cos", X)


def test_close_uses_the_spec_tolerances():
    base = PointSet((1.0, 2.0), (1.0 + 5e-6, 2.0))  # within rtol 1e-5 of x
    assert ENV.apply(start_goal(base), tactic_text(START_RULE, 0, {"A": X})).closes
    far = PointSet((1.0, 2.0), (1.0 + 5e-5, 2.0))
    assert not ENV.apply(start_goal(far), tactic_text(START_RULE, 0, {"A": X})).closes
    tiny = PointSet((1.0,), (5e-9,))  # atol 1e-8 around 0
    assert ENV.apply(start_goal(tiny), tactic_text(START_RULE, 0, {"A": Int(0)})).closes


def goal(text, pts=None):
    return SRGoal(parse_infix(text), pts or points_of("x^3 + 7"))


@pytest.mark.parametrize("g,tactic,kind", [
    ("x", "", TacticErrorKind.MALFORMED),
    ("x", "T||A|sin(A)", TacticErrorKind.MALFORMED),
    ("x", "T||A|erf(A) <PREFIX_0>", TacticErrorKind.UNKNOWN_RULE),
    ("x", "T||A|sin(A) PREFIX_0", TacticErrorKind.MALFORMED),
    ("x", "T||A|sin(A) <PREFIX_0> junk", TacticErrorKind.MALFORMED),
    ("x", "T||A|sin(A) <PREFIX_1>", TacticErrorKind.NO_MATCH),
    ("x + 12", "T||A|sin(A) <PREFIX_4>", TacticErrorKind.NO_MATCH),  # inside the digits of 12
    ("x", "T||0|A <PREFIX_0> <SUBST> EQ_VAR_A <SUBST_NAME> x0 </SUBST>", TacticErrorKind.NO_MATCH),
    ("x", "T||A|(A_+_B) <PREFIX_0>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|sin(A) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x0 </SUBST>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_A <SUBST_NAME> x0 </SUBST>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x1 </SUBST>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> add x0 </SUBST>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x0", TacticErrorKind.MALFORMED),
    ("x", "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x0 </SUBST> <SUBST> EQ_VAR_B <SUBST_NAME> x0 "
          "</SUBST>", TacticErrorKind.BAD_SUBSTITUTION),
    ("x", "T||A|ln(A) <PREFIX_0>", TacticErrorKind.INVALID_CHILD),  # ln of negative points
    ("x", "T||A|(A_/_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> + 0 </SUBST>", TacticErrorKind.INVALID_CHILD),
    ("x", "T||A|exp(A) <PREFIX_0>", None),
    ("exp(x)", "T||A|exp(A) <PREFIX_0>", TacticErrorKind.INVALID_CHILD),  # exp(exp(10)) overflows
    ("x - x", "T||A|(A_**_-1) <PREFIX_0>", TacticErrorKind.INVALID_CHILD),  # 1/0
])
def test_tactic_errors_are_typed(g, tactic, kind):
    res = ENV.apply(goal(g), tactic)
    if kind is None:
        assert res.ok
    else:
        assert res.error is not None and res.error.kind == kind, res.error
        assert not res.children and res.error.message


def test_expression_length_is_capped():
    env = make_sr_env(max_expr_len=8)
    g = goal("x + x + x")  # 5 tokens
    assert env.apply(g, "T||A|sin(A) <PREFIX_0>").ok
    res = env.apply(g, "T||A|(A_*_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> add x0 x0 </SUBST>")
    assert res.error is not None and res.error.kind == TacticErrorKind.INVALID_CHILD
    assert "max_expr_len" in str(res.error)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs(), st.integers(0, 200), st.sampled_from(ALL_UNARY))
def test_wrap_then_evaluate_equals_evaluating_the_wrapped_expression(expr, pos_seed, op):
    pts = PointSet(XS, tuple(float(i) for i in range(20)))
    try:
        g = SRGoal(expr, pts)
    except ValueError:
        return  # this expression is undefined somewhere: not a goal
    pos = pos_seed % expr.size
    sub = subtree_at(expr, pos)
    res = ENV.apply(g, f"{WRAP_RULE[op].name} <PREFIX_{pos}>")
    if sub is None:
        assert res.error is not None and res.error.kind == TacticErrorKind.NO_MATCH
        return
    wrapped = replace_at(expr, pos, un(op, sub))
    direct = evaluate_array(wrapped, np.array(XS))
    if res.error is not None:
        assert res.error.kind == TacticErrorKind.INVALID_CHILD and not np.isfinite(direct).all()
        return
    assert np.isfinite(direct).all()
    if res.children:
        child = only_child(res)
        assert child.expr == wrapped and np.array_equal(child.values, direct)
    else:
        assert np.allclose(direct, pts.y, rtol=1e-5, atol=1e-8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs(4), exprs(4), st.integers(0, 100), st.sampled_from(RULES))
def test_a_tactic_never_yields_an_undefined_child(expr, value, pos_seed, rule):
    pts = points_of("x^2 + 1")
    try:
        g = SRGoal(expr, pts)
    except ValueError:
        g = start_goal(pts)
    pos = pos_seed % g.expr.size
    subst = {v: value for v in rule.fill}
    res = ENV.apply(g, tactic_text(rule, pos, subst))
    for child in res.children:
        assert isinstance(child, SRGoal) and np.isfinite(child.values).all()
        assert np.array_equal(child.values, evaluate_array(child.expr, pts.x))
    if res.error is not None:
        assert res.error.kind in (TacticErrorKind.NO_MATCH, TacticErrorKind.INVALID_CHILD)


@settings(max_examples=200, deadline=None)
@given(exprs(8), st.floats(-10, 10))
def test_vectorised_evaluation_agrees_with_the_equations_evaluator(expr, x):
    got = evaluate_array(expr, np.array([x]))[0]
    want = evaluate(expr, {"x0": x})
    if math.isnan(want):
        assert math.isnan(got)
    else:
        # numpy's and math's functions differ by an ulp or so, and the expression can amplify it (tan of
        # (9 - sinh(7.67))**2 ~ 1e6 turned 1e-16 into 1.4e-9 relative): agreement, not bit equality
        assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)


def test_evaluation_memo_follows_the_point_set():
    e = parse_infix("sin(x) * x")
    p1, p2 = PointSet((1.0, 2.0), (0.0, 0.0)), PointSet((3.0, 4.0), (0.0, 0.0))
    assert np.allclose(evaluate_points(e, p1), [math.sin(1), 2 * math.sin(2)])
    assert np.allclose(evaluate_points(e, p2), [3 * math.sin(3), 4 * math.sin(4)])


@pytest.mark.parametrize("xs,ys,msg", [
    ((), (), "empty"),
    ((1.0, 2.0), (1.0,), "2 inputs but 1 targets"),
    ((1.0, 2.0), (1.0, math.nan), r"y\[1\]"),
    ((1.0, math.inf), (1.0, 2.0), r"x\[1\]"),
    ((1.0,), ("3",), r"y\[0\]"),
])
def test_bad_point_sets_are_clear_errors(xs, ys, msg):
    with pytest.raises(ValueError, match=msg):
        PointSet(xs, ys)


def test_bad_goals_are_clear_errors():
    pts = points_of("x")
    with pytest.raises(ValueError, match="undefined at x0"):
        SRGoal(parse_infix("ln(x)"), pts)
    with pytest.raises(ValueError, match="only use x0"):
        SRGoal(parse_infix("x0 + x1"), pts)
    with pytest.raises(ValueError, match="comparison"):
        SRGoal(parse_infix("x = 1"), pts)
    with pytest.raises(ValueError, match="defined at only 0"):
        points_of("ln(-(x^2) - 1)")


def test_goal_identity_tokens_and_pickling():
    pts = points_of("x^2")
    a, b = goal("x + 1", pts), goal("x + 1", pts)
    assert a == b and hash(a) == hash(b) and a.key == b.key
    assert a != goal("1 + x", pts) and a != goal("x + 1", PointSet(pts.xs, pts.ys[:-1] + (pts.ys[-1] + 1e-12,)))
    assert pickle.loads(pickle.dumps(a)) == a
    toks = ENV.goal_tokens(a)
    assert toks[:5] == ["<GOAL>", "add", "x0", "+", "1"] and toks[-1] == "</GOAL>"
    assert toks.count("<SUBST>") == 20 and len(toks) == 6 + 20 * 10
    back = ENV.parse_goal(" ".join(toks))
    assert back.expr == a.expr and np.allclose(back.points.y, pts.y, rtol=6e-4)
    assert "x0 + 1" in ENV.goal_text(a)


def test_parse_goal_forms():
    g = ENV.parse_goal("x*sin(x) + 1")
    assert g.expr == Int(0) and g.points.n == 20 and np.allclose(g.points.y, np.array(XS) * np.sin(XS) + 1)
    j = ENV.parse_goal('{"expr": "x", "xs": [1, 2], "ys": [3, 4]}')
    assert j.expr == X and j.points.ys == (3.0, 4.0)
    assert ENV.parse_goal('{"target": "sqrt(x)"}').points.n == 10
    from hyperprover.envs.base import GoalParseError

    for bad in ("x +", '{"xs": [1]}', '{"xs": [1, 2], "ys": [1]}', "<GOAL> x0 <SUBST> + N1000 </GOAL>", "[1]"):
        with pytest.raises(GoalParseError, match="sr goal"):
            ENV.parse_goal(bad)


def chain(pts, tactics):
    """Apply tactics in order from f = 0; the proof tree of the resulting chain."""
    goals = [start_goal(pts)]
    for t in tactics[:-1]:
        goals.append(only_child(ENV.apply(goals[-1], t)))
    node = None
    for g, t in zip(reversed(goals), reversed(tactics)):
        node = ProofNode(g, t, (node,) if node else ())
    return node


def test_check_proof_accepts_and_names_the_failing_step():
    pts = points_of("sin(x) + x")
    good = ["T||0|A <PREFIX_0> <SUBST> EQ_VAR_A <SUBST_NAME> x0 </SUBST>", "T||A|sin(A) <PREFIX_0>",
            "T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x0 </SUBST>"]
    ENV.check_proof(chain(pts, good))
    with pytest.raises(ProofError, match=r"step 2.*cos\(x0\) \+ x0, but the proof claims 0"):
        ENV.check_proof(chain(pts, [good[0], "T||A|cos(A) <PREFIX_0>", good[2]]))
    with pytest.raises(ProofError, match="step 2.*gives"):
        ENV.check_proof(chain(pts, good[:2] + ["T||A|(A_-_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> x0 </SUBST>"]))
    with pytest.raises(ProofError, match="step 1: tactic .* fails"):
        ENV.check_proof(chain(pts, [good[0], "T||A|ln(A) <PREFIX_0>"]))
    # a proof whose claimed child is not what the tactic gives
    p = chain(pts, good)
    wrong_child = ProofNode(SRGoal(parse_infix("cos(x)"), pts), p.children[0].tactic, p.children[0].children)
    with pytest.raises(ProofError, match="step 0"):
        ENV.check_proof(ProofNode(p.goal, p.tactic, (wrong_child,)))


def test_env_factory_and_registry():
    env = make_env("sr", n_points=5)
    assert isinstance(env, SREnv) and env.cfg.n_points == 5
    with pytest.raises(ValueError, match="unknown option"):
        make_sr_env(n_pointz=3)
    assert ENV.tactic_from_tokens(ENV.tactic_tokens("T||A|sin(A) <PREFIX_0>")) == "T||A|sin(A) <PREFIX_0>"
    with pytest.raises(ValueError, match="unknown split"):
        make_sr_env().theorems("nope")
    with pytest.raises(ValueError, match="no theorem source"):  # a bare env: theorems come from make_env
        ENV.theorems("valid")


def test_subtrees_of_a_grown_goal_are_addressable():
    # after growing, every position of the new expression can be wrapped (positions are prefix offsets)
    g = goal("x * (x + 3)")
    n_ok = sum(ENV.apply(g, f"T||A|(-A) <PREFIX_{p}>").ok for p, _ in positions(g.expr))
    assert n_ok == len(list(positions(g.expr)))
    assert bin("mul", X, bin("add", X, Int(3))) == g.expr


def test_huge_substitutions_are_refused_not_recursed():
    deep = " ".join(["neg"] * 5000 + ["x0"])
    res = ENV.apply(goal("x"), f"T||A|(A_+_B) <PREFIX_0> <SUBST> EQ_VAR_B <SUBST_NAME> {deep} </SUBST>")
    assert res.error is not None and res.error.kind == TacticErrorKind.INVALID_CHILD

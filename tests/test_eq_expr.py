"""Expressions of the Equations env: tokens, positions, notation, numbers (spec section 1 and 6)."""

from __future__ import annotations

import math
import pickle
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.envs.equations.expr import (
    ExprParseError,
    Int,
    Node,
    Var,
    bin,
    cmp,
    evaluate,
    fold_constants,
    fraction,
    is_valid,
    parse_infix,
    parse_prefix,
    positions,
    prefix_len,
    replace_at,
    subtree_at,
    to_infix,
    to_pretty,
    un,
    variables,
)

REAL_UNARY = ["neg", "inv", "exp", "ln", "pow2", "sqrt", "abs", "cos", "sin", "tan", "cosh", "sinh", "tanh",
              "atan", "acos", "asin", "atanh", "acosh", "asinh"]
REAL_BINARY = ["add", "sub", "mul", "div"]

leaves = st.one_of(
    st.integers(-1000, 1000).map(Int),
    st.sampled_from(["x0", "x1", "x2", "x3", "x4"]).map(Var),
    st.just(parse_infix("PI")),
)
exprs = st.recursive(
    leaves,
    lambda sub: st.one_of(
        st.tuples(st.sampled_from(REAL_UNARY), sub).map(lambda t: un(*t)),
        st.tuples(st.sampled_from(REAL_BINARY), sub, sub).map(lambda t: bin(*t)),
    ),
    max_leaves=25,
)
statements = st.tuples(st.sampled_from(["==", "!=", "<=", "<"]), exprs, exprs).map(lambda t: cmp(*t))


def test_prefix_examples_of_the_spec() -> None:
    e = parse_infix("((exp(x0) + (-3)) * x0^-1) == sqrt(x0^2)")
    assert " ".join(e.prefix()) == "== mul add exp x0 - 3 inv x0 sqrt pow2 x0"
    assert parse_infix("x0 - 12").prefix() == "sub x0 + 1 2".split()
    assert parse_infix("-(12)").prefix() == "neg + 1 2".split()
    assert parse_infix("2/3").prefix() == "div + 2 + 3".split()
    assert parse_infix("x0^2 > sqrt(x1^-1)").prefix() == "< sqrt inv x1 pow2 x0".split()
    assert parse_infix("x0 >= 1").prefix() == "<= + 1 x0".split()
    assert [Int(v).prefix() for v in (7, -12, 0, 10)] == [["+", "7"], ["-", "1", "2"], ["+", "0"], ["+", "1", "0"]]
    assert prefix_len(Int(-12)) == 3


def test_positions_of_the_spec() -> None:
    g = parse_infix("ln(x0 * exp(x0)) = x0 + 1")
    assert g.prefix() == "== ln mul x0 exp x0 add x0 + 1".split()
    assert subtree_at(g, 1) == parse_infix("ln(x0 * exp(x0))")
    assert subtree_at(g, 2) == parse_infix("x0 * exp(x0)")
    assert subtree_at(g, 6) == parse_infix("x0 + 1")
    assert subtree_at(g, 8) == Int(1)
    assert subtree_at(g, 9) is None  # inside the digits of 1
    assert subtree_at(g, 10) is None and subtree_at(g, -1) is None
    with pytest.raises(IndexError):
        replace_at(g, 9, Var("x1"))


def test_parse_prefix_errors_and_legacy_digit() -> None:
    assert parse_prefix(["add", "x0", "3"]) == bin("add", Var("x0"), Int(3))
    for bad in (["add", "x0"], ["+"], ["x0", "x1"], ["foo"], [], ["sub", "-", "x0"]):
        with pytest.raises(ExprParseError):
            parse_prefix(bad)


def test_infix_notation() -> None:
    assert to_infix(parse_infix("exp(A + B)")) == "exp((A + B))"
    assert to_infix(parse_infix("1^2")) == "(1 ** 2)"
    assert to_infix(parse_infix("ln(A*B) = ln(A) + ln(B)")) == "(ln((A * B)) == (ln(A) + ln(B)))"
    assert parse_infix("x + y") == parse_infix("x0 + x1")
    assert parse_infix("(-1) * A").children[0] == Int(-1)
    assert parse_infix("-A").kind == "unary"
    assert parse_infix("x^3") == parse_infix("x^2 * x")
    assert parse_infix("x**4") == parse_infix("(x^2)^2")
    assert parse_infix("x ** 0.5") == parse_infix("sqrt(x)")
    assert parse_infix("|A + B| <= |A| + |B|") == cmp("<=", un("abs", bin("add", Var("A"), Var("B"))),
                                                       bin("add", un("abs", Var("A")), un("abs", Var("B"))))
    assert parse_infix("1 / A * (1 / B)").value == "mul"


@pytest.mark.parametrize("text,where", [("x0 +", 4), ("x0 + foo(1)", 5), ("(x0", 3), ("x0 # 1", 3),
                                        ("x0 = = 1", 5), ("3.5 + x", 0), ("ln x", 0)])
def test_infix_errors_give_the_position(text: str, where: int) -> None:
    with pytest.raises(ExprParseError, match=f"position {where}"):
        parse_infix(text)


@settings(max_examples=200, deadline=None)
@given(statements)
def test_token_round_trip(s: Node) -> None:
    assert parse_prefix(s.prefix()) == s
    assert len(s.prefix()) == prefix_len(s)


@settings(max_examples=200, deadline=None)
@given(statements)
def test_infix_round_trips(s: Node) -> None:
    assert parse_infix(to_infix(s)) == s
    assert parse_infix(to_pretty(s)) == s


@settings(max_examples=100, deadline=None)
@given(statements, st.data())
def test_positions_agree_with_tokens(s: Node, data: st.DataObject) -> None:
    toks = s.prefix()
    all_pos = list(positions(s))
    assert [p for p, _ in all_pos] == sorted(p for p, _ in all_pos)
    pos, sub = data.draw(st.sampled_from(all_pos))
    assert subtree_at(s, pos) is sub
    assert toks[pos:pos + sub.size] == sub.prefix()
    new = replace_at(s, pos, Var("x9"))
    assert new.prefix() == toks[:pos] + ["x9"] + toks[pos + sub.size:]


def test_structural_equality_hash_and_pickle() -> None:
    a, b = parse_infix("x0 + 1 = 2"), parse_infix("x0 + 1 = 2")
    assert a == b and hash(a) == hash(b) and a is not b
    assert parse_infix("1 + x0") != parse_infix("x0 + 1")
    assert Int(1) != Var("x1")
    assert pickle.loads(pickle.dumps(a)) == a
    assert variables(parse_infix("x0 * A + x3")) == {"x0", "A", "x3"}


def test_evaluate() -> None:
    assert evaluate(parse_infix("ln(x) + cos(PI)"), {"x0": math.e}) == pytest.approx(0.0)
    for text in ("1 / (x - x)", "ln(-x)", "sqrt(-1 - x^2)", "exp(exp(exp(x)))", "x3", "acos(2 + x^2)"):
        assert math.isnan(evaluate(parse_infix(text), {"x0": 5.0}))


def test_exact_folding() -> None:
    assert fold_constants(parse_infix("x * (2 + 3)")) == parse_infix("x * 5")
    assert fold_constants(parse_infix("(1 + 1) / 3 + 2^2")) == parse_infix("2 / 3 + 4")
    assert fraction(parse_infix("1/2 - 1/3")) == Fraction(1, 6)
    assert fraction(parse_infix("sqrt(4)")) is None and fraction(parse_infix("1 / 0")) is None
    # 10 groups of 10 factors: a flat product of 100 would nest past MAX_DEPTH
    tiny = parse_infix("1 / (" + " * ".join(["(" + " * ".join(["10"] * 10) + ")"] * 10) + ")")
    assert fold_constants(tiny) == bin("div", Int(1), Int(10**100))  # 1/10^100 is not the integer 0
    huge = Int(2)
    for _ in range(20):
        huge = un("pow2", huge)  # 2^(2^20) is too big to fold exactly: only its small inner part folds
    assert fraction(huge) is None and prefix_len(fold_constants(huge)) < 200


def test_validity() -> None:
    assert is_valid(parse_infix("ln(x - x) = 1"))  # variables are not domain-checked
    for bad in ("1 / (2 - 2) = x", "ln(1 - 1) = x", "ln(-3) = x", "x / (1/2 - 1/2) = 1", "sqrt(-2) = x",
                "(2 - 2)^-1 = x", "tan(PI / 2) < x", "acos(3) = x"):
        assert not is_valid(parse_infix(bad)), bad
    assert is_valid(parse_infix("x / (1/2 - 1/3) = ln(1/2)"))
    nested = Node("binary", "add", (parse_infix("x = 1"), Int(1)))
    assert not is_valid(cmp("==", nested, Int(1)))


def test_folding_leaves_no_reference_cycle() -> None:
    """Folding memoises its result on each node; a node it leaves unchanged must not point to itself, or every
    expression a prover builds is garbage only a full collection frees (a quarter of a prover's time)."""
    import gc

    gc.collect()
    gc.disable()
    try:
        for text in ("x * (2 + 3)", "exp(x0 - x1) * y", "(1 + 1) / 3 + 2^2", "x0 + x1 * (x2 - x0)"):
            expr = parse_infix(text)
            assert fold_constants(fold_constants(expr)) == fold_constants(expr)
            del expr
        assert gc.collect() == 0
    finally:
        gc.enable()

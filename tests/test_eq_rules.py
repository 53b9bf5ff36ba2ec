"""The rule library of the Equations env: counts, names, matching, application, numerical soundness."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import TacticErrorKind
from hyperprover.envs.equations.expr import Int, Node, Var, evaluate, holds, parse_infix, variables
from hyperprover.envs.equations.library import DATASETS, default_rules, find_rule, rule_by_name, rules_for_dataset
from hyperprover.envs.equations.rules import Rule, RuleError, find_matches, match, transform

GRID = [-math.pi, -2.1, -math.pi / 2, -math.pi / 4, -1.3, -0.4, 0.0, 0.3924, 0.6364, 1.0, 1.1313, math.pi / 4,
        math.pi / 2, 1.81, 2.12, math.pi]


def kind3(r: Rule) -> str:
    return "A" if r.kind == "A" else ("T_C" if r.is_cmp else "T_E")


def test_library_counts() -> None:
    rules = default_rules()
    assert len(rules) == 242
    assert Counter(kind3(r) for r in rules) == {"T_E": 77, "T_C": 48, "A": 117}
    expected = {"eq_dataset_basic": (119, 26, 23, 70), "eq_dataset_exp_trigo": (211, 58, 43, 110),
                "eq_dataset_exp_trigo_hyper": (219, 61, 48, 110), "eq_dataset_all": (231, 73, 48, 110)}
    for name, (n, te, tc, a) in expected.items():
        c = Counter(kind3(r) for r in rules_for_dataset(name))
        assert (len(rules_for_dataset(name)), c["T_E"], c["T_C"], c["A"]) == (n, te, tc, a), name
    assert "eq_dataset_exp_trigo_hyper_50_nobi" in DATASETS


@pytest.mark.parametrize("name", [
    "T||A|B||(A_==_B)", "T||(1_**_2)|1", "T||exp((A_+_B))|(exp(A)_*_exp(B))",
    "T||ln((A_*_B))|(ln(A)_+_ln(B))||(0_<_A)|(0_<_B)", "T||(0_<_A)|(0_<=_A)||(A_!=_0)", "A||(0_<_exp(A))",
    "A||(A_==_B)||(A_<=_B)|(B_<=_A)", "A||((A_+_C)_<_(B_+_D))||(A_<=_B)|(C_<_D)",
    "T||((A_/_B)_==_C)|(A_==_(B_*_C))||(B_!=_0)", "T||((A_+_C)_==_(B_+_C))|(A_==_B)",
    "T||((A_*_C)_==_(B_*_C))|(A_==_B)||(C_!=_0)",
])
def test_rule_names_of_the_spec(name: str) -> None:
    assert rule_by_name(name).name == name


def test_unknown_rule_name() -> None:
    with pytest.raises(KeyError, match="unknown rule"):
        rule_by_name("T||A|C")


def test_matching() -> None:
    p = parse_infix("A + A")
    assert match(p, parse_infix("x0 * 2 + x0 * 2")) == {"A": parse_infix("x0 * 2")}
    assert match(p, parse_infix("x0 + x1")) is None
    assert match(parse_infix("A + 0"), parse_infix("0 + x0")) is None  # no AC
    assert match(parse_infix("A + 0"), parse_infix("x0 + (1 - 1)")) is None  # no arithmetic
    assert match(Var("A"), parse_infix("x0 = 1")) is None  # a variable never binds a comparison
    assert match(Var("a"), Int(-3)) == {"a": Int(-3)} and match(Var("a"), Var("x0")) is None  # int-typed
    assert match(parse_infix("A = B"), parse_infix("x0 + 1")) is None
    assert match(parse_infix("sqrt(A^2)"), parse_infix("sqrt((x0 - 1)^2)")) == {"A": parse_infix("x0 - 1")}


def test_transform_and_to_fill() -> None:
    stmt = parse_infix("x0 * (x1 + x2) = 0")
    dist = find_rule("(A + B) * C  <->  A * C + B * C")
    comm = find_rule("A * B  <->  B * A")
    app = transform(comm, stmt, True, 1)
    assert app.to_fill == frozenset() and app.fill({})[0] == parse_infix("(x1 + x2) * x0 = 0")
    new, _ = app.fill({})
    assert new is not None
    back = transform(dist, new, True, 1).fill({})[0]
    assert back == parse_infix("x1 * x0 + x2 * x0 = 0")
    sub = find_rule("A - A  <->  0")
    app = transform(sub, stmt, False, 6)  # 0 -> A - A needs A
    assert app.to_fill == {"A"}
    assert app.fill({"A": Var("x3")})[0] == parse_infix("x0 * (x1 + x2) = x3 - x3")
    with pytest.raises(RuleError) as e:
        app.fill({})
    assert e.value.kind is TacticErrorKind.BAD_SUBSTITUTION and "missing substitution for A" in e.value.message
    with pytest.raises(RuleError) as e:
        app.fill({"A": Var("x3"), "B": Var("x1")})
    assert e.value.kind is TacticErrorKind.BAD_SUBSTITUTION
    with pytest.raises(RuleError) as e:
        transform(sub, stmt, True, 1)
    assert e.value.kind is TacticErrorKind.NO_MATCH
    trans = rule_by_name("A||(A_<_C)||(A_<_B)|(B_<=_C)")
    assert trans.fill_fwd == {"B"}
    div = find_rule("A / A  <->  1  if A != 0")
    new, hyps = transform(div, parse_infix("x0 / x0 = 1"), True, 1).fill({})
    assert new == parse_infix("1 = 1") and hyps == (parse_infix("x0 != 0"),)


def test_arith_rules_compute_and_check_literals() -> None:
    add, mul, frac, neg = default_rules()[-4:]
    assert (add.arith, mul.arith, frac.arith, neg.arith) == ("add", "mul", "frac", "neg")
    stmt = parse_infix("x0 = 3 + 4")
    assert transform(add, stmt, True, 2).fill({})[0] == parse_infix("x0 = 7")
    back = transform(add, parse_infix("x0 = 7"), False, 2)
    assert back.to_fill == {"b"} and back.fill({"b": Int(-2)})[0] == parse_infix("x0 = 9 + (-2)")
    assert transform(mul, parse_infix("x0 = 12"), False, 2).fill({"a": Int(3)})[0] == parse_infix("x0 = 3 * 4")
    with pytest.raises(RuleError):
        transform(mul, parse_infix("x0 = 12"), False, 2).fill({"a": Int(5)})
    with pytest.raises(RuleError):
        transform(add, parse_infix("x0 = 7"), False, 2).fill({"b": Var("x1")})
    ok = transform(frac, parse_infix("x0 = 2 / 4"), True, 2).fill({"c": Int(1), "d": Int(2)})[0]
    assert ok == parse_infix("x0 = 1 / 2")
    with pytest.raises(RuleError):
        transform(frac, parse_infix("x0 = 2 / 4"), True, 2).fill({"c": Int(1), "d": Int(3)})
    assert transform(neg, parse_infix("x0 = -(5)"), True, 2).fill({})[0] == parse_infix("x0 = -5")
    assert transform(neg, parse_infix("x0 = -5"), False, 2).fill({})[0] == parse_infix("x0 = -(5)")


# ---------------------------------------------------------------- numerical soundness of the whole library


def _draw_values(rng: random.Random, names: frozenset[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in sorted(names):
        if n in ("a", "b", "c", "d", "e", "f", "-a"):
            out[n] = float(rng.randint(-10, 10))
        else:  # mostly grid values so that equalities between variables happen often
            out[n] = rng.choice(GRID) if rng.random() < 0.8 else rng.uniform(-3, 3)
    return out


def _rule_holds_at(rule: Rule, vals: dict[str, float]) -> bool | None:
    """None: point not usable (a hypothesis fails or something is undefined / too close to call)."""
    for h in rule.hyps:
        if holds(h, vals) is not True:
            return None
    if rule.kind == "A":
        return holds(rule.left, vals)
    assert rule.right is not None
    if rule.is_cmp:
        a, b = holds(rule.left, vals), holds(rule.right, vals)
        return None if a is None or b is None else a == b
    x, y = evaluate(rule.left, vals), evaluate(rule.right, vals)
    if math.isnan(x) or math.isnan(y):
        return None
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


@pytest.mark.parametrize("rule", [r for r in default_rules() if r.arith is None], ids=lambda r: r.name)
def test_every_rule_is_numerically_sound(rule: Rule) -> None:
    rng = random.Random(rule.name)
    names = variables(rule.left) | (variables(rule.right) if rule.right is not None else frozenset())
    for h in rule.hyps:
        names |= variables(h)
    tested = 0
    for _ in range(600):
        vals = _draw_values(rng, names)
        ok = _rule_holds_at(rule, vals)
        if ok is None:
            continue
        tested += 1
        assert ok, f"{rule.name} fails at {vals}"
        if tested >= 60:
            break
    assert tested >= 1, f"{rule.name}: no point of its domain was tested"


# ---------------------------------------------------------------- rewriting forward then backward

T_RULES = [r for r in rules_for_dataset("eq_dataset_all") if r.kind == "T"]
REAL_UNARY = ["neg", "inv", "exp", "ln", "pow2", "sqrt", "abs", "cos", "sin", "tan", "cosh", "sinh", "tanh"]
leaves = st.one_of(st.integers(-5, 5).map(Int), st.sampled_from(["x0", "x1", "x2"]).map(Var))
exprs = st.recursive(leaves, lambda sub: st.one_of(
    st.tuples(st.sampled_from(REAL_UNARY), sub).map(lambda t: Node("unary", t[0], (t[1],))),
    st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), sub, sub).map(lambda t: Node("binary", t[0], t[1:])),
), max_leaves=12)
stmts = st.tuples(st.sampled_from(["==", "!=", "<=", "<"]), exprs, exprs).map(lambda t: Node("cmp", t[0], t[1:]))


@settings(max_examples=300, deadline=None)
@given(stmts, st.sampled_from(T_RULES), st.booleans(), st.data())
def test_forward_then_backward_gives_back_the_statement(stmt: Node, rule: Rule, fwd: bool,
                                                        data: st.DataObject) -> None:
    apps = list(find_matches(rule, stmt, fwd))
    assume(apps)
    app = data.draw(st.sampled_from(apps))
    fill = {v: data.draw(exprs) for v in sorted(app.to_fill)}
    new, _ = app.fill(fill)
    assert new is not None
    back = transform(rule, new, not fwd, app.pos)  # same position: a rewrite never moves tokens before it
    full = {**app.binding, **fill}
    again, _ = back.fill({v: full[v] for v in back.to_fill})
    assert again == stmt


@pytest.mark.parametrize("text", ["A^2  <->  A", "sqrt(A^2)  <->  A", "A - B = C  <->  A = C - B",
                                  "0 < A * B  if 0 <= A, 0 < B", "cos(A + B)  <->  cos(A) * cos(B) + sin(A) * sin(B)"])
def test_the_soundness_check_rejects_wrong_rules(text: str) -> None:
    from hyperprover.envs.equations.library import parse_rule

    rule = parse_rule(text)
    rng = random.Random(0)
    names = frozenset().union(*(variables(n) for n in (rule.left, *rule.hyps))) | (
        variables(rule.right) if rule.right is not None else frozenset())
    verdicts = [_rule_holds_at(rule, _draw_values(rng, names)) for _ in range(600)]
    assert False in verdicts

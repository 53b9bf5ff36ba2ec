"""The Equations env: goals, tactic text, appendix C traces, typed errors, trivial truth, proof checking."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import GoalParseError, ProofError, ProofNode, TacticErrorKind, make_env
from hyperprover.envs.equations.env import EqGoal, EquationsEnv, assert_tactic, transform_tactic
from hyperprover.envs.equations.expr import Int, Node, Var, evaluate, holds, parse_infix, parse_prefix
from hyperprover.envs.equations.library import find_rule, rule_by_name
from hyperprover.envs.equations.rules import Application, Rule, RuleError, assertion, find_matches

ENV = EquationsEnv()
AB1 = "<TRANFORM_RULE> T||A|B||(A_==_B) <RULE_FORWARD> <PREFIX_1> <SUBST> EQ_VAR_B <SUBST_NAME> "
COMM = "<TRANFORM_RULE> T||(A_+_B)|(B_+_A) <RULE_FORWARD> <PREFIX_1>"
LN_MUL = "<TRANFORM_RULE> T||ln((A_*_B))|(ln(A)_+_ln(B))||(0_<_A)|(0_<_B) <RULE_FORWARD> <PREFIX_6>"


def goal(text: str) -> EqGoal:
    return ENV.parse_goal(text)


def toks(g: object) -> str:
    return " ".join(ENV.goal_tokens(g))


def test_registry_and_goal_tokens() -> None:
    env = make_env("eq")
    g = env.parse_goal("ln(x0) + ln(x1) = ln(x0 * x1)  given x0 > 0, 0 < x1")
    assert " ".join(env.goal_tokens(g)) == ("<GOAL> == add ln x0 ln x1 ln mul x0 x1 <HYP> < + 0 x0 </HYP> "
                                           "<HYP> < + 0 x1 </HYP> </GOAL>")
    assert env.parse_goal(" ".join(env.goal_tokens(g))) == g
    assert env.parse_goal(env.goal_text(g)) == g
    assert g.key == "< + 0 x0|||< + 0 x1|||== add ln x0 ln x1 ln mul x0 x1"
    assert goal("x = y given 0 < y, 0 < x") == goal("x = y; 0 < x; 0 < y")  # hypotheses are sorted


@pytest.mark.parametrize("text,fragment", [
    ("x0 + 1", "not a comparison"), ("A = x0", "goal variables"), ("x0 = 1 / (2 - 2)", "invalid"),
    ("x0 = 1 given x0 +", "position 17"), ("ln(x0 = 1", "position"), ("x0 = 1 given 0 < ln(-1)", "invalid"),
])
def test_bad_goals_are_one_line_errors(text: str, fragment: str) -> None:
    with pytest.raises(GoalParseError, match=fragment):
        ENV.parse_goal(text)


def test_appendix_c1_traces() -> None:
    g = goal("ln(x0) + ln(x1) = ln(x0 * x1) given 0 < x0, 0 < x1")
    assert ENV.apply(g, LN_MUL).closes
    r = ENV.apply(goal("ln(x0) + ln(x1) = ln(x0 * x1)"), LN_MUL)
    assert [toks(c) for c in r.children] == ["<GOAL> < + 0 x0 </GOAL>", "<GOAL> < + 0 x1 </GOAL>"]
    g = goal("exp(x0) * exp(x1) = exp(x0 + x1)")
    assert ENV.apply(g, "<TRANFORM_RULE> T||exp((A_+_B))|(exp(A)_*_exp(B)) <RULE_FORWARD> <PREFIX_6>").closes
    bad = ENV.apply(g, "<TRANFORM_RULE> T||exp((A_+_B))|(exp(A)_*_exp(B)) <RULE_FORWARD> <PREFIX_5>")
    assert bad.error is not None and bad.error.kind is TacticErrorKind.NO_MATCH
    r = ENV.apply(g, "<ASSERT_RULE> A||(A_==_B)||(B_==_A)")
    assert r.children == (goal("exp(x0 + x1) = exp(x0) * exp(x1)"),)
    assert ENV.apply(goal("0 < exp(x0)"), "<ASSERT_RULE> A||(0_<_exp(A))").closes
    assert ENV.apply(goal("x0 + 1 < x0 + 2"), "<ASSERT_RULE> A||((A_+_C)_<_(B_+_D))||(A_<=_B)|(C_<_D)").closes
    r = ENV.apply(goal("x0 / 2 = x1"),
                  "<TRANFORM_RULE> T||((A_/_B)_==_C)|(A_==_(B_*_C))||(B_!=_0) <RULE_FORWARD> <PREFIX_0>")
    assert r.children == (goal("x0 = 2 * x1"),)


C2_FINAL = ("== mul add add tan + 1 0 sin + 0 add mul + 4 mul x4 x4 sub x2 - 5 + 1 0 mul add div sub + 7 - 3 "
            "mul + 7 x0 add mul + 4 mul x4 x4 sub x2 - 5 + 1 0")


def test_appendix_c2_random_walk_replayed() -> None:
    e0 = parse_infix("(7 - (-3)) / (7 * x0) = tan(10)")
    c4 = parse_infix("4 * (x4 * x4) + (x2 - (-5))")
    steps = [("A + 0  <->  A", 11, {}), ("sin(0)  <->  0", 16, {}), ("A = B  <->  B = A", 0, {}),
             ("A + C = B + C  <->  A = B", 0, {"C": c4}), ("A * C = B * C  <->  A = B  if C != 0", 0, {"C": Int(10)})]
    stmts, tactics = [e0], []
    cur = EqGoal(e0, (e0,))
    for text, pos, subst in steps:  # walk: each step applied backward, like the generator
        rule = find_rule(text)
        r = ENV.apply(cur, transform_tactic(rule, False, pos, subst))
        assert r.ok and len(r.children) == 1, r.error
        cur = r.children[0]  # type: ignore[assignment]
        stmts.append(cur.conclusion)
        tactics.append(transform_tactic(rule, True, pos, {}))  # the proof goes the other way
    assert " ".join(cur.conclusion.prefix()) == C2_FINAL
    assert tactics[-1] == "<TRANFORM_RULE> T||((A_*_C)_==_(B_*_C))|(A_==_B)||(C_!=_0) <RULE_FORWARD> <PREFIX_0>"
    chain = [EqGoal(s, (e0,)) for s in stmts]
    proof = ProofNode(chain[1], tactics[0])  # its child would be e0, a hypothesis: closed
    for i in range(2, 6):
        proof = ProofNode(chain[i], tactics[i - 1], (proof,))
    ENV.check_proof(proof)
    assert proof.size() == 5
    broken = ProofNode(chain[5], tactics[4], (ProofNode(chain[4], tactics[2], proof.children[0].children),))
    with pytest.raises(ProofError, match="step 2"):
        ENV.check_proof(broken)


def test_appendix_c3_substitution() -> None:
    u, v = "sqrt(sqrt(exp(x2))^-1)", "sqrt(sqrt(exp(x2)^-1))"
    r_ = "(cos(x2) + x2 * exp(1))"
    g = goal(f"sin(|{u}|) + {r_} = sin(|{v}|) + {r_}")
    t = AB1.replace("PREFIX_1", "PREFIX_19") + "sqrt sqrt inv exp x2 </SUBST>"
    r = ENV.apply(g, t)
    assert r.children == (goal(f"sin(|{u}|) + {r_} = sin({v}) + {r_}"), goal(f"|{v}| = {v}"))
    assert t == transform_tactic(rule_by_name("T||A|B||(A_==_B)"), True, 19, {"B": parse_infix(v)})


@pytest.mark.parametrize("goal_text,tactic,kind,fragment", [
    ("x0 = x1", "<TRANFORM_RULE> T||A|C <RULE_FORWARD> <PREFIX_1>", "unknown_rule", "unknown"),
    ("x0 = x1", "<TRANFORM_RULE> T||atan(tan(A))|A||(abs(A)_<_(PI_/_2)) <RULE_FORWARD> <PREFIX_1>",
     "unknown_rule", "disabled"),
    ("x0 = x1", "<ASSERT_RULE> T||A|B||(A_==_B)", "malformed", "does not go"),
    ("x0 = x1", "<TRANFORM_RULE> T||A|B||(A_==_B) <RULE_FORWARD>", "malformed", "direction"),
    ("x0 = x1", "<TRANFORM_RULE> T||A|B||(A_==_B) <RULE_FORWARD> <PREFIX_x>", "malformed", "position"),
    ("x0 = x1", "", "malformed", "empty"),
    ("x0 = x1 + 1", "<TRANFORM_RULE> T||(A_+_0)|A <RULE_FORWARD> <PREFIX_2>", "no_match", "does not match"),
    ("x0 = x1 + 1", "<TRANFORM_RULE> T||(A_+_B)|(B_+_A) <RULE_FORWARD> <PREFIX_5>", "no_match", "no subterm"),
    ("x0 = x1", "<TRANFORM_RULE> T||A|B||(A_==_B) <RULE_FORWARD> <PREFIX_1>", "bad_substitution", "missing"),
    ("x0 = x1", COMM.replace("FORWARD", "BACKWARD") + " <SUBST> EQ_VAR_A <SUBST_NAME> x1 </SUBST>",
     "no_match", ""),
    ("x0 + x1 = x1", COMM + " <SUBST> EQ_VAR_A <SUBST_NAME> x1 </SUBST>",
     "bad_substitution", "unexpected"),
    ("x0 = x1", AB1 + "add x1 </SUBST>",
     "bad_substitution", "does not parse"),
    ("x0 = x1", AB1 + "== x1 x1 </SUBST>",
     "bad_substitution", "comparison"),
    ("x0 = x1", AB1 + "C </SUBST>",
     "bad_substitution", "rule variables"),
    ("x0 = x1", AB1 + "div x1 + 0 </SUBST>",
     "bad_substitution", "invalid"),
    ("x0 = x1", AB1 + "x2 </SUBST> "
     "<SUBST> EQ_VAR_B <SUBST_NAME> x2 </SUBST>", "bad_substitution", "substituted twice"),
    ("x0 = 0 * x1", "<TRANFORM_RULE> T||((A_/_B)_==_C)|(A_==_(B_*_C))||(B_!=_0) <RULE_BACKWARD> <PREFIX_0>",
     "invalid_child", "undefined"),
    ("x0 = -1", "<TRANFORM_RULE> T||(ln(A)_==_ln(B))|(A_==_B)||(0_<_A)|(0_<_B) <RULE_BACKWARD> <PREFIX_0>",
     "invalid_child", "ln"),
    ("x0 + 1 = x1", AB1.replace("PREFIX_1", "PREFIX_3") + "+ 2 </SUBST>",
     "invalid_child", "always false"),
    ("x0 = x1", "<ASSERT_RULE> A||(A_<_C)||(A_<_B)|(B_<=_C)", "no_match", ""),
    ("x0 < x1", "<ASSERT_RULE> A||(A_<_C)||(A_<_B)|(B_<=_C)", "bad_substitution", "missing substitution for B"),
])
def test_typed_errors(goal_text: str, tactic: str, kind: str, fragment: str) -> None:
    r = ENV.apply(goal(goal_text), tactic)
    assert r.error is not None, r
    assert r.error.kind.value == kind and fragment in r.error.message, r.error


def test_trivial_truth_is_exact_and_fixes_the_original_bugs() -> None:
    ev = ENV.checker.eval_assert
    cases = {"x0 <= x0": True, "x0 < x0": False, "x0 != x0": False, "0 != 0": False, "exp(x0) > 0": True,
             "exp(x0) <= 0": False, "2 + 3 = 5": True, "1/3 = 0": False, "(x0 + 1) - (x0 + 1) = 0": None,
             "x0 * (2 + 3) = x0 * 5": True, "1/2 - 1/3 = 1/6": True, "sqrt(2) > 0": None, "cos(PI / 2) = 0": None,
             "1 / (" + "10 * " * 40 + "10) = 0": False, "x0 = x1": None, "0 <= x0^2": True}
    for text, want in cases.items():
        assert ev(parse_infix(text)) is want, text


def test_hypothesis_closes_and_root_needs_a_tactic() -> None:
    g = goal("x0 = x1 given x1 = x0")
    r = ENV.apply(g, "<TRANFORM_RULE> T||(A_==_B)|(B_==_A) <RULE_FORWARD> <PREFIX_0>")
    assert r.closes
    assert ENV.apply(goal("x0 = x0"), "<ASSERT_RULE> A||(A_==_A)").closes
    assert ENV.apply(goal("x0 = x0"), "<COMMAND> <ASSERT_RULE> A||(A_==_A) </COMMAND>").closes
    assert ENV.tactic_from_tokens(["<COMMAND>", "<ASSERT_RULE>", "A||(A_==_A)", "</COMMAND>"]) == \
        "<ASSERT_RULE> A||(A_==_A)"


def test_check_proof_rejects_wrong_children_and_bad_steps() -> None:
    g = goal("ln(x0) + ln(x1) = ln(x0 * x1)")
    kids = ENV.apply(g, LN_MUL).children
    leaf = "<TRANFORM_RULE> T||(0_<_A)|(0_<=_A)||(A_!=_0) <RULE_FORWARD> <PREFIX_0>"
    with pytest.raises(ProofError, match="children do not match"):
        ENV.check_proof(ProofNode(g, LN_MUL, ()))
    with pytest.raises(ProofError, match="step 2"):
        ENV.check_proof(ProofNode(g, LN_MUL, tuple(ProofNode(k, "<ASSERT_RULE> A||(A_==_A)") for k in kids)))
    with pytest.raises(ProofError, match="children do not match"):
        ENV.check_proof(ProofNode(g, LN_MUL, tuple(ProofNode(k, leaf) for k in kids)))  # leaves left open


def test_assert_tactic_builder_and_theorems_split_error() -> None:
    rule = rule_by_name("A||(A_<_C)||(A_<_B)|(B_<=_C)")
    t = assert_tactic(rule, {"B": parse_infix("x0 + 1")})
    assert t == "<ASSERT_RULE> A||(A_<_C)||(A_<_B)|(B_<=_C) <SUBST> EQ_VAR_B <SUBST_NAME> add x0 + 1 </SUBST>"
    r = ENV.apply(goal("x0 < x0 + 2"), t)
    assert r.children == (goal("x0 < x0 + 1"), goal("x0 + 1 <= x0 + 2"))
    with pytest.raises(ValueError, match="unknown equations split"):
        make_env("eq").theorems("train")
    with pytest.raises(ValueError, match="no theorem source"):  # a bare env: theorems come from make_env
        ENV.theorems("identities")


# ---------------------------------------------------------------- tactics never lose truth (property test)

UNARY = ["neg", "inv", "exp", "ln", "pow2", "sqrt", "abs", "cos", "sin", "tan", "cosh", "sinh", "tanh"]
VARS = ["x0", "x1", "x2"]
leaves = st.one_of(st.integers(-4, 4).map(Int), st.sampled_from(VARS).map(Var))
exprs = st.recursive(leaves, lambda sub: st.one_of(
    st.tuples(st.sampled_from(UNARY), sub).map(lambda t: Node("unary", t[0], (t[1],))),
    st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), sub, sub).map(lambda t: Node("binary", t[0], t[1:])),
), max_leaves=8)
stmts = st.tuples(st.sampled_from(["==", "!=", "<=", "<"]), exprs, exprs).map(lambda t: Node("cmp", t[0], t[1:]))
RULES = list(ENV.rules)


def _tame(node: Node, vals: dict[str, float]) -> bool:
    """No huge intermediate value (cancellation would make float comparisons meaningless), and no tanh of an
    argument past 8, where it is 1 within the 1e-9 that `holds` allows (tanh(11.8) == tanh(12.9) holds,
    11.8 == 12.9 does not)."""
    for c in _subtrees(node):
        v = evaluate(c, vals)
        if math.isnan(v):
            continue
        if abs(v) >= 1e4 or (c.kind == "unary" and c.value == "tanh" and abs(evaluate(c.children[0], vals)) > 8):
            return False
    return True


def _subtrees(node: Node) -> list[Node]:
    out = [node] if node.kind != "cmp" else []
    for c in node.children:
        out += _subtrees(c)
    return out


def _candidates(stmt: Node) -> list[tuple[Rule, bool, Application]]:
    out: list[tuple[Rule, bool, Application]] = []
    for rule in RULES:
        if rule.kind == "T":
            out += [(rule, fwd, app) for fwd in (True, False) for app in find_matches(rule, stmt, fwd)]
        else:
            try:
                out.append((rule, True, assertion(rule, stmt)))
            except RuleError:
                pass
    return out


@settings(max_examples=150, deadline=None)
@given(stmts, st.data())
def test_tactics_never_turn_a_true_goal_false(stmt: Node, data: st.DataObject) -> None:
    g = ENV.make_goal(stmt)
    cands = _candidates(stmt)
    assume(cands)
    rule, fwd, app = data.draw(st.sampled_from(cands))
    fill = {v: data.draw(exprs) for v in sorted(app.to_fill)}
    tactic = transform_tactic(rule, fwd, app.pos, fill) if rule.kind == "T" else assert_tactic(rule, fill)
    res = ENV.apply(g, tactic)
    assume(res.ok)
    for c in res.children:  # keys built by splicing the parent's text agree with a full walk
        assert c.conclusion.prefix_str() == " ".join(c.conclusion.prefix())  # type: ignore[attr-defined]
    _, side = app.fill(fill)
    rng = random.Random(tactic)
    for _ in range(30):
        vals = {v: rng.uniform(-3, 3) for v in VARS}
        nodes = [stmt, *side, *(c.conclusion for c in res.children)]  # type: ignore[attr-defined]
        if not all(_tame(n, vals) for n in nodes):
            continue
        truth_goal = holds(stmt, vals)
        kid_truths = [holds(c.conclusion, vals) for c in res.children]  # type: ignore[attr-defined]
        side_truths = [holds(h, vals) for h in side]
        # soundness: where every child holds, the goal holds ("false" needs a clear margin: floats
        # saturate, e.g. tanh(13.6) and tanh(11.8) differ by 1e-10)
        if all(t is True for t in kid_truths + side_truths):
            assert holds(stmt, vals, tol=1e-14) is not False, f"{tactic}: children hold at {vals}, not the goal"
        # a rewrite keeps truth where its side conditions hold: the rewritten child is not false
        if rule.kind == "T" and truth_goal is True and all(t is True for t in side_truths) and res.children:
            main = res.children[0].conclusion  # type: ignore[attr-defined]
            if main not in side:
                assert holds(main, vals, tol=1e-14) is not False, f"{tactic}: goal true, child false at {vals}"


def test_prefix_tokens_of_children_parse_back() -> None:
    g = goal("x0 * (x1 + x2) == x0*x1 + x0*x2")
    r = ENV.apply(g, transform_tactic(find_rule("(A + B) * C  <->  A * C + B * C"), True, 1, {}))
    assert r.error is not None  # x0 * (x1 + x2) is not of the form (A + B) * C
    r = ENV.apply(g, transform_tactic(find_rule("A * B  <->  B * A"), True, 1, {}))
    assert r.ok
    (child,) = r.children
    assert parse_prefix(child.conclusion.prefix()) == child.conclusion  # type: ignore[attr-defined]


def test_substitution_blocks_read_as_in_symbolic_regression() -> None:
    """Equations and SymbolicRegression tactics end in the same substitution blocks, read by one parser: a block
    left open is malformed in both, a value that does not parse is a bad substitution in both."""
    from hyperprover.envs.base import TacticErrorKind, make_env

    eq, sr = make_env("eq"), make_env("sr")
    goal = eq.parse_goal("x0 == x0 + 0")
    rule = "<TRANFORM_RULE> T||((A_+_C)_==_(B_+_C))|(A_==_B) <RULE_BACKWARD> <PREFIX_0>"
    sr_goal = sr.theorems("valid")[0].goal
    for tail, kind in (("<SUBST> EQ_VAR_C <SUBST_NAME> x0", TacticErrorKind.MALFORMED),
                       ("<SUBST> EQ_VAR_C <SUBST_NAME> + </SUBST>", TacticErrorKind.BAD_SUBSTITUTION)):
        assert eq.apply(goal, f"{rule} {tail}").error.kind == kind
        assert sr.apply(sr_goal, f"T||A|(A_+_B) <PREFIX_0> {tail.replace('EQ_VAR_C', 'EQ_VAR_B')}").error.kind == kind

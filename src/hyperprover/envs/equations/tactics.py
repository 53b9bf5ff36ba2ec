"""Backward tactics (docs/equations.md section 3): their token format, the trivial-truth checker and their application.

Tactic text is the docs/equations.md 3.1 token sequence joined by single spaces, without `<COMMAND>` wrappers:
  `<TRANFORM_RULE> <rule-name> <RULE_FORWARD>|<RULE_BACKWARD> <PREFIX_p> [<SUBST> EQ_VAR_v <SUBST_NAME> .. </SUBST>]*`
  `<ASSERT_RULE> <rule-name> [<SUBST> ...]*`
Departures from the original, on purpose (docs/equations.md section 8): a missing substitution is an error (never a
random fill), an extra one too; `X != X` is false; integer folding is exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hyperprover.envs.base import TacticErrorKind
from hyperprover.envs.equations.infix import to_pretty
from hyperprover.envs.equations.node import (
    MAX_DEPTH,
    Node,
    seed_prefix_str,
    subtree_at,
    variables,
)
from hyperprover.envs.equations.numeric import fold_constants, fraction, invalid_reason, is_valid
from hyperprover.envs.equations.rules import (
    SUBST,
    SUBST_END,
    SUBST_NAME,
    VAR_PREFIX,
    Rule,
    RuleError,
    assertion,
    match,
    parse_substitutions,
    transform,
)

TRANSFORM = "<TRANFORM_RULE>"  # sic: the original vocabulary's spelling
ASSERT = "<ASSERT_RULE>"
FORWARD, BACKWARD = "<RULE_FORWARD>", "<RULE_BACKWARD>"
_POS = re.compile(r"<PREFIX_(\d+)>\Z")
_GOAL_VAR = re.compile(r"x\d+\Z")


@dataclass(frozen=True, slots=True)
class Tactic:
    rule: Rule
    forward: bool  # transformations only
    pos: int  # transformations only
    subst: tuple[tuple[str, Node], ...]  # sorted by variable name

    @property
    def text(self) -> str:
        return " ".join(tactic_tokens(self))


def tactic_tokens(t: Tactic) -> list[str]:
    if t.rule.kind == "T":
        out = [TRANSFORM, t.rule.name, FORWARD if t.forward else BACKWARD, f"<PREFIX_{t.pos}>"]
    else:
        out = [ASSERT, t.rule.name]
    for name, value in t.subst:
        out += [SUBST, VAR_PREFIX + name, SUBST_NAME, *value.prefix(), SUBST_END]
    return out


def _sorted_subst(subst: Mapping[str, Node] | None) -> tuple[tuple[str, Node], ...]:
    return tuple(sorted((subst or {}).items()))


def transform_tactic(rule: Rule, forward: bool, pos: int, subst: Mapping[str, Node] | None = None) -> str:
    if rule.kind != "T":
        raise ValueError(f"{rule.name} is not a transformation rule")
    return Tactic(rule, forward, pos, _sorted_subst(subst)).text


def assert_tactic(rule: Rule, subst: Mapping[str, Node] | None = None) -> str:
    if rule.kind != "A":
        raise ValueError(f"{rule.name} is not an assertion rule")
    return Tactic(rule, True, 0, _sorted_subst(subst)).text


def parse_tactic(tokens: Sequence[str], rules: Mapping[str, Rule]) -> Tactic:
    """Read tactic tokens (optionally inside `<COMMAND> .. </COMMAND>`); raises RuleError with the reason."""
    toks = list(tokens)
    if toks[:1] == ["<COMMAND>"] and toks[-1:] == ["</COMMAND>"]:
        toks = toks[1:-1]
    if len(toks) < 2:
        raise RuleError(TacticErrorKind.MALFORMED, "empty or too short tactic")
    kind, name = toks[0], toks[1]
    if kind not in (TRANSFORM, ASSERT, "<TRANSFORM_RULE>"):
        raise RuleError(TacticErrorKind.MALFORMED, f"unknown tactic kind {kind!r} (expected {TRANSFORM} or {ASSERT})")
    rule = rules.get(name)
    if rule is None:
        raise RuleError(TacticErrorKind.UNKNOWN_RULE, f"unknown or disabled rule {name!r}")
    if (rule.kind == "T") != (kind != ASSERT):
        raise RuleError(TacticErrorKind.MALFORMED, f"rule {name} does not go with {kind}")
    forward, pos, i = True, 0, 2
    if rule.kind == "T":
        if len(toks) < 4:
            raise RuleError(TacticErrorKind.MALFORMED, "transformation tactic needs a direction and a position")
        if toks[2] not in (FORWARD, BACKWARD):
            raise RuleError(TacticErrorKind.MALFORMED, f"expected {FORWARD} or {BACKWARD}, got {toks[2]!r}")
        forward = toks[2] == FORWARD
        m = _POS.match(toks[3])
        if m is None:
            raise RuleError(TacticErrorKind.MALFORMED, f"expected a <PREFIX_p> position token, got {toks[3]!r}")
        pos, i = int(m.group(1)), 4
    subst = parse_substitutions(toks, i)
    for var, value in subst.items():
        check_value(var, value)
    return Tactic(rule, forward, pos, _sorted_subst(subst))


def check_value(var: str, value: Node) -> None:
    """A substitution value must be a valid goal expression (goal variables x0.. only, no comparison)."""
    if value.kind == "cmp":
        raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"value of {var} is a comparison")
    bad = sorted(v for v in variables(value) if not _GOAL_VAR.match(v))
    if bad:
        raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"value of {var} uses rule variables {', '.join(bad)}")
    if not is_valid(value):
        raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"value of {var} is invalid: {invalid_reason(value)}")


# ---------------------------------------------------------------- trivially true / false (docs/equations.md 6.3)

_NEGATE = {"==": "!=", "!=": "==", "<": "<=", "<=": "<"}


def negate(stmt: Node) -> Node:
    """The comparison that holds exactly when `stmt` does not (`a < b` -> `b <= a`)."""
    a, b = stmt.children
    op: str = stmt.value  # type: ignore[assignment]
    if op in ("==", "!="):
        return Node("cmp", _NEGATE[op], (a, b))
    return Node("cmp", _NEGATE[op], (b, a))


_Key = tuple[str, object] | None
_Index = dict[str, list[tuple[_Key, _Key, Node]]]  # comparison op -> (left root, right root, pattern)


def _root_key(n: Node) -> _Key:
    return None if n.kind == "var" else (n.kind, n.value)


class TrivialChecker:
    """`eval_assert`: decides the obviously true / false comparisons with exact arithmetic only."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        # hypothesis-free assertion rules, indexed by comparison operator with their side roots; a rule
        # C matches negate(s) exactly when negate(C) matches s, so the refuting patterns are stored negated
        self.proving: _Index = {}
        self.refuting: _Index = {}
        for r in rules:
            if r.kind == "A" and not r.hyps and r.left.value in _NEGATE:
                for index, pat in ((self.proving, r.left), (self.refuting, negate(r.left))):
                    a, b = pat.children
                    index.setdefault(pat.value, []).append((_root_key(a), _root_key(b), pat))  # type: ignore[arg-type]

    @staticmethod
    def _matches(index: _Index, stmt: Node) -> bool:
        a, b = stmt.children
        for ka, kb, pattern in index.get(stmt.value, ()):  # type: ignore[arg-type]
            if ka is not None and ka != (a.kind, a.value):
                continue
            if kb is not None and kb != (b.kind, b.value):
                continue
            if match(pattern, stmt) is not None:
                return True
        return False

    def eval_assert(self, stmt: Node) -> bool | None:
        op = stmt.value
        if op == "∣":
            return None
        a, b = stmt.children
        fa, fb = fold_constants(a), fold_constants(b)
        if fa == fb:
            return op in ("==", "<=")  # identical sides: `x != x` and `x < x` are false
        if self._matches(self.proving, stmt):
            return True
        if self._matches(self.refuting, stmt):
            return False
        qa, qb = fraction(fa), fraction(fb)
        if qa is None or qb is None:
            return None
        return {"==": qa == qb, "!=": qa != qb, "<=": qa <= qb, "<": qa < qb}[op]  # type: ignore[index]


# ---------------------------------------------------------------- application (docs/equations.md 3.2)


def apply_tactic(t: Tactic, concl: Node, hyps: frozenset[Node], checker: TrivialChecker,
                 max_tokens: int = 0) -> list[Node]:
    """The subgoals left by `t` on the goal (concl, hyps); [] = closed. Raises RuleError when invalid.

    Every candidate subgoal (rewritten goal, then side conditions) must be valid; one that is a
    hypothesis or trivially true is dropped; one that is trivially false makes the tactic invalid.
    """
    if t.rule.kind == "T":
        app = transform(t.rule, concl, t.forward, t.pos)
    else:
        app = assertion(t.rule, concl)
    new, side = app.fill(dict(t.subst))
    if new is not None and t.pos:  # the child's key is the parent's with one span replaced
        old_sub, new_sub = subtree_at(concl, t.pos), subtree_at(new, t.pos)
        if old_sub is not None and new_sub is not None:
            seed_prefix_str(concl, new, t.pos, old_sub, new_sub)
    cands = (new, *side) if new is not None else side
    kept: list[Node] = []
    for g in cands:
        if g.height > MAX_DEPTH:  # first: the checks below recurse through the tree
            raise RuleError(TacticErrorKind.INVALID_CHILD, f"subgoal would nest {g.height} levels > {MAX_DEPTH}, "
                            "the limit of expressions")
        if not is_valid(g):
            raise RuleError(TacticErrorKind.INVALID_CHILD, f"subgoal {to_pretty(g)} is invalid: {invalid_reason(g)}")
        if max_tokens and g.size > max_tokens:
            raise RuleError(TacticErrorKind.INVALID_CHILD, f"subgoal has {g.size} tokens (limit {max_tokens})")
        if g in hyps or g in kept:
            continue
        truth = checker.eval_assert(g)
        if truth is True:
            continue
        if truth is False:
            raise RuleError(TacticErrorKind.INVALID_CHILD, f"subgoal {to_pretty(g)} is always false")
        kept.append(g)
    return kept

"""Rules of the Equations environment: records, names, pattern matching, application (docs/equations.md section 2).

A transformation rule `L <-> R if H` rewrites one subterm (T_E) or the whole comparison (T_C, position
0 only) in either direction; an assertion rule `C if H` reduces a goal matching C to the goals H.
Applying a rule gives an `Application`: the match, and the variables the caller must still supply
(`to_fill`); `Application.fill(subst)` builds the new statement and the instantiated side conditions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from hyperprover.envs.base import TacticErrorKind
from hyperprover.envs.equations.node import (
    INT_VARS,
    ExprParseError,
    Int,
    Node,
    ops,
    parse_prefix,
    positions,
    replace_at,
    substitute,
    subtree_at,
    to_infix,
    variables,
)


class RuleError(Exception):
    """A rule does not apply (no match) or was given a wrong substitution; `kind` says which."""

    def __init__(self, kind: TacticErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# the substitution blocks that end an Equations or SymbolicRegression tactic
SUBST, SUBST_NAME, SUBST_END = "<SUBST>", "<SUBST_NAME>", "</SUBST>"
VAR_PREFIX = "EQ_VAR_"


def parse_substitutions(tokens: Sequence[str], start: int) -> dict[str, Node]:
    """The blocks `<SUBST> EQ_VAR_v <SUBST_NAME> <value in prefix tokens> </SUBST>` of `tokens[start:]`, as
    variable -> value; anything else there raises RuleError (MALFORMED for a stray token or a block left open,
    BAD_SUBSTITUTION for a block that is ill-formed, repeated or whose value does not parse)."""
    subst: dict[str, Node] = {}
    i = start
    while i < len(tokens):
        if tokens[i] != SUBST:
            raise RuleError(TacticErrorKind.MALFORMED, f"unexpected token {tokens[i]!r} at {i}, expected {SUBST}")
        try:
            end = tokens.index(SUBST_END, i)
        except ValueError:
            raise RuleError(TacticErrorKind.MALFORMED,
                            f"substitution opened at token {i} is not closed by {SUBST_END}") from None
        block = tokens[i + 1:end]
        if len(block) < 3 or not block[0].startswith(VAR_PREFIX) or block[1] != SUBST_NAME:
            raise RuleError(TacticErrorKind.BAD_SUBSTITUTION,
                            f"substitution at token {i} is not `{SUBST} EQ_VAR_v {SUBST_NAME} <value> {SUBST_END}`")
        name = block[0][len(VAR_PREFIX):]
        if name in subst:
            raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"variable {name} is substituted twice")
        try:
            subst[name] = parse_prefix(block[2:])
        except ExprParseError as e:
            raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"value of {name} does not parse: {e}") from None
        i = end + 1
    return subst


@dataclass(frozen=True, slots=True)
class Rule:
    """`kind` "T": `left <-> right if hyps`; kind "A": `left if hyps` (left is the conclusion)."""

    name: str
    kind: str
    left: Node
    right: Node | None
    hyps: tuple[Node, ...]
    rule_type: str
    fill_fwd: frozenset[str]  # variables to supply when applied forward (or as an assertion)
    fill_bwd: frozenset[str]
    ops: frozenset[str]  # operators of the sides / conclusion (the dataset filter looks only at these)
    arith: str | None = None  # "add" | "mul" | "frac" | "neg": integer-literal rules (docs/equations.md 2.6)

    @property
    def is_cmp(self) -> bool:
        """A T_C rule: its sides are comparisons, so it only applies at position 0."""
        return self.kind == "T" and self.left.kind == "cmp"

    @property
    def conclusion(self) -> Node:
        return self.left

    def sides(self, forward: bool) -> tuple[Node, Node]:
        assert self.right is not None, "assertion rules have no sides"
        return (self.left, self.right) if forward else (self.right, self.left)

    def to_fill(self, forward: bool = True) -> frozenset[str]:
        return self.fill_fwd if forward else self.fill_bwd


def _name_part(node: Node) -> str:
    return to_infix(node).replace(" ", "_")


def rule_name(kind: str, left: Node, right: Node | None, hyps: tuple[Node, ...]) -> str:
    """`T||<L>|<R>[||<H1>|...]` or `A||<C>[||<H1>|...]` with the spec-format infix, spaces as `_`."""
    parts = [kind, _name_part(left)] if right is None else [kind, _name_part(left) + "|" + _name_part(right)]
    if hyps:
        parts.append("|".join(_name_part(h) for h in hyps))
    return "||".join(parts)


# which int variable an arith rule computes instead of asking for it, per direction
_ARITH_DERIVED = {("add", True): "c", ("add", False): "a", ("mul", True): "c", ("mul", False): "b",
                  ("neg", True): "-a", ("neg", False): "a"}


def make_rule(kind: str, left: Node, right: Node | None, hyps: tuple[Node, ...], rule_type: str,
              arith: str | None = None) -> Rule:
    hv = frozenset().union(*(variables(h) for h in hyps))
    if kind == "A":
        if right is not None:
            raise ValueError("an assertion rule has a conclusion only")
        fwd = hv - variables(left)
        bwd = fwd
        rule_ops = ops(left)
    elif kind == "T":
        if right is None or (left.kind == "cmp") != (right.kind == "cmp"):
            raise ValueError("a transformation rule needs two sides of the same sort")
        lv, rv = variables(left), variables(right)
        fwd, bwd = (rv | hv) - lv, (lv | hv) - rv
        if arith is not None:
            fwd = fwd - {_ARITH_DERIVED.get((arith, True), "")}
            bwd = bwd - {_ARITH_DERIVED.get((arith, False), "")}
        rule_ops = ops(left) | ops(right)
    else:
        raise ValueError(f"rule kind must be 'T' or 'A', not {kind!r}")
    return Rule(rule_name(kind, left, right, hyps), kind, left, right, hyps, rule_type, fwd, bwd, rule_ops, arith)


# ---------------------------------------------------------------- matching


def match(pattern: Node, expr: Node) -> dict[str, Node] | None:
    """Bind the pattern's variables so that it equals `expr` (docs/equations.md 2.1), or None.

    A variable binds any non-comparison subtree (int-typed ones only integer literals) and the same
    variable must bind equal subtrees; everything else must agree node for node (no AC, no arithmetic).
    """
    if expr.size < pattern.size:
        return None
    b: dict[str, Node] = {}
    return b if _match(pattern, expr, b) else None


def _match(p: Node, e: Node, b: dict[str, Node]) -> bool:
    if p.kind == "var":
        if e.kind == "cmp":
            return False
        name: str = p.value  # type: ignore[assignment]
        if name in INT_VARS and e.kind != "int":
            return False
        prev = b.get(name)
        if prev is None:
            b[name] = e
            return True
        return prev == e
    if p.kind != e.kind or p.value != e.value:
        return False
    if not p.has_var:
        return p == e
    for pc, ec in zip(p.children, e.children):
        if not _match(pc, ec, b):
            return False
    return True


def could_match(pattern: Node, expr: Node) -> bool:
    """Cheap root test before `match` (used to scan every position of a statement)."""
    if pattern.kind == "var":
        return expr.kind != "cmp"
    return pattern.kind == expr.kind and pattern.value == expr.value and expr.size >= pattern.size


# ---------------------------------------------------------------- application


@dataclass(frozen=True, slots=True)
class Application:
    """A rule matched in a statement; `fill` supplies `to_fill` and builds the results."""

    rule: Rule
    forward: bool
    stmt: Node
    pos: int
    binding: Mapping[str, Node]  # from the match
    to_fill: frozenset[str]

    def fill(self, subst: Mapping[str, Node] | None = None) -> tuple[Node | None, tuple[Node, ...]]:
        """(new statement, instantiated side conditions); the statement is None for an assertion.

        `subst` must give exactly the variables of `to_fill` (None: leave them symbolic). A missing or
        extra variable, a comparison as a value, or a non-integer for an int variable is a RuleError.
        """
        rule = self.rule
        binding: dict[str, Node] = dict(self.binding)
        if subst is not None:
            keys = frozenset(subst)
            if keys != self.to_fill:
                missing, extra = sorted(self.to_fill - keys), sorted(keys - self.to_fill)
                msg = []
                if missing:
                    msg.append(f"missing substitution for {', '.join(missing)}")
                if extra:
                    msg.append(f"unexpected substitution for {', '.join(extra)} (the rule binds or lacks it)")
                raise RuleError(TacticErrorKind.BAD_SUBSTITUTION,
                                "; ".join(msg) + f" (needs exactly {{{', '.join(sorted(self.to_fill))}}})")
            for k, v in subst.items():
                if v.kind == "cmp":
                    raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"value of {k} is a comparison")
                if k in INT_VARS and v.kind != "int":
                    raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"{k} takes an integer literal")
                binding[k] = v
            if rule.arith is not None:
                _arith_complete(rule.arith, self.forward, binding)
        if rule.kind == "A":
            return None, tuple(substitute(h, binding) for h in rule.hyps)
        _, tgt = rule.sides(self.forward)
        new = replace_at(self.stmt, self.pos, substitute(tgt, binding))
        return new, tuple(substitute(h, binding) for h in rule.hyps)


def transform(rule: Rule, stmt: Node, forward: bool, pos: int) -> Application:
    """Match the source side of `rule` at prefix position `pos` of `stmt` (raises RuleError NO_MATCH)."""
    if rule.kind != "T":
        raise RuleError(TacticErrorKind.MALFORMED, f"{rule.name} is an assertion rule, not a transformation")
    src, _ = rule.sides(forward)
    sub = subtree_at(stmt, pos)
    if sub is None:
        raise RuleError(TacticErrorKind.NO_MATCH,
                        f"position {pos} starts no subterm (statement has {stmt.size} tokens; digits do not count)")
    m = match(src, sub)
    if m is None:
        side = "left" if forward else "right"
        raise RuleError(TacticErrorKind.NO_MATCH, f"the {side} side of the rule does not match at position {pos}")
    fill = rule.fill_fwd if forward else rule.fill_bwd
    if rule.arith is not None:
        try:
            _arith_complete(rule.arith, forward, m)
        except RuleError:
            pass  # the derived value needs the caller's substitution first
    return Application(rule, forward, stmt, pos, m, fill)


def assertion(rule: Rule, stmt: Node) -> Application:
    """Match an assertion rule against the whole statement (raises RuleError NO_MATCH)."""
    if rule.kind != "A":
        raise RuleError(TacticErrorKind.MALFORMED, f"{rule.name} is a transformation rule, not an assertion")
    m = match(rule.left, stmt)
    if m is None:
        raise RuleError(TacticErrorKind.NO_MATCH, "the rule's conclusion does not match the goal")
    return Application(rule, True, stmt, 0, m, rule.fill_fwd)


def find_matches(rule: Rule, stmt: Node, forward: bool = True) -> Iterator[Application]:
    """Every position where a transformation rule's source side matches (T_C rules: the root only)."""
    src, _ = rule.sides(forward)
    cands = [(0, stmt)] if src.kind == "cmp" else positions(stmt)
    fill = rule.fill_fwd if forward else rule.fill_bwd
    for pos, sub in cands:
        if could_match(src, sub):
            m = match(src, sub)
            if m is not None:
                yield Application(rule, forward, stmt, pos, m, fill)


# ---------------------------------------------------------------- integer-literal (arith) rules


def _ival(binding: Mapping[str, Node], k: str) -> int | None:
    n = binding.get(k)
    return n.value if n is not None and n.kind == "int" else None  # type: ignore[return-value]


def _arith_complete(tag: str, forward: bool, binding: dict[str, Node]) -> None:
    """Compute the derived literal of an arith rule and check the arithmetic (RuleError if it fails)."""
    a, b, c, na = (_ival(binding, k) for k in ("a", "b", "c", "-a"))
    derived = _ARITH_DERIVED.get((tag, forward))
    if derived == "c" and a is not None and b is not None:
        binding["c"] = Int(a + b if tag == "add" else a * b)
    elif tag == "add" and derived == "a" and c is not None and b is not None:
        binding["a"] = Int(c - b)
    elif tag == "mul" and derived == "b" and a is not None and c is not None:
        if a == 0 or c % a:
            raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"{a} does not divide {c}")
        binding["b"] = Int(c // a)
    elif derived == "-a" and a is not None:
        binding["-a"] = Int(-a)
    elif tag == "neg" and derived == "a" and na is not None:
        binding["a"] = Int(-na)
    a, b, c, d, na = (_ival(binding, k) for k in ("a", "b", "c", "d", "-a"))
    if tag == "add":
        ok = a is not None and b is not None and c is not None and a + b == c
    elif tag == "mul":
        ok = a is not None and b is not None and c is not None and a * b == c
    elif tag == "frac":
        ok = a is not None and b is not None and c is not None and d is not None and b != 0 and d != 0 \
            and a * d == b * c
    elif tag == "neg":
        ok = a is not None and na is not None and na == -a
    else:
        raise ValueError(f"unknown arith rule {tag!r}")
    if not ok:
        raise RuleError(TacticErrorKind.BAD_SUBSTITUTION, f"the integer literals do not satisfy the {tag} rule")

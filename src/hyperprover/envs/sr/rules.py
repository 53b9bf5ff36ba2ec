"""The 18 SymbolicRegression rules, the tactic text format, and applying / undoing a rule (docs/equations.md 7).

Rules are always applied forward: 13 wrap rules `A -> op(A)`, 4 grow rules `A -> A op B` (B given by the
tactic) and the start rule `0 -> A` (A given). Names follow the Equations naming (docs/equations.md 2.4), e.g.
`T||A|sin(A)`, `T||A|(A_+_B)`, `T||0|A`. A tactic is the text

    <rule-name> <PREFIX_p> [<SUBST> EQ_VAR_<v> <SUBST_NAME> <prefix tokens of the value> </SUBST>]

whose substitution set must be exactly the rule's right-only variables (B for grow, A for start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hyperprover.envs.base import TacticError, TacticErrorKind
from hyperprover.envs.equations.expr import (
    Int,
    Node,
    Var,
    bin,
    positions,
    replace_at,
    substitute,
    subtree_at,
    to_infix,
    un,
    variables,
)
from hyperprover.envs.equations.rules import (
    SUBST,
    SUBST_END,
    SUBST_NAME,
    VAR_PREFIX,
    RuleError,
    match,
    parse_substitutions,
    rule_name,
)
from hyperprover.envs.sr.config import SR_BINARY, SR_UNARY
from hyperprover.envs.sr.numeric import VAR, has_cmp

MAX_POS = 4095  # position tokens <PREFIX_0>..<PREFIX_4095> (docs/equations.md 1.6)
_A, _B = Var("A"), Var("B")


@dataclass(frozen=True)
class SRRule:
    """`left -> right`; `kind` is wrap, grow or start; `fill` are the right-only variables a tactic gives."""

    name: str
    kind: str
    op: str
    left: Node
    right: Node
    fill: tuple[str, ...]


def _rule(kind: str, op: str, left: Node, right: Node) -> SRRule:
    name = rule_name("T", left, right, ())
    fill = tuple(sorted(variables(right) - variables(left)))
    return SRRule(name, kind, op, left, right, fill)


RULES: tuple[SRRule, ...] = (
    *(_rule("wrap", op, _A, un(op, _A)) for op in SR_UNARY),
    *(_rule("grow", op, _A, bin(op, _A, _B)) for op in SR_BINARY),
    _rule("start", "", Int(0), _A),
)
RULE_BY_NAME: dict[str, SRRule] = {r.name: r for r in RULES}
WRAP_RULE: dict[str, SRRule] = {r.op: r for r in RULES if r.kind == "wrap"}
GROW_RULE: dict[str, SRRule] = {r.op: r for r in RULES if r.kind == "grow"}
START_RULE: SRRule = RULES[-1]


@dataclass(frozen=True)
class SRTactic:
    rule: SRRule
    pos: int
    subst: tuple[tuple[str, Node], ...] = ()  # sorted by variable name

    @property
    def text(self) -> str:
        return tactic_text(self.rule, self.pos, dict(self.subst))


def tactic_text(rule: SRRule, pos: int, subst: Mapping[str, Node] | None = None) -> str:
    """The canonical text of a tactic (tokens joined by single spaces, substitutions sorted by name)."""
    toks = [rule.name, f"<PREFIX_{pos}>"]
    for v in sorted(subst or {}):
        toks += [SUBST, VAR_PREFIX + v, SUBST_NAME, *(subst or {})[v].prefix(), SUBST_END]
    return " ".join(toks)


def _err(kind: TacticErrorKind, msg: str) -> TacticError:
    return TacticError(kind, msg)


def parse_tactic(tokens: Sequence[str]) -> SRTactic | TacticError:
    """Parse tactic tokens; every way to be wrong is a typed error naming the problem."""
    if len(tokens) < 2:
        return _err(TacticErrorKind.MALFORMED, "a tactic is `<rule-name> <PREFIX_p> [<SUBST> ...]`, got "
                    f"{len(tokens)} token(s)")
    rule = RULE_BY_NAME.get(tokens[0])
    if rule is None:
        return _err(TacticErrorKind.UNKNOWN_RULE, f"{tokens[0]!r} is not one of the {len(RULES)} SR rules")
    ptok = tokens[1]
    if not (ptok.startswith("<PREFIX_") and ptok.endswith(">") and ptok[8:-1].isdigit()):
        return _err(TacticErrorKind.MALFORMED, f"second token {ptok!r} is not a position token <PREFIX_p>")
    pos = int(ptok[8:-1])
    try:
        subst = parse_substitutions(tokens, 2)
    except RuleError as e:
        return _err(e.kind, e.message)
    for name, value in subst.items():
        extra = variables(value) - {VAR}
        if has_cmp(value) or extra:
            return _err(TacticErrorKind.BAD_SUBSTITUTION, f"value of {name} must be an expression of x0 only"
                        + (f" (it uses {', '.join(sorted(extra))})" if extra else ""))
    if tuple(sorted(subst)) != rule.fill:
        want, got = ", ".join(rule.fill) or "none", ", ".join(sorted(subst)) or "none"
        return _err(TacticErrorKind.BAD_SUBSTITUTION, f"rule {rule.name} needs substitutions for exactly: {want}; "
                    f"got {got}")
    return SRTactic(rule, pos, tuple(sorted(subst.items())))


def apply_tactic(expr: Node, tactic: SRTactic) -> Node | TacticError:
    """Rewrite the subterm at the tactic's position by the rule (no evaluation here)."""
    sub = subtree_at(expr, tactic.pos)
    if sub is None:
        return _err(TacticErrorKind.NO_MATCH, f"position {tactic.pos} does not start a subterm of the "
                    f"{expr.size}-token expression")
    rule = tactic.rule
    binding = match(rule.left, sub)
    if binding is None:
        return _err(TacticErrorKind.NO_MATCH, f"{rule.name} does not match {to_infix(sub)} at position {tactic.pos}")
    binding.update(tactic.subst)
    return replace_at(expr, tactic.pos, substitute(rule.right, binding))


@dataclass(frozen=True)
class Undo:
    """One backward step: `before` is the expression with one rule undone; `tactic` applied to it redoes it."""

    before: Node
    tactic: SRTactic


def undo_moves(expr: Node, unary: Sequence[str] = SR_UNARY, binary: Sequence[str] = SR_BINARY) -> list[Undo]:
    """Every way to undo one rule inside `expr`: op(A) -> A for wraps, A op B -> A for grows."""
    out: list[Undo] = []
    for pos, sub in positions(expr):
        # only the rule whose operator heads `sub` can have a right side matching it
        rule = (WRAP_RULE.get(sub.value) if sub.kind == "unary" and sub.value in unary  # type: ignore[arg-type]
                else GROW_RULE.get(sub.value) if sub.kind == "binary" and sub.value in binary  # type: ignore[arg-type]
                else None)
        binding = match(rule.right, sub) if rule is not None else None
        if rule is None or binding is None:
            continue
        before = replace_at(expr, pos, substitute(rule.left, binding))
        out.append(Undo(before, SRTactic(rule, pos, tuple((v, binding[v]) for v in rule.fill))))
    return out


def start_tactic(leaf: Node) -> SRTactic:
    """`0 -> leaf` at position 0: the first step of every proof."""
    return SRTactic(START_RULE, 0, (("A", leaf),))

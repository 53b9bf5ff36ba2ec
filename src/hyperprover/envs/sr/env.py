"""The SymbolicRegression backward environment (docs/equations.md 7): find f(x0) matching targets at sample points.

A goal is the current expression f with the point set; its values f(x_i) are computed when the goal is
built and must be finite. A tactic rewrites f (see rules.py) and gives one child goal, or none when the
new values match the targets (np.isclose, rtol 1e-5, atol 1e-8). Proofs are chains from f = 0.
Goal tokens: `<GOAL> prefix(f)` then per point `<SUBST> float(x) float(y) float(f(x))`, then `</GOAL>`.
The theorems of a split come from a theorem source given to the env: the generator and the benchmark are
built on this module, so it does not import them; `make_env` in splits.py (the env registry's factory)
gives the env `splits.theorems`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hyperprover.envs.base import (
    Goal,
    GoalParseError,
    KeyedGoal,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
)
from hyperprover.envs.equations.expr import (
    MAX_DEPTH,
    ExprParseError,
    Int,
    Node,
    parse_infix,
    parse_prefix,
    to_pretty,
    variables,
)
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.floats import FloatTokenError, decode_float, encode_float
from hyperprover.envs.sr.numeric import (
    VAR,
    PointSet,
    all_finite,
    evaluate_points,
    first_undefined,
    has_cmp,
    values_match,
)
from hyperprover.envs.sr.rules import SUBST, apply_tactic, parse_tactic

TheoremSource = Callable[[str, SRConfig], list[Theorem]]  # (split, config) -> the split's theorems
GOAL_OPEN, GOAL_CLOSE = "<GOAL>", "</GOAL>"


@dataclass(frozen=True, eq=False)
class SRGoal(KeyedGoal):
    """Current expression `expr` (of x0) and the point set; `values` are computed here, and must be finite."""

    expr: Node
    points: PointSet
    values: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if has_cmp(self.expr):
            raise ValueError("SR goal: the expression may not contain a comparison")
        extra = variables(self.expr) - {VAR}
        if extra:
            raise ValueError(f"SR goal: the expression may only use x0, not {', '.join(sorted(extra))}")
        values = evaluate_points(self.expr, self.points)
        if not all_finite(values):
            x = first_undefined(values, self.points)
            raise ValueError(f"SR goal: {to_pretty(self.expr)} is undefined at x0 = {x!r}")
        object.__setattr__(self, "values", values)

    @cached_property
    def key(self) -> str:
        return f"{self.expr.prefix_str()} @{self.points.digest}"

    @property
    def solved(self) -> bool:
        return values_match(self.values, self.points.y)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SRGoal, (self.expr, self.points))


ZERO = Int(0)


def start_goal(points: PointSet) -> SRGoal:
    """The theorem of a point set: f = 0."""
    return SRGoal(ZERO, points)


class SREnv:
    """BackwardEnv of symbolic regression; `cfg` sets point sampling, expression size cap and generation."""

    name = "sr"

    def __init__(self, cfg: SRConfig | None = None, theorem_source: TheoremSource | None = None) -> None:
        self.cfg = cfg or SRConfig()
        self.theorem_source = theorem_source

    # ------------------------------------------------------------ tactics

    def apply(self, goal: Goal, tactic: str) -> TacticResult:
        t0 = time.perf_counter()
        result = self._apply(goal, tactic)
        dt = time.perf_counter() - t0
        if isinstance(result, TacticError):
            return TacticResult(tactic, error=result, duration_s=dt)
        return TacticResult(tactic, children=result, duration_s=dt)

    def _apply(self, goal: Goal, tactic: str) -> tuple[SRGoal, ...] | TacticError:
        if not isinstance(goal, SRGoal):
            return TacticError(TacticErrorKind.OTHER, f"the sr env cannot apply tactics to {type(goal).__name__}")
        tokens = self.tactic_tokens(tactic)
        if len(tokens) > self.cfg.max_expr_len + 8:  # the value alone would exceed the cap (and deep trees recurse)
            return TacticError(TacticErrorKind.INVALID_CHILD, f"the tactic has {len(tokens)} tokens; values are "
                               f"capped by max_expr_len={self.cfg.max_expr_len}")
        parsed = parse_tactic(tokens)
        if isinstance(parsed, TacticError):
            return parsed
        new = apply_tactic(goal.expr, parsed)
        if isinstance(new, TacticError):
            return new
        if new.size > self.cfg.max_expr_len:
            return TacticError(TacticErrorKind.INVALID_CHILD, f"the new expression has {new.size} tokens, more "
                               f"than max_expr_len={self.cfg.max_expr_len}")
        if new.height > MAX_DEPTH:  # before evaluating it: evaluation recurses through the tree
            return TacticError(TacticErrorKind.INVALID_CHILD, f"the new expression nests {new.height} levels, more "
                               f"than {MAX_DEPTH}, the limit of expressions")
        values = evaluate_points(new, goal.points)
        if not all_finite(values):
            x = first_undefined(values, goal.points)
            return TacticError(TacticErrorKind.INVALID_CHILD, f"{to_pretty(new)} is undefined at x0 = {x!r}")
        if values_match(values, goal.points.y):
            return ()
        return (SRGoal(new, goal.points),)

    def tactic_tokens(self, tactic: str) -> list[str]:
        return tactic.split()

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    # ------------------------------------------------------------ goals

    def goal_tokens(self, goal: Goal) -> list[str]:
        assert isinstance(goal, SRGoal), f"the sr env cannot tokenize {type(goal).__name__}"
        toks = [GOAL_OPEN, *goal.expr.prefix()]
        for xy, v in zip(goal.points.xy_tokens, goal.values.tolist()):
            toks.append(SUBST)
            toks += xy
            toks += encode_float(v)
        toks.append(GOAL_CLOSE)
        return toks

    def goal_text(self, goal: Goal) -> str:
        assert isinstance(goal, SRGoal), f"the sr env cannot print {type(goal).__name__}"
        p = goal.points
        return (f"f(x0) = {to_pretty(goal.expr)}  fitting {p.n} points, x0 in [{min(p.xs):.4g}, {max(p.xs):.4g}], "
                f"y in [{min(p.ys):.4g}, {max(p.ys):.4g}]")

    def parse_goal(self, text: str) -> SRGoal:
        """Three forms: goal tokens `<GOAL> ... </GOAL>` (floats at 4 digits); a JSON object with
        `target` (infix) or `xs` + `ys`, and optional `expr` (infix, default 0); or a plain infix target
        such as `x*sin(x) + 1`, sampled at the configured points (undefined points dropped)."""
        s = text.strip()
        try:
            if s.startswith(GOAL_OPEN):
                return self._goal_from_tokens(s.split())
            if s.startswith("{"):
                return self._goal_from_json(s)
            return start_goal(self._points_of(parse_infix(s)))
        except (ExprParseError, FloatTokenError, ValueError, TypeError, KeyError) as e:
            if isinstance(e, GoalParseError):
                raise
            raise GoalParseError(f"sr goal: {e}") from None

    def _points_of(self, target: Node, xs: Sequence[float] | None = None) -> PointSet:
        if xs is None:
            xs = np.linspace(self.cfg.x_min, self.cfg.x_max, self.cfg.n_points).tolist()
        return PointSet.from_target(target, xs)

    def _goal_from_json(self, s: str) -> SRGoal:
        obj = json.loads(s)
        if not isinstance(obj, dict):
            raise ValueError("a JSON goal is an object with target or xs + ys")
        expr = parse_infix(obj["expr"]) if "expr" in obj else ZERO
        if "ys" in obj:
            return SRGoal(expr, PointSet(tuple(obj["xs"]), tuple(obj["ys"])))
        if "target" not in obj:
            raise ValueError("a JSON goal needs `target` (infix) or `xs` and `ys`")
        return SRGoal(expr, self._points_of(parse_infix(obj["target"]), obj.get("xs")))

    def _goal_from_tokens(self, toks: list[str]) -> SRGoal:
        if toks[-1] != GOAL_CLOSE:
            raise ValueError(f"goal tokens must end with {GOAL_CLOSE}")
        body = toks[1:-1]
        cut = body.index(SUBST) if SUBST in body else len(body)
        expr = parse_prefix(body[:cut])
        xs: list[float] = []
        ys: list[float] = []
        i = cut
        while i < len(body):
            if body[i] != SUBST:
                raise ValueError(f"expected {SUBST} at goal token {i + 1}, got {body[i]!r}")
            x, i = decode_float(body, i + 1)
            y, i = decode_float(body, i)
            _, i = decode_float(body, i)  # f(x) is recomputed, never trusted
            xs.append(x)
            ys.append(y)
        return SRGoal(expr, PointSet(tuple(xs), tuple(ys)))

    # ------------------------------------------------------------ theorems and proofs

    def theorems(self, split: str) -> list[Theorem]:
        if self.theorem_source is None:
            raise ValueError(f"sr split {split!r}: this env has no theorem source; build it with make_env "
                             "(hyperprover.envs.sr.splits)")
        return self.theorem_source(split, self.cfg)

    def check_proof(self, proof: ProofNode) -> None:
        """Replay the chain (or tree) from scratch: goal values are recomputed, every tactic re-applied, and
        the children must be exactly the goals the tactic produces."""
        stack: list[ProofNode] = [proof]
        step = -1
        while stack:
            node = stack.pop()
            step += 1  # pre-order index: for a chain, the number of tactics before this one
            goal = node.goal
            if not isinstance(goal, SRGoal):
                raise ProofError(f"step {step}: goal is a {type(goal).__name__}, not an SR goal")
            try:
                fresh = SRGoal(goal.expr, goal.points)
            except ValueError as e:
                raise ProofError(f"step {step}: goal {to_pretty(goal.expr)} is not a valid SR goal: {e}") from None
            res = self.apply(fresh, node.tactic)
            if res.error is not None:
                raise ProofError(f"step {step}: tactic {node.tactic!r} fails on f(x0) = {to_pretty(goal.expr)}: "
                                 f"{res.error}")
            got = [c.key for c in res.children]
            claimed = [c.goal.key for c in node.children]
            if got != claimed:
                what = "closes the goal" if not got else "gives " + ", ".join(
                    to_pretty(c.expr) for c in res.children if isinstance(c, SRGoal))
                raise ProofError(f"step {step}: tactic {node.tactic!r} on f(x0) = {to_pretty(goal.expr)} {what}, "
                                 f"but the proof claims {len(claimed)} other child goal(s)")
            stack.extend(reversed(node.children))

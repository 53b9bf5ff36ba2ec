"""The tactics whose rule matches a goal, as token prefixes: what constrained decoding may start with.

A transformation matches at a (rule, direction, position) where its source side matches the subterm; an
assertion matches when its conclusion matches the goal. A prefix is `complete` when the rule leaves no
variable to substitute: the tactic is then exactly those tokens. Otherwise the substitutions follow,
unconstrained. A matching tactic may still fail (a side condition that is false, an invalid result); a
tactic that does not start with one of these prefixes always fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hyperprover.envs.equations.node import Node, positions
from hyperprover.envs.equations.rules import Rule, match
from hyperprover.envs.equations.tactics import ASSERT, BACKWARD, FORWARD, TRANSFORM

_Key = tuple[str, object]


@dataclass(frozen=True)
class _Source:
    rule: Rule
    forward: bool
    pattern: Node
    complete: bool


def _root(n: Node) -> _Key | None:
    return None if n.kind == "var" else (n.kind, n.value)


class ApplicableTactics:
    """Indexes the rules by the root of their source side, so a goal is scanned once per subterm."""

    def __init__(self, rules: Iterable[Rule], max_pos: int) -> None:
        self.max_pos = max_pos
        self.by_root: dict[_Key, list[_Source]] = {}
        self.any_root: list[_Source] = []  # a bare variable as source: matches any non-comparison subterm
        self.assertions: dict[_Key, list[_Source]] = {}
        for r in rules:
            if r.kind == "A":
                key = _root(r.left)
                assert key is not None  # an assertion's conclusion is a comparison
                self.assertions.setdefault(key, []).append(_Source(r, True, r.left, not r.fill_fwd))
                continue
            for forward in (True, False):
                src, _ = r.sides(forward)
                s = _Source(r, forward, src, not (r.fill_fwd if forward else r.fill_bwd))
                key = _root(src)
                if key is None:
                    self.any_root.append(s)
                else:
                    self.by_root.setdefault(key, []).append(s)

    def prefixes(self, conclusion: Node) -> list[tuple[tuple[str, ...], bool]]:
        """(tactic tokens up to the substitutions, complete) for every match in the goal's conclusion."""
        out: list[tuple[tuple[str, ...], bool]] = []
        for pos, sub in positions(conclusion):
            if pos > self.max_pos:
                break
            key = (sub.kind, sub.value)
            cands = self.by_root.get(key, [])
            if sub.kind != "cmp":
                cands = cands + self.any_root
            for s in cands:  # a comparison pattern is only a candidate at the root, the one comparison
                if match(s.pattern, sub) is not None:
                    direction = FORWARD if s.forward else BACKWARD
                    out.append(((TRANSFORM, s.rule.name, direction, f"<PREFIX_{pos}>"), s.complete))
        for s in self.assertions.get((conclusion.kind, conclusion.value), []):
            if match(s.pattern, conclusion) is not None:
                out.append(((ASSERT, s.rule.name), s.complete))
        return out

"""The Equations environment behind the `BackwardEnv` protocol: goals, tactics, theorems, proof checking.

The theorems of a split come from a theorem source given to the env: the identities benchmark and the
generated splits are built on this module, so it does not import them; `make_env` in splits.py (the
env registry's factory) gives the env `splits.theorems`.
"""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperprover.envs.base import (
    GoalParseError,
    KeyedGoal,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
)
from hyperprover.envs.equations.applicable import ApplicableTactics
from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.equations.infix import parse_infix, to_pretty
from hyperprover.envs.equations.library import rules_for_dataset
from hyperprover.envs.equations.node import ExprParseError, Node, parse_prefix, variables
from hyperprover.envs.equations.numeric import invalid_reason, is_valid
from hyperprover.envs.equations.rules import Rule, RuleError
from hyperprover.envs.equations.tactics import (
    Tactic,
    TrivialChecker,
    apply_tactic,
    assert_tactic,
    parse_tactic,
    transform_tactic,
)

__all__ = ["EqGoal", "EquationsEnv", "transform_tactic", "assert_tactic"]
_GOAL_VAR = re.compile(r"x\d+\Z")
TheoremSource = Callable[[str, EquationsConfig], list[Theorem]]  # (split, config) -> the split's theorems


@dataclass(frozen=True, eq=False)
class EqGoal(KeyedGoal):
    """A comparison to prove under comparison hypotheses (kept sorted by prefix text, without repeats)."""

    conclusion: Node
    hyps: tuple[Node, ...] = ()
    key: str = field(init=False, repr=False)
    hypset: frozenset[Node] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        hyps = tuple(sorted(set(self.hyps), key=Node.prefix_str))
        object.__setattr__(self, "hyps", hyps)
        object.__setattr__(self, "hypset", frozenset(hyps))
        object.__setattr__(self, "key", "|||".join([h.prefix_str() for h in hyps] + [self.conclusion.prefix_str()]))

    def with_conclusion(self, conclusion: Node) -> EqGoal:
        """Same hypotheses, new conclusion (skips re-sorting: tactic children share the parent's hyps)."""
        g = object.__new__(EqGoal)
        s = object.__setattr__
        s(g, "conclusion", conclusion)
        s(g, "hyps", self.hyps)
        s(g, "hypset", self.hypset)
        prefix = self.key[: len(self.key) - len(self.conclusion.prefix_str())]
        s(g, "key", prefix + conclusion.prefix_str())
        return g

    def __reduce__(self) -> tuple[Any, ...]:
        return (EqGoal, (self.conclusion, self.hyps))

    def tokens(self) -> list[str]:
        out = ["<GOAL>", *self.conclusion.prefix()]
        for h in self.hyps:
            out += ["<HYP>", *h.prefix(), "</HYP>"]
        out.append("</GOAL>")
        return out

    def text(self) -> str:
        main = to_pretty(self.conclusion)
        return main if not self.hyps else f"{main}   given {', '.join(to_pretty(h) for h in self.hyps)}"


def check_goal_node(node: Node, what: str) -> None:
    """A goal's conclusion / hypothesis: a valid comparison over goal variables (raises GoalParseError)."""
    if node.kind != "cmp":
        raise GoalParseError(f"{what} is not a comparison (=, !=, <=, <, >=, >)")
    bad = sorted(v for v in variables(node) if not _GOAL_VAR.match(v))
    if bad:
        raise GoalParseError(f"{what} uses {', '.join(bad)}: goal variables are x0..x9 (or x, y, z)")
    if not is_valid(node):
        raise GoalParseError(f"{what} is invalid: {invalid_reason(node)}")


def goal_from_tokens(tokens: Sequence[str]) -> EqGoal:
    """Inverse of `EqGoal.tokens` (raises GoalParseError naming the problem)."""
    toks = list(tokens)
    if toks[:1] != ["<GOAL>"] or toks[-1:] != ["</GOAL>"]:
        raise GoalParseError("a goal is <GOAL> conclusion [<HYP> h </HYP>]* </GOAL>")
    body = toks[1:-1]
    first = body.index("<HYP>") if "<HYP>" in body else len(body)
    try:
        concl = parse_prefix(body[:first])
        hyps: list[Node] = []
        i = first
        while i < len(body):
            if body[i] != "<HYP>" or "</HYP>" not in body[i:]:
                raise GoalParseError(f"expected <HYP> ... </HYP> at token {i + 1}")
            end = body.index("</HYP>", i)
            hyps.append(parse_prefix(body[i + 1:end]))
            i = end + 1
    except ExprParseError as e:
        raise GoalParseError(str(e)) from None
    check_goal_node(concl, "conclusion")
    for h in hyps:
        check_goal_node(h, "hypothesis")
    return EqGoal(concl, tuple(hyps))


def _split_top(text: str, sep: str) -> list[tuple[str, int]]:
    """Pieces of `text` between top-level `sep` characters, with their character offsets."""
    out, level, start = [], 0, 0
    for i, ch in enumerate(text):
        level += ch == "("
        level -= ch == ")"
        if ch == sep and level == 0:
            out.append((text[start:i], start))
            start = i + 1
    out.append((text[start:], start))
    return out


def _shift(offset: int, m: re.Match[str]) -> str:
    return f"position {int(m.group(1)) + offset}"


def goal_from_text(text: str) -> EqGoal:
    """`CONCLUSION [given H1, H2, ...]` in human notation (`;` also separates), or a `<GOAL> ...` token list."""
    if text.lstrip().startswith("<GOAL>"):
        return goal_from_tokens(text.split())
    m = re.search(r"\bgiven\b|;", text)
    main, rest, offset = (text, "", 0) if m is None else (text[: m.start()], text[m.end():], m.end())
    parts = [(main, 0)]
    if m is not None:
        for chunk, o in _split_top(rest, ";"):
            parts.extend((piece, offset + o + o2) for piece, o2 in _split_top(chunk, ","))
    nodes: list[Node] = []
    for piece, at in parts:
        if not piece.strip():
            raise GoalParseError(f"empty hypothesis at position {at}")
        try:
            nodes.append(parse_infix(piece))
        except ExprParseError as e:
            msg = re.sub(r"position (\d+)", functools.partial(_shift, at), str(e))
            raise GoalParseError(msg) from None
    check_goal_node(nodes[0], "conclusion")
    for h in nodes[1:]:
        check_goal_node(h, "hypothesis")
    return EqGoal(nodes[0], tuple(nodes[1:]))


class EquationsEnv:
    """Backward proving over the rule library of one dataset (docs/equations.md section 3)."""

    name = "eq"

    def __init__(self, cfg: EquationsConfig | None = None, theorem_source: TheoremSource | None = None) -> None:
        self.cfg = cfg or EquationsConfig()
        self.theorem_source = theorem_source
        self.rules: tuple[Rule, ...] = rules_for_dataset(self.cfg.dataset)
        self.rule_map: dict[str, Rule] = {r.name: r for r in self.rules}
        self.checker = TrivialChecker(self.rules)
        # the model proposes the same tactic texts over and over: parse each once
        self._parse = functools.lru_cache(maxsize=1 << 16)(self._parse_uncached)
        self._applicable = ApplicableTactics(self.rules, self.cfg.max_prefix_pos)

    def _parse_uncached(self, text: str) -> Tactic:
        return parse_tactic(text.split(), self.rule_map)

    def parse_tactic(self, text: str) -> Tactic:
        return self._parse(text)

    def apply(self, goal: Any, tactic: str) -> TacticResult:
        t0 = time.perf_counter()
        if not isinstance(goal, EqGoal):
            err = TacticError(TacticErrorKind.OTHER, f"not an equations goal: {type(goal).__name__}")
            return TacticResult(tactic, error=err)
        try:
            t = self._parse(tactic)
            if t.pos > self.cfg.max_prefix_pos:
                raise RuleError(TacticErrorKind.MALFORMED, f"position {t.pos} > {self.cfg.max_prefix_pos}")
            kids = apply_tactic(t, goal.conclusion, goal.hypset, self.checker, self.cfg.max_goal_tokens)
        except RuleError as e:
            return TacticResult(tactic, error=TacticError(e.kind, e.message),
                                duration_s=time.perf_counter() - t0)
        except RecursionError:
            return TacticResult(tactic, error=TacticError(TacticErrorKind.OTHER, "expression too deep"),
                                duration_s=time.perf_counter() - t0)
        children = tuple(goal.with_conclusion(k) for k in kids)
        return TacticResult(tactic, children=children, duration_s=time.perf_counter() - t0)

    def tactic_prefixes(self, goal: Any) -> list[tuple[tuple[str, ...], bool]]:
        """Token prefixes of the tactics whose rule matches the goal (see `applicable`)."""
        return self._applicable.prefixes(goal.conclusion)

    def goal_tokens(self, goal: Any) -> list[str]:
        return goal.tokens()  # type: ignore[no-any-return]

    def tactic_tokens(self, tactic: str) -> list[str]:
        return tactic.split()

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        toks = list(tokens)
        if toks[:1] == ["<COMMAND>"] and toks[-1:] == ["</COMMAND>"]:
            toks = toks[1:-1]
        return " ".join(toks)

    def parse_goal(self, text: str) -> EqGoal:
        return goal_from_text(text)

    def goal_text(self, goal: Any) -> str:
        return goal.text()  # type: ignore[no-any-return]

    def make_goal(self, conclusion: Node, hyps: Sequence[Node] = ()) -> EqGoal:
        return EqGoal(conclusion, tuple(hyps))

    def theorems(self, split: str) -> list[Theorem]:
        if self.theorem_source is None:
            raise ValueError(f"equations split {split!r}: this env has no theorem source; build it with "
                             "make_env (hyperprover.envs.equations.splits)")
        return self.theorem_source(split, self.cfg)

    def transform_tactic(self, rule: Rule, forward: bool, pos: int, subst: Mapping[str, Node] | None = None) -> str:
        return transform_tactic(rule, forward, pos, subst)

    def assert_tactic(self, rule: Rule, subst: Mapping[str, Node] | None = None) -> str:
        return assert_tactic(rule, subst)

    def check_proof(self, proof: ProofNode) -> None:
        """Replay the proof in a fresh env; every tactic must give exactly the children of its node."""
        env = EquationsEnv(self.cfg)
        root = proof.goal
        if not isinstance(root, EqGoal):
            raise ProofError(f"the proof's goal is not an equations goal: {type(root).__name__}")
        try:
            check_goal_node(root.conclusion, "conclusion")
            for h in root.hyps:
                check_goal_node(h, "hypothesis")
        except GoalParseError as e:
            raise ProofError(f"theorem {root.text()}: {e}") from None
        # replay on goals rebuilt from tokens, so nothing cached on the proof's own objects is trusted
        fresh = goal_from_tokens(root.tokens())
        stack: list[tuple[ProofNode, EqGoal]] = [(proof, fresh)]
        step = 0
        while stack:
            node, g = stack.pop()
            step += 1
            where = f"step {step}: goal {g.text()} | tactic {node.tactic}"
            res = env.apply(g, node.tactic)
            if res.error is not None:
                raise ProofError(f"{where}: {res.error}")
            kids = [c for c in res.children if isinstance(c, EqGoal)]
            produced = {c.key: c for c in kids}
            want = Counter(c.key for c in kids)
            have = Counter(getattr(c.goal, "key", None) for c in node.children)
            if want != have:
                missing = [c.text() for k, c in produced.items() if k not in have]
                extra = [str(getattr(c.goal, "key", c.goal)) for c in node.children
                         if getattr(c.goal, "key", None) not in want]
                raise ProofError(f"{where}: children do not match the tactic's subgoals"
                                 f" (unproved: {missing or 'none'}; not produced: {extra or 'none'})")
            stack.extend((c, produced[c.goal.key]) for c in reversed(node.children))  # type: ignore[attr-defined]

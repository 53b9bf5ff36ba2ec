"""What the two generators (rwalk.py, graph.py) share: the generator context of a config (env, shape
sampler, rules), matching rules at every position of a statement at once, and replaying a generated
step through `EquationsEnv.apply`. The streams and splits built from the generators are in generators.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.equations.env import EqGoal, EquationsEnv
from hyperprover.envs.equations.library import dataset
from hyperprover.envs.equations.node import BINARY_OPS, UNARY_OPS, Node, positions
from hyperprover.envs.equations.rules import Application, Rule, could_match, match
from hyperprover.envs.equations.sampler import GenConfig, Sampler


class GenerationError(RuntimeError):
    """A generated step did not replay in the env (a generator bug); the unit is dropped."""


@dataclass(frozen=True)
class GenContext:
    """Everything a generator needs, built once per config."""

    cfg: EquationsConfig
    gen: GenConfig
    env: EquationsEnv
    sampler: Sampler
    t_rules: tuple[Rule, ...]  # transformation rules (both T_E and T_C), integer-literal rules excluded
    a_rules: tuple[Rule, ...]  # assertion rules

    def eval_assert(self, stmt: Node) -> bool | None:
        return self.env.checker.eval_assert(stmt)


def gen_config(cfg: Any) -> GenConfig:
    """The generator settings of `cfg`: a GenConfig itself, or the `gen` section of an EquationsConfig."""
    if isinstance(cfg, GenConfig):
        return cfg
    g = getattr(cfg, "gen", None)
    return g if isinstance(g, GenConfig) else GenConfig()


def env_config(cfg: Any) -> EquationsConfig:
    if isinstance(cfg, EquationsConfig):
        return cfg
    if isinstance(cfg, GenConfig):  # generator settings alone: the default env with these settings
        return replace(EquationsConfig(), gen=cfg)
    if cfg is None:
        return EquationsConfig()
    raise TypeError(f"expected an EquationsConfig or GenConfig, got {type(cfg).__name__}")


def config_key(cfg: EquationsConfig, gen: GenConfig) -> str:
    # configs are mutable dataclasses: their repr is the cache key
    return repr(cfg) + repr(gen)


_CONTEXTS: dict[str, GenContext] = {}


def context(cfg: Any = None) -> GenContext:
    """The (cached) generator context of an EquationsConfig / GenConfig / None (defaults)."""
    ecfg, gen = env_config(cfg), gen_config(cfg)
    key = config_key(ecfg, gen)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        env = EquationsEnv(ecfg)
        ds = dataset(ecfg.dataset)
        # operator lists in a fixed order (the vocabulary order), never set order: seeds must reproduce
        sampler = Sampler(
            unary=tuple(op for op in UNARY_OPS if op in ds.unary),
            binary=tuple(op for op in BINARY_OPS if op in ds.binary),
            n_vars=ecfg.n_vars, max_int=ecfg.max_int, leaf_int_prob=gen.leaf_int_prob,
            positive=gen.positive, non_null=gen.non_null, fill_max_ops=gen.fill_max_ops)
        t_rules = tuple(r for r in env.rules if r.kind == "T" and r.arith is None)
        a_rules = tuple(r for r in env.rules if r.kind == "A")
        ctx = _CONTEXTS[key] = GenContext(ecfg, gen, env, sampler, t_rules, a_rules)
    return ctx


# ---------------------------------------------------------------- matching every position at once


@dataclass(frozen=True)
class PositionIndex:
    """The subterms of a statement grouped by their root symbol, to find rule matches fast."""

    stmt: Node
    exprs: tuple[tuple[int, Node], ...]  # every non-comparison subterm, in prefix order
    by_root: dict[tuple[str, object], list[tuple[int, Node]]]

    @staticmethod
    def of(stmt: Node) -> PositionIndex:
        exprs: list[tuple[int, Node]] = []
        by_root: dict[tuple[str, object], list[tuple[int, Node]]] = {}
        for pos, sub in positions(stmt):
            by_root.setdefault((sub.kind, sub.value), []).append((pos, sub))
            if sub.kind != "cmp":
                exprs.append((pos, sub))
        return PositionIndex(stmt, tuple(exprs), by_root)

    def matches(self, rule: Rule, forward: bool) -> list[Application]:
        """Every position where the source side of `rule` (in that direction) matches, in prefix order."""
        src, _ = rule.sides(forward)
        if src.kind == "cmp":
            cands: Sequence[tuple[int, Node]] = [(0, self.stmt)] if could_match(src, self.stmt) else ()
        elif src.kind == "var":
            cands = self.exprs
        else:
            cands = self.by_root.get((src.kind, src.value), ())
        fill = rule.to_fill(forward)
        out = []
        for pos, sub in cands:
            if sub.size >= src.size:
                m = match(src, sub)
                if m is not None:
                    out.append(Application(rule, forward, self.stmt, pos, m, fill))
        return out


def replay(env: EquationsEnv, goal: EqGoal, tactic: str) -> tuple[EqGoal, ...]:
    """The subgoals of a generated tactic; raises GenerationError when the env rejects it."""
    res = env.apply(goal, tactic)
    if res.error is not None:
        raise GenerationError(f"generated tactic rejected on {goal.text()}: {res.error} ({tactic})")
    return res.children  # type: ignore[return-value]


def goal_len(goal: EqGoal) -> int:
    """Length of the goal's token sequence (docs/equations.md 1.4)."""
    return 2 + goal.conclusion.size + sum(h.size + 2 for h in goal.hyps)

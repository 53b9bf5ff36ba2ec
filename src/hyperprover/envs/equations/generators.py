"""Synthetic theorems with their backward proofs (spec 4.2-4.5): streams, seeds, valid/test splits.

Two generators: `rwalk` (random rewriting walks, rwalk.py) and `graph` (random forward-derivation
graphs, graph.py). Both return `Theorem`s whose `meta` holds the proof (`ProofNode`, every step replayed
through `EquationsEnv.apply` while it is built, so it passes `check_proof`), the generator name, the seed
and the unit index.

Seeding: unit i (one walk, or one graph and the theorems sampled from it) of a stream draws from its own
`random.Random(f"{namespace}/{gen}/{seed}/{i}")`, so any theorem can be regenerated alone, streams can
be split across workers, and the same seed gives the same theorems whatever the hash seed of the
process. Training streams use the namespace "train"; the valid and test splits use "valid"/0 and
"test"/1, so no training stream can ever reproduce them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hyperprover.envs.base import Theorem
from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.equations.env import EqGoal, EquationsEnv
from hyperprover.envs.equations.library import dataset
from hyperprover.envs.equations.node import BINARY_OPS, UNARY_OPS, Node, positions
from hyperprover.envs.equations.rules import Application, Rule, could_match, match
from hyperprover.envs.equations.sampler import GenConfig, Sampler

GENERATORS = ("rwalk", "graph")
SPLIT_SEEDS = {"valid": 0, "test": 1}


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


def _config_key(cfg: EquationsConfig, gen: GenConfig) -> str:
    # configs are mutable dataclasses: their repr is the cache key
    return repr(cfg) + repr(gen)


_CONTEXTS: dict[str, GenContext] = {}


def context(cfg: Any = None) -> GenContext:
    """The (cached) generator context of an EquationsConfig / GenConfig / None (defaults)."""
    ecfg, gen = env_config(cfg), gen_config(cfg)
    key = _config_key(ecfg, gen)
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
    """Length of the goal's token sequence (spec 1.4)."""
    return 2 + goal.conclusion.size + sum(h.size + 2 for h in goal.hyps)


# ---------------------------------------------------------------- streams


def unit_rng(namespace: str, gen: str, seed: int, index: int) -> random.Random:
    return random.Random(f"{namespace}/{gen}/{seed}/{index}")


def unit_theorems(gen: str, seed: int, index: int, cfg: Any = None, namespace: str = "train") -> list[Theorem]:
    """The theorems of unit `index` of a stream: one random walk, or the samples of one random graph."""
    ctx = context(cfg)
    rng = unit_rng(namespace, gen, seed, index)
    label = f"{gen}_{namespace}{seed}_{index}"
    if gen == "rwalk":
        from hyperprover.envs.equations.rwalk import walk_theorem

        out = walk_theorem(ctx, rng)
        found = [] if out is None else [(label, *out)]
    elif gen == "graph":
        from hyperprover.envs.equations.graph import graph_theorems

        found = [(f"{label}_node{i}", g, p) for i, g, p in graph_theorems(ctx, rng)]
    else:
        raise ValueError(f"unknown generator {gen!r}; choose one of {', '.join(GENERATORS)}")
    meta = {"gen": gen, "seed": seed, "index": index, "namespace": namespace, "dataset": ctx.cfg.dataset}
    return [Theorem(lab, goal, namespace, {**meta, "proof": proof}) for lab, goal, proof in found]


def stream(gen: str, seed: int, cfg: Any = None, namespace: str = "train", start: int = 0) -> Iterator[Theorem]:
    """An endless stream of generated theorems with proofs, unit after unit."""
    if gen not in GENERATORS:
        raise ValueError(f"unknown generator {gen!r}; choose one of {', '.join(GENERATORS)}")
    for index in itertools.count(start):
        yield from unit_theorems(gen, seed, index, cfg, namespace)


def generate(gen: str, n: int, seed: int = 0, cfg: Any = None, namespace: str = "train") -> list[Theorem]:
    """The first `n` theorems of a stream."""
    return list(itertools.islice(stream(gen, seed, cfg, namespace), n))


_SPLITS: dict[tuple[str, int, str, str], tuple[Theorem, ...]] = {}


def _fixed_split(split: str, n: int, gen: str, cfg: Any) -> tuple[Theorem, ...]:
    seen: set[str] = set()
    out: list[Theorem] = []
    for th in stream(gen, SPLIT_SEEDS[split], cfg, namespace=split):
        if th.goal.key not in seen:  # a goal drawn twice would be one theorem under two labels
            seen.add(th.goal.key)
            out.append(th)
            if len(out) == n:
                break
    return tuple(out)


def fixed_split(split: str, n: int = 1000, gen: str = "rwalk", cfg: Any = None) -> list[Theorem]:
    """The valid or test split: `n` distinct theorems from the split's fixed seed (proof in meta)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"fixed splits are {', '.join(SPLIT_SEEDS)}, not {split!r}")
    if gen not in GENERATORS:
        raise ValueError(f"unknown generator {gen!r}; choose one of {', '.join(GENERATORS)}")
    if n < 1:
        raise ValueError(f"a split needs at least one theorem, got n={n}")
    ctx = context(cfg)
    key = (split, n, gen, _config_key(ctx.cfg, ctx.gen))
    if key not in _SPLITS:  # generating 1000 theorems takes seconds: once per process and config
        _SPLITS[key] = _fixed_split(split, n, gen, cfg)
    return list(_SPLITS[key])

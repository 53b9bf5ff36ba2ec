"""Synthetic theorems with their backward proofs (docs/equations.md 4.2-4.5): streams, seeds, valid/test splits.

Three generators: `rwalk` (random rewriting walks, rwalk.py), `idwalk` (the same walks started from the
sides of the identities of `gen.idwalk_split`) and `graph` (random forward-derivation graphs, graph.py),
built on what they share (gencontext.py: the generator context, position matching, replaying a step).
All return `Theorem`s whose `meta` holds the proof (`ProofNode`, every step replayed
through `EquationsEnv.apply` while it is built, so it passes `check_proof`), the generator name, the seed
and the unit index.

Seeding: unit i (one walk, or one graph and the theorems sampled from it) of a stream draws from its own
`random.Random(f"{namespace}/{gen}/{seed}/{i}")`, so any theorem can be regenerated alone, streams can
be split across workers, and the same seed gives the same theorems whatever the hash seed of the
process. Training streams use the namespace "train"; the valid and test splits use "valid"/0 and
"test"/1, so no training stream can ever reproduce them.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from typing import Any

from hyperprover.envs.base import Theorem, fold_theorems
from hyperprover.envs.equations.env import EqGoal
from hyperprover.envs.equations.gencontext import config_key, context
from hyperprover.envs.equations.graph import graph_theorems
from hyperprover.envs.equations.identities import SPLIT, load_identities
from hyperprover.envs.equations.rwalk import identity_walk_theorem, walk_theorem

GENERATORS = ("rwalk", "idwalk", "graph")
SPLIT_SEEDS = {"valid": 0, "test": 1}


# ---------------------------------------------------------------- streams


@functools.cache
def walk_starts(split: str) -> tuple[EqGoal, ...]:
    """The goals of `split` (the identities or a fold of them, e.g. `identities%4!=3`) whose sides `idwalk`
    starts from."""
    try:
        goals = tuple(t.goal for t in fold_theorems(split, _identities))
    except ValueError as e:
        raise ValueError(f"gen.idwalk_split {split!r}: {e}") from None
    if not goals:
        raise ValueError(f"gen.idwalk_split {split!r} has no theorems; name one such as identities%4!=3")
    return goals  # type: ignore[return-value]


def _identities(split: str) -> list[Theorem]:
    if split != SPLIT:
        raise ValueError(f"idwalk starts from the {SPLIT} or a fold of them (e.g. {SPLIT}%4!=3), not {split!r}")
    return load_identities()


def unit_rng(namespace: str, gen: str, seed: int, index: int) -> random.Random:
    return random.Random(f"{namespace}/{gen}/{seed}/{index}")


def unit_theorems(gen: str, seed: int, index: int, cfg: Any = None, namespace: str = "train") -> list[Theorem]:
    """The theorems of unit `index` of a stream: one random walk, or the samples of one random graph."""
    ctx = context(cfg)
    rng = unit_rng(namespace, gen, seed, index)
    label = f"{gen}_{namespace}{seed}_{index}"
    if gen in ("rwalk", "idwalk"):
        out = (walk_theorem(ctx, rng) if gen == "rwalk"
               else identity_walk_theorem(ctx, rng, walk_starts(ctx.gen.idwalk_split)))
        found = [] if out is None else [(label, *out)]
    elif gen == "graph":
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
    key = (split, n, gen, config_key(ctx.cfg, ctx.gen))
    if key not in _SPLITS:  # generating 1000 theorems takes seconds: once per process and config
        _SPLITS[key] = _fixed_split(split, n, gen, cfg)
    return list(_SPLITS[key])

"""Supervised data of the Metamath env: (goal tokens, tactic tokens) pairs from human proofs, for the
task `mm_x2y_goal--tactic_seq2seq`. Pairs are tokenized by the env itself, so what the model learns
is exactly what `MetamathEnv.apply` accepts."""

from __future__ import annotations

import random
from collections.abc import Iterator

from hyperprover.envs.metamath.config import MetamathConfig
from hyperprover.envs.metamath.env import MetamathEnv, make_env
from hyperprover.envs.metamath.proofs import human_steps

Pair = tuple[list[str], list[str]]
_ENVS: dict[str, MetamathEnv] = {}


def default_env(cfg: MetamathConfig | None = None) -> MetamathEnv:
    cfg = cfg or MetamathConfig()
    key = repr(cfg)
    if key not in _ENVS:
        _ENVS[key] = make_env(cfg)
    return _ENVS[key]


def theorem_pairs(env: MetamathEnv, label: str) -> list[Pair]:
    return [(env.goal_tokens(g), env.tactic_tokens(t)) for g, t in human_steps(env, label)]


def seq2seq_examples(split: str = "train", seed: int = 0, cfg: MetamathConfig | None = None,
                     env: MetamathEnv | None = None) -> Iterator[Pair]:
    """Infinite, reproducible stream: theorems of `split` in a seeded random order (reshuffled each
    pass), all steps of each theorem's proof."""
    env = env or default_env(cfg)
    labels = list(env.splits.get(split))
    if not labels:
        raise ValueError(f"mm: split {split!r} of {env.db.path} has no theorems")
    rng = random.Random(seed)
    while True:
        rng.shuffle(labels)
        for lab in labels:
            yield from theorem_pairs(env, lab)


def split_examples(split: str, n: int = 1000, cfg: MetamathConfig | None = None,
                   env: MetamathEnv | None = None) -> list[Pair]:
    """The first `n` pairs of a split, theorems in database order (fixed, for evaluation)."""
    env = env or default_env(cfg)
    out: list[Pair] = []
    for lab in env.splits.get(split):
        out.extend(theorem_pairs(env, lab))
        if len(out) >= n:
            break
    return out[:n]


def vocabulary(env: MetamathEnv) -> list[str]:
    """Every token goals and tactics can contain: symbols, assertion labels and the markers."""
    from hyperprover.envs.metamath import env as e

    marks = [e.GOAL_OPEN, e.GOAL_CLOSE, e.HYP_OPEN, e.HYP_CLOSE, e.DV_OPEN, e.DV_CLOSE, e.SUBST, e.EQ]
    return marks + sorted(env.db.constants) + sorted(env.db.variables) + list(env.db.assertions)

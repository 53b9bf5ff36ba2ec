"""The theorem splits of the SR env, and `make_env`, the factory the env registry calls.

`train`, `valid` and `test` are generated (generator.py), `bench` is the named benchmark (benchmark.py).
Both are built on env.py, so the env cannot import them: `make_env` gives each env `theorems` below as
its theorem source.
"""

from __future__ import annotations

from typing import Any

from hyperprover.envs.base import Theorem, env_config
from hyperprover.envs.sr import benchmark, generator
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.env import SREnv

SPLITS = ("train", "valid", "test", "bench")


def theorems(split: str, cfg: SRConfig) -> list[Theorem]:
    """The theorems of `split` for an env with config `cfg`."""
    if split == "bench":
        return benchmark.bench_theorems(cfg)
    if split in ("valid", "test"):
        return [p.theorem(split) for p in generator.fixed_split(split, cfg=cfg)]
    if split == "train":
        probs = generator.take(generator.problems(cfg.train_seed, cfg, stream="train"), cfg.n_train_theorems)
        return [p.theorem("train") for p in probs]
    raise ValueError(f"sr env: unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def make_env(cfg: SRConfig | None = None, **overrides: Any) -> SREnv:
    """The `sr` env; keyword overrides are SRConfig fields (`make_env(n_points=10)`)."""
    return SREnv(env_config("sr", cfg or SRConfig(), overrides), theorem_source=theorems)

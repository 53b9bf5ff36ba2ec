"""The theorem splits of the Equations env, and `make_env`, the factory the env registry calls.

`identities` is the benchmark of identities.py; `valid` and `test` are fixed generated splits
(generators.py). Both are built on env.py, so the env cannot import them: `make_env` gives each env
`theorems` below as its theorem source.
"""

from __future__ import annotations

from typing import Any

from hyperprover.envs.base import Theorem, env_config
from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.equations.env import EquationsEnv
from hyperprover.envs.equations.generators import fixed_split
from hyperprover.envs.equations.identities import load_identities


def theorems(split: str, cfg: EquationsConfig) -> list[Theorem]:
    """The theorems of `split` for an env with config `cfg`."""
    if split == "identities":
        return load_identities(include_dropped=False)
    if split in ("valid", "test"):
        return fixed_split(split, cfg=cfg)
    raise ValueError(f"unknown equations split {split!r}; choose identities, valid or test")


def make_env(**kwargs: Any) -> EquationsEnv:
    """`make_env(dataset=..., cfg=EquationsConfig(...))`: keyword overrides of the config fields."""
    cfg = kwargs.pop("cfg", None) or EquationsConfig()
    return EquationsEnv(env_config("eq", cfg, kwargs), theorem_source=theorems)

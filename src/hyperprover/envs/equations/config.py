"""Config section of the Equations environment (`--eq.*`); generator options are added below the env ones."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprover.config import opt, section
from hyperprover.envs.equations.sampler import GenConfig

DATASET_NAMES = ("eq_dataset_basic", "eq_dataset_exp_trigo", "eq_dataset_exp_trigo_hyper",
                 "eq_dataset_exp_trigo_hyper_50_nobi", "eq_dataset_all")


@dataclass
class EquationsConfig:
    # ---- environment (eq-core)
    dataset: str = opt("eq_dataset_exp_trigo_hyper", "rule subset and operators (docs/equations.md 2.6)",
                       choices=DATASET_NAMES)
    n_vars: int = opt(5, "goal variables x0..x{n_vars-1} used by the generators", min=1, max=10)
    max_int: int = opt(10, "largest absolute integer drawn by the generators", min=1)
    max_prefix_pos: int = opt(4095, "largest rewrite position a tactic may name (<PREFIX_p> tokens)", min=1)
    max_goal_tokens: int = opt(0, "children longer than this many tokens make a tactic invalid (0: no limit)",
                               min=0)
    # ---- synthetic data generators (eq-gen, docs/equations.md 4): sampler.GenConfig
    gen: GenConfig = section(GenConfig, "random expression sampler, random-walk and random-graph generators")

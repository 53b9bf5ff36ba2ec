"""Metamath as a hyperprover system: set.mm's theorems, trained on the steps of their human proofs."""

from __future__ import annotations

from typing import Any

from hyperprover.envs.metamath.config import MetamathConfig
from hyperprover.envs.systems import Records, System, TaskSpec


def records(name: str, cfg: Any) -> Records:
    from hyperprover.envs.metamath import data

    mm = cfg.mm
    return Records("seq2seq", lambda seed: data.seq2seq_examples("train", seed, mm),
                   lambda split, n: data.split_examples(split, n, mm),
                   lambda: data.vocabulary(data.default_env(mm)))


SYSTEM = System(
    name="mm",
    env="hyperprover.envs.metamath.env:make_env",
    options=MetamathConfig,
    options_help="Metamath database and splits",
    tasks=(TaskSpec(r"mm_x2y_goal--tactic_seq2seq", "mm_x2y_goal--tactic_seq2seq",
                    "hyperprover.envs.metamath.system:records"),),
    cli="hyperprover.envs.metamath.cli",
)

"""SymbolicRegression as a hyperprover system: find an expression that fits points, trained on generated walks."""

from __future__ import annotations

from typing import Any

from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.systems import Records, System, TaskSpec


def records(name: str, cfg: Any) -> Records:
    from hyperprover.envs.sr import data

    sr = cfg.sr
    return Records("seq2seq", lambda seed: data.seq2seq_examples(seed, sr),
                   lambda split, n: data.split_examples(split, n, sr), data.vocabulary)


SYSTEM = System(
    name="sr",
    env="hyperprover.envs.sr.splits:make_env",
    options=SRConfig,
    options_help="SymbolicRegression environment and generator",
    tasks=(TaskSpec(r"sr_bwd_rwalk_seq2seq", "sr_bwd_rwalk_seq2seq", "hyperprover.envs.sr.system:records"),),
    cli="hyperprover.envs.sr.cli",
)

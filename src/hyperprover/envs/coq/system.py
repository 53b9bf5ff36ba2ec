"""Coq as a hyperprover system: library lemmas in their files' contexts, trained on their replayed proofs."""

from __future__ import annotations

from typing import Any

from hyperprover.envs.coq.config import CoqConfig
from hyperprover.envs.systems import Records, System, TaskSpec


def records(name: str, cfg: Any) -> Records:
    from hyperprover.envs.coq import data

    coq = cfg.coq
    return Records("seq2seq", lambda seed: data.seq2seq_examples("train", seed, coq),
                   lambda split, n: data.split_examples(split, n, coq), lambda: data.vocabulary(coq))


SYSTEM = System(
    name="coq",
    env="hyperprover.envs.coq.env:make_env",
    options=CoqConfig,
    options_help="Coq library, splits and preload",
    tasks=(TaskSpec(r"coq_x2y_goal--tactic_seq2seq", "coq_x2y_goal--tactic_seq2seq",
                    "hyperprover.envs.coq.system:records"),),
    cli="hyperprover.envs.coq.cli",
)

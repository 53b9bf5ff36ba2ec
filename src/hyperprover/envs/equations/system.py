"""Equations as a hyperprover system: identities proved by rewriting, trained on generated proofs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from hyperprover.envs.equations.config import EquationsConfig
from hyperprover.envs.systems import Example, Records, System, TaskSpec

TASKS = re.compile(r"eq_(bwd|critic)_(rwalk|idwalk|graph)_(seq2seq|seq2seqtok)")


def records(name: str, cfg: Any) -> Records:
    """eq_bwd_<gen>_seq2seq (goal -> tactic) and eq_critic_<gen>_seq2seqtok (goal -> solvable) of a generator."""
    from hyperprover.envs.equations import data

    m = TASKS.fullmatch(name)
    if m is None or (m.group(1) == "bwd") != (m.group(3) == "seq2seq"):
        raise ValueError(f"unknown task {name!r}: Equations tasks are eq_bwd_<rwalk|idwalk|graph>_seq2seq "
                         "and eq_critic_<rwalk|idwalk|graph>_seq2seqtok")
    gen, eq_cfg = m.group(2), cfg.eq
    kind: Literal["seq2seq", "critic"] = "seq2seq" if m.group(1) == "bwd" else "critic"
    examples = data.seq2seq_examples if kind == "seq2seq" else data.critic_examples

    def train(seed: int) -> Iterator[Example]:
        return examples(gen, seed, eq_cfg)

    def split(split: str, n: int) -> list[Example]:
        return data.split_examples(gen, split, kind=kind, n=n, cfg=eq_cfg)

    return Records(kind, train, split, lambda: vocabulary(eq_cfg, cfg.batch.max_len))


def vocabulary(eq_cfg: EquationsConfig, max_len: int) -> Iterable[str]:
    """Every word a tactic can hold besides expression tokens (those are frequent and come from samples):
    rule names, markers, rewrite positions; rare rules may be missing from samples."""
    from hyperprover.envs.equations import tactics
    from hyperprover.envs.equations.library import rules_for_dataset

    words = [r.name for r in rules_for_dataset(eq_cfg.dataset)]
    words += [tactics.TRANSFORM, tactics.ASSERT, tactics.FORWARD, tactics.BACKWARD, tactics.SUBST,
              tactics.SUBST_NAME, tactics.SUBST_END]
    return words + [f"<PREFIX_{i}>" for i in range(min(max_len, eq_cfg.max_prefix_pos + 1))]


SYSTEM = System(
    name="eq",
    env="hyperprover.envs.equations.splits:make_env",
    options=EquationsConfig,
    options_help="Equations environment and generators",
    prover_options=False,  # a prover's env is the model's: its splits take no options
    tasks=(TaskSpec(r"eq_(bwd|critic)_\w+", "eq_bwd_<rwalk|idwalk|graph>_seq2seq, "
                    "eq_critic_<rwalk|idwalk|graph>_seq2seqtok", "hyperprover.envs.equations.system:records"),),
    cli="hyperprover.envs.equations.cli",
)

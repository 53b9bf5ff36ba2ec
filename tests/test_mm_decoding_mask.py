"""The transformer expander never proposes a Metamath label that comes at or after the theorem."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import torch

from hyperprover.envs.metamath.env import make_env
from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.expander import LabelOrderEnv, TransformerExpander
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig

GOOD = os.path.join(os.path.dirname(__file__), "data", "mm", "good.mm")


class Unordered:
    """The same env without the label-order methods: the expander cannot mask."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def goal_tokens(self, goal: Any) -> list[str]:
        return self.env.goal_tokens(goal)

    def tactic_from_tokens(self, tokens: Any) -> str:
        return self.env.tactic_from_tokens(tokens)


def test_later_labels_are_masked_out() -> None:
    env = make_env(database=GOOD)
    labels = sorted(env.db.assertions, key=lambda a: env.db.assertions[a].index)
    goals = [env.theorem_goal(lab) for lab in labels if env.db.assertions[lab].kind == "p"]
    assert len(goals) >= 3
    counts: Counter[str] = Counter(labels)
    for g in goals:
        counts.update(env.goal_tokens(g))
    dico = Dictionary.build(counts, min_count=0)
    torch.manual_seed(0)
    model = Seq2SeqTransformer(resolve(ModelConfig(emb_dim=32, n_layers=1, n_heads=2), len(dico), dico.pad))
    params = DecodingConfig(n_samples=64, fixed_temperature=5.0, max_gen_len=6)
    assert isinstance(env, LabelOrderEnv)

    def later_labels(expander_env: Any) -> int:
        exp = TransformerExpander(model, dico, expander_env, seed=0)
        n = 0
        for g, e in zip(goals, exp.expand(goals, params, seeds=list(range(len(goals)))), strict=True):
            limit = env.label_limit(g)
            n += sum(1 for t in e.tactics for w in t.split()
                     if w in env.db.assertions and env.db.assertions[w].index >= limit)
        return n

    assert later_labels(Unordered(env)) > 0  # the untrained model does propose them
    assert later_labels(env) == 0

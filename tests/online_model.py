"""A tiny real transformer whose weights are set by hand so that it proposes well-formed Equations
tactics (`<TRANFORM_RULE> rule <RULE_FORWARD|BACKWARD> <PREFIX_k>`): the decoder's layers are zeroed, so
its state at step t is its position embedding, which the output projection maps to the words allowed
at step t. Online and Ray-evaluation tests need searches that expand nodes and yield samples, and
training a model that does so takes minutes on two cores."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from hyperprover.envs.base import make_env
from hyperprover.model.checkpoint import save_checkpoint
from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.transformer import Seq2SeqTransformer

RULES = ("T||(A_+_B)|(B_+_A)", "T||(A_*_B)|(B_*_A)", "T||(A_+_0)|A", "T||(A_*_1)|A", "T||(A_-_A)|0")


def rigged_checkpoint(path: Path, n_prefix: int = 12) -> Path:
    env = make_env("eq")
    words: Counter[str] = Counter()
    for th in env.theorems("identities"):
        words.update(env.goal_tokens(th.goal))
    steps = [["<TRANFORM_RULE>"], list(RULES), ["<RULE_FORWARD>", "<RULE_BACKWARD>"],
             [f"<PREFIX_{i}>" for i in range(n_prefix)]]
    words.update(w for step in steps for w in step)
    dico = Dictionary.build(words)
    steps.append([dico.id2word[dico.eos]])
    torch.manual_seed(0)
    dims = resolve(ModelConfig(emb_dim=32, n_layers=1, n_heads=2, share_inout_emb=False), len(dico), dico.pad)
    model = Seq2SeqTransformer(dims)
    with torch.no_grad():
        for p in model.decoder.layers.parameters():
            p.zero_()
        model.decoder.embed.tokens.weight.zero_()
        pos = model.decoder.embed.positions
        assert pos is not None
        pos.weight.zero_()
        model.decoder.proj.weight.zero_()
        model.decoder.proj.bias.zero_()
        for t, allowed in enumerate(steps):
            pos.weight[t, t] = 10.0
            for w in allowed:
                model.decoder.proj.weight[dico.word2id[w], t] = 3.0
    save_checkpoint(path, model.eval(), dico, dims)
    return path


def untrained_checkpoint(path: Path, words: list[str]) -> Path:
    """A small untrained model over `words`: for runs whose proofs do not matter (resuming, crashes), and for
    envs whose expander ranks the env's own complete tactics (Metamath's scored enumeration)."""
    dico = Dictionary.build(Counter(words))
    torch.manual_seed(0)
    dims = resolve(ModelConfig(emb_dim=16, n_layers=1, n_heads=2), len(dico), dico.pad)
    save_checkpoint(path, Seq2SeqTransformer(dims).eval(), dico, dims)
    return path

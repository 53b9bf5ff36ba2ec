"""Dictionary, checkpoints (round trip, corrupt files) and the transformer Expander on the Equations env."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import torch

from hyperprover.model.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.decoding import sample
from hyperprover.model.dictionary import SPECIAL_WORDS, Dictionary, DictionaryError
from hyperprover.model.expander import TransformerExpander, load_expander, token_batches
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig


def test_dictionary_layout_and_unknowns() -> None:
    d = Dictionary.build(Counter({"b": 3, "a": 3, "c": 5}))
    assert d.id2word[:4] == ["<s>", "</s>", "<pad>", "<unk>"] and len(SPECIAL_WORDS) == 54
    assert d.id2word[54:] == ["c", "a", "b"]  # by count, ties alphabetical
    enc = d.encode(["a", "zz", "c", "yy"])
    assert enc.ids == (d.eos, d.word2id["a"], d.unk, d.word2id["c"], d.unk, d.eos)
    assert enc.unknown == ("zz", "yy")
    frozen = Dictionary.from_state(d.state())
    assert frozen == d and frozen.sha256() == d.sha256()
    with pytest.raises(DictionaryError, match="frozen"):
        frozen.add_words(["new"])
    with pytest.raises(DictionaryError, match="whitespace"):
        Dictionary.build(Counter({"a b": 1}))


def _model_and_dico() -> tuple[Seq2SeqTransformer, Dictionary]:
    torch.manual_seed(0)
    dico = Dictionary.build(Counter({w: 1 for w in "abcdefghij"}))
    dims = resolve(ModelConfig(emb_dim=32, n_layers=1, n_heads=2), len(dico), dico.pad)
    model = Seq2SeqTransformer(dims)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x = torch.randint(54, len(dico), (8, 6))
    for _ in range(3):  # move the weights away from their initialisation
        model(x, x).logsumexp(-1).mean().backward()
        opt.step()
        opt.zero_grad()
    return model.eval(), dico


def test_checkpoint_round_trip_decodes_the_same(tmp_path: Path) -> None:
    model, dico = _model_and_dico()
    x = torch.randint(54, len(dico), (3, 7))

    @torch.no_grad()
    def run(m: Seq2SeqTransformer) -> list:
        enc, mask = m.encode(x)
        hyps = sample(m, m.decoder.memory(enc), mask, n_samples=4, max_len=10, eos=dico.eos,
                      generator=torch.Generator().manual_seed(3))
        return [[(h.tokens, round(h.score, 5)) for h in hs] for hs in hyps]

    before = run(model)
    path = tmp_path / "m.pth"
    save_checkpoint(path, model, dico, model.dims, epoch=3)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]  # the temp file was renamed away
    again, dico2 = load_model(path)
    assert dico2 == dico and run(again) == before
    assert load_checkpoint(path)["epoch"] == 3


def test_corrupt_truncated_missing_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    model, dico = _model_and_dico()
    good = tmp_path / "good.pth"
    save_checkpoint(good, model, dico, model.dims)
    data = good.read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all" * 10)
    torch.save({"model": {}}, tmp_path / "foreign.pth")
    for name, pattern in (("trunc.pth", "truncated or corrupt"), ("garbage.pth", "truncated or corrupt"),
                          ("missing.pth", "does not exist"), ("foreign.pth", "not a hyperprover checkpoint")):
        with pytest.raises(CheckpointError, match=pattern) as e:
            load_model(tmp_path / name)
        assert name in str(e.value) and "\n" not in str(e.value)


def test_token_batches_respect_budget() -> None:
    lengths = [5, 50, 7, 30, 30, 8, 100]
    batches = list(token_batches(lengths, 64))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 64


def test_expander_on_equations_goals() -> None:
    pytest.importorskip("hyperprover.envs.equations.env")
    from hyperprover.envs.base import make_env

    env = make_env("eq")
    goals = [env.parse_goal("x0 + 0 == x0"), env.parse_goal("x1 * 1 == x1"), env.parse_goal("exp(x0) > 0")]
    words: Counter[str] = Counter()
    for g in goals[:2]:
        words.update(env.goal_tokens(g))
    words.update(["add", "mul", "x0", "x1", "0", "1", "+", "RULE_A", "RULE_B"])
    dico = Dictionary.build(words)
    torch.manual_seed(0)
    model = Seq2SeqTransformer(resolve(ModelConfig(emb_dim=32, n_layers=1, n_heads=2), len(dico), dico.pad))
    exp = TransformerExpander(model, dico, env)
    params = DecodingConfig(n_samples=6, max_gen_len=8, tokens_per_batch=16)
    out = exp.expand(goals, params)
    assert [e.goal for e in out] == goals
    for e in out[:2]:
        assert e.error is None and 1 <= len(e.tactics) <= 6 and len(set(e.tactics)) == len(e.tactics)
        assert list(e.log_priors) == sorted(e.log_priors, reverse=True) and all(p <= 0 for p in e.log_priors)
        assert 0.0 <= e.critic <= 1.0
    # exp is not in the dictionary: this goal alone fails, and the message names the unknown token
    assert out[2].error is not None and out[2].error.startswith("failed_unk") and "exp" in out[2].error
    assert out[2].tactics == ()
    # with unknown_words unk the encoder reads <unk> for exp and the model still proposes tactics for it
    opened = exp.expand(goals[2:], dataclasses.replace(params, unknown_words="unk"))[0]
    assert opened.error is None and 1 <= len(opened.tactics) <= 6
    too_long = exp.expand(goals[:1], DecodingConfig(max_input_len=4))
    assert too_long[0].error is not None and too_long[0].error.startswith("failed_big")


def test_load_expander_from_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("hyperprover.envs.equations.env")
    from hyperprover.envs.base import make_env

    env = make_env("eq")
    model, dico = _model_and_dico()
    save_checkpoint(tmp_path / "c.pth", model, dico, model.dims)
    exp = load_expander(tmp_path / "c.pth", env)
    greedy = DecodingConfig(n_samples=1, use_sampling=False, max_gen_len=6)
    goal = env.parse_goal("x0 == x0")
    first = exp.expand([goal], greedy)[0]
    assert first.error is not None and "failed_unk" in first.error  # this toy dictionary has no '=='

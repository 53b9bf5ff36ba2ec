"""Decoding: KV cache vs recomputation, greedy limits of sampling and beam, grouped cross-attention."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.decoding import (
    DecodingError,
    PrefixConstraint,
    beam_search,
    check_params,
    critic_logprob,
    sample,
)
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig

VOCAB, PAD, EOS = 40, 2, 1


def small_model(seed: int = 0, **kw: object) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    cfg = ModelConfig(emb_dim=32, dec_emb_dim=16, n_layers=2, n_heads=4, **kw)  # type: ignore[arg-type]
    return Seq2SeqTransformer(resolve(cfg, VOCAB, PAD)).eval()


def inputs(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, VOCAB, (4, 9), generator=g)
    x[:, 0] = EOS
    x[1, 6:] = PAD  # a shorter, padded input
    x[3, 4:] = PAD
    return x


def memory(model: Seq2SeqTransformer, x: torch.Tensor) -> tuple[list, torch.Tensor]:
    enc, mask = model.encode(x)
    return model.decoder.memory(enc), mask


def flat(hyps: list) -> list[list[tuple[tuple[int, ...], float]]]:
    return [[(h.tokens, round(h.score, 4)) for h in hs] for hs in hyps]


@pytest.mark.parametrize("pre_ln", [True, False])
@torch.no_grad()
def test_kv_cache_equals_recomputation(pre_ln: bool) -> None:
    model = small_model(pre_ln=pre_ln)
    mem, mask = memory(model, inputs())
    for kw in ({"greedy": True, "n_samples": 1}, {"greedy": False, "n_samples": 6, "temperature": 1.3}):
        res = []
        for use_cache in (True, False):
            g = torch.Generator().manual_seed(5)
            res.append(flat(sample(model, mem, mask, max_len=12, eos=EOS, use_cache=use_cache, generator=g,
                                   **kw)))  # type: ignore[arg-type]
        assert res[0] == res[1]
        assert any(len(h) > 0 for hs in res[0] for h in hs)
    beams = [flat(beam_search(model, mem, mask, beam_size=4, n_best=4, max_len=12, eos=EOS, use_cache=u))
             for u in (True, False)]
    assert beams[0] == beams[1]


@torch.no_grad()
def test_sampling_at_low_temperature_is_greedy() -> None:
    model = small_model(seed=3)
    mem, mask = memory(model, inputs())
    greedy = sample(model, mem, mask, n_samples=1, max_len=15, eos=EOS, greedy=True)
    cold = sample(model, mem, mask, n_samples=5, max_len=15, eos=EOS, temperature=1e-6,
                  generator=torch.Generator().manual_seed(0))
    for g, c in zip(greedy, cold):
        assert len(c) == 1  # every sample is the argmax path, so deduplication leaves one
        assert c[0].tokens == g[0].tokens
    top1 = sample(model, mem, mask, n_samples=3, max_len=15, eos=EOS, top_k=1,
                  generator=torch.Generator().manual_seed(0))
    assert [h[0].tokens for h in top1] == [h[0].tokens for h in greedy]


@torch.no_grad()
def test_seeded_sampling_does_not_depend_on_the_batch() -> None:
    model, x = small_model(), inputs()
    seeds = torch.tensor([11, 22, 33, 44])
    with torch.no_grad():
        mem, mask = memory(model, x)
        batch = flat(sample(model, mem, mask, n_samples=6, max_len=8, eos=EOS, temperature=2.0, seeds=seeds))
        for i in range(4):
            mem1, mask1 = memory(model, x[i : i + 1])
            alone = flat(sample(model, mem1, mask1, n_samples=6, max_len=8, eos=EOS, temperature=2.0,
                                seeds=seeds[i : i + 1]))
            assert alone[0] == batch[i]
        other = flat(sample(model, mem, mask, n_samples=6, max_len=8, eos=EOS, temperature=2.0, seeds=seeds + 1))
    assert other != batch  # the seed matters
    assert len({h for hs in batch for h, _ in hs}) > 4  # and the draws are not degenerate


@torch.no_grad()
def test_beam_of_one_is_greedy() -> None:
    model = small_model(seed=4)
    mem, mask = memory(model, inputs())
    greedy = sample(model, mem, mask, n_samples=1, max_len=15, eos=EOS, greedy=True, length_penalty=1.0)
    beam = beam_search(model, mem, mask, beam_size=1, n_best=1, max_len=15, eos=EOS, length_penalty=1.0)
    assert flat(greedy) == flat(beam)


@torch.no_grad()
def test_beam_scores_sorted_and_better_than_greedy() -> None:
    model = small_model(seed=6)
    mem, mask = memory(model, inputs())
    greedy = sample(model, mem, mask, n_samples=1, max_len=10, eos=EOS, greedy=True, length_penalty=0.0)
    beam = beam_search(model, mem, mask, beam_size=5, n_best=5, max_len=10, eos=EOS, length_penalty=0.0)
    for g, b in zip(greedy, beam):
        scores = [h.score for h in b]
        assert scores == sorted(scores, reverse=True) and len({h.tokens for h in b}) == len(b)
        assert b[0].score >= g[0].score - 1e-4  # a wider search never finds a worse best sequence


@torch.no_grad()
def test_stochastic_beam_gives_distinct_sequences_with_true_scores() -> None:
    model = small_model(seed=7)
    mem, mask = memory(model, inputs())
    hyps = beam_search(model, mem, mask, beam_size=6, n_best=6, max_len=8, eos=EOS, length_penalty=0.0,
                       stochastic=True, generator=torch.Generator().manual_seed(1))
    for hs in hyps:
        assert len({h.tokens for h in hs}) == len(hs) > 1
        assert all(h.score <= 0 for h in hs)
    # scores are log-probs of the model: rescoring one sequence by teacher forcing gives the same value
    h = hyps[0][0]
    y = torch.tensor([[EOS, *h.tokens]])
    x = inputs()[:1]
    lp = model(x, y).log_softmax(-1)[0]
    target = [*h.tokens, EOS]
    assert abs(sum(float(lp[i, t]) for i, t in enumerate(target)) - h.score) < 1e-3


@torch.no_grad()
def test_grouped_cross_attention_equals_repeated_memory() -> None:
    model = small_model(seed=8)
    x = inputs()
    enc, mask = model.encode(x)
    mem = model.decoder.memory(enc)
    n = 3
    y = torch.randint(4, VOCAB, (x.size(0) * n, 5))
    pos = torch.arange(5).expand_as(y)
    grouped = model.decoder(y, pos, mem, mask, group=n)
    rep = [(k.repeat_interleave(n, 0), v.repeat_interleave(n, 0)) for k, v in mem]
    plain = model.decoder(y, pos, rep, mask.repeat_interleave(n, 0), group=1)
    assert torch.allclose(grouped, plain, atol=1e-5)


@torch.no_grad()
def test_critic_is_a_log_probability() -> None:
    model = small_model(seed=9)
    mem, mask = memory(model, inputs())
    lp = critic_logprob(model, mem, mask, 15, 13, 14)
    assert lp.shape == (4,) and bool((lp <= 0).all())
    logits = model.critic_logits(mem, mask, 15, 13, 14)
    assert torch.allclose(lp.exp() + logits.log_softmax(-1)[:, 1].exp(), torch.ones(4), atol=1e-5)


def test_greedy_with_many_samples_is_refused() -> None:
    with pytest.raises(DecodingError, match="n_samples"):
        check_params(DecodingConfig(n_samples=4, use_sampling=False, use_beam=False))


def test_layer_drop_keeps_min_layers() -> None:
    from hyperprover.model.transformer import _kept_layers

    torch.manual_seed(0)
    for _ in range(200):
        keep = _kept_layers(6, 0.9, 2, training=True)
        assert sum(keep) >= 2
    assert _kept_layers(6, 0.9, 2, training=False) == [True] * 6
    kept = [sum(_kept_layers(8, 0.5, 0, training=True)) for _ in range(400)]
    assert 3.5 < sum(kept) / len(kept) < 4.5  # each layer kept with probability 1 - p
    model = small_model(layer_dropout=0.5, min_layers=1)
    x = inputs()
    model.train()
    outs = {tuple(model(x, x[:, :4]).flatten()[:3].tolist()) for _ in range(6)}
    assert len(outs) > 1  # different layers run on different calls
    model.eval()
    assert torch.equal(model(x, x[:, :4]), model(x, x[:, :4]))


def _starts_ok(tokens: tuple[int, ...], starts: list[tuple[tuple[int, ...], bool]]) -> bool:
    for seq, complete in starts:
        if complete and tokens == seq:
            return True
        if not complete and tokens[: len(seq)] == seq:
            return True
    return False


@torch.no_grad()
def test_constrained_decoding_follows_the_allowed_starts() -> None:
    model = small_model(seed=4)
    mem, mask = memory(model, inputs())
    # input 0: two complete tactics and one open start; input 1: free; input 2: one complete tactic;
    # input 3: one open start
    starts: list[list[tuple[tuple[int, ...], bool]] | None] = [
        [((5, 6, 7), True), ((5, 8), True), ((9, 10), False)], None, [((11,), True)], [((12, 13), False)]]
    cons = [PrefixConstraint(s, EOS) if s is not None else None for s in starts]
    assert cons[0] is not None and cons[0].depth == 4 and cons[0].allowed([5]) == [6, 8]
    assert cons[0].allowed([9, 10]) is None and cons[0].allowed([]) == [5, 9]
    # a complete start that extends an open one (Metamath's `syl $s ps $= ...` read off a hypothesis beside
    # `syl $s ps $=`) does not close the open one: past it the row is free
    ext = PrefixConstraint([((9, 10, 11, 12), True), ((9, 10), False), ((5,), True)], EOS)
    assert ext.allowed([]) == [5, 9] and ext.allowed([9]) == [10]
    assert ext.allowed([9, 10]) is None and ext.allowed([9, 10, 11]) is None
    free = sample(model, mem, mask, n_samples=24, max_len=10, eos=EOS, temperature=3.0,
                  seeds=torch.arange(4))
    for kw in ({"n_samples": 24, "temperature": 3.0, "seeds": torch.arange(4)}, {"n_samples": 24, "greedy": False}):
        out = sample(model, mem, mask, max_len=10, eos=EOS, constraints=cons, **kw)  # type: ignore[arg-type]
        for i in (0, 2, 3):
            allowed = starts[i]
            assert out[i] and allowed is not None and all(_starts_ok(h.tokens, allowed) for h in out[i])
        assert {h.tokens for h in out[2]} == {(11,)} and out[2][0].score == pytest.approx(0.0, abs=1e-5)
        assert len({h.tokens[:2] for h in out[0]}) >= 2  # the constraint leaves a choice, not one path
    assert starts[0] is not None
    assert not all(_starts_ok(h.tokens, starts[0]) for h in free[0])  # unconstrained, the model strays
    beams = beam_search(model, mem, mask, beam_size=4, n_best=4, max_len=10, eos=EOS, constraints=cons)
    assert all(_starts_ok(h.tokens, starts[0]) for h in beams[0])
    assert [h.tokens for h in beams[2]] == [(11,)]


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@torch.no_grad()
def test_teacher_forced_scores_equal_sampling_scores(temperature: float) -> None:
    """Scoring a sampled sequence gives back the score sampling gave it (same distribution, no top-k/p)."""
    from hyperprover.model.decoding import score_sequences

    model = small_model(3)
    mem, mask = memory(model, inputs())
    g = torch.Generator().manual_seed(2)
    hyps = sample(model, mem, mask, n_samples=5, max_len=10, eos=EOS, temperature=temperature, generator=g,
                  length_penalty=0.5)
    rows = [(i, h) for i, hs in enumerate(hyps) for h in hs]
    assert len(rows) >= 8
    scores = score_sequences(model, mem, mask, [i for i, _ in rows], [h.tokens for _, h in rows], EOS,
                             temperature=temperature, length_penalty=0.5)
    for (_, h), s in zip(rows, scores):
        assert s == pytest.approx(h.score, abs=1e-4)
    # sequences that share prefixes (decoded once, as a trie), across inputs, equal each scored alone
    shared = [(0, (5, 6, 7)), (0, (5, 6)), (0, (5, 9, 7, 7)), (2, (5, 6)), (2, ()), (1, (8,)), (0, (5, 6, 8))]
    together = score_sequences(model, mem, mask, [i for i, _ in shared], [s for _, s in shared], EOS, temperature)
    alone = [score_sequences(model, mem, mask, [i], [s], EOS, temperature)[0] for i, s in shared]
    assert together == pytest.approx(alone, abs=1e-5)
    # and they are log-probabilities: over every sequence of length <= 1, the mass sums to one
    one_step = [(t,) for t in range(VOCAB) if t != EOS] + [()]
    tot = torch.tensor(score_sequences(model, mem, mask, [0] * len(one_step), one_step, EOS)).exp()
    assert float(tot.sum()) <= 1.0 + 1e-5


@st.composite
def _scoring_cases(draw: st.DrawFn) -> tuple:
    """Sequences of 1-3 inputs that share prefixes, each input constrained (complete and open starts) or free."""
    n_inputs = draw(st.integers(1, 3))
    tok = st.integers(3, VOCAB - 1)
    inputs, seqs = [], []
    for i in range(n_inputs):
        stem = draw(st.lists(tok, max_size=8))
        for _ in range(draw(st.integers(0, 8))):
            cut = draw(st.integers(0, len(stem)))
            inputs.append(i)
            seqs.append((*stem[:cut], *draw(st.lists(tok, max_size=4))))
    constraints = None
    if draw(st.booleans()):
        constraints = []
        for i in range(n_inputs):
            mine = [s for j, s in zip(inputs, seqs) if j == i]
            starts = [(s, True) for s in mine if draw(st.booleans())]
            starts += [(s[: draw(st.integers(0, len(s)))], False) for s in mine if draw(st.integers(0, 4)) == 0]
            constraints.append(PrefixConstraint(starts, EOS) if draw(st.integers(0, 5)) else None)
    body = sorted(draw(st.sets(tok, min_size=5, max_size=30)) | {EOS}) if draw(st.booleans()) else None
    temperature = draw(st.sampled_from([1.0, 0.7, 1.6]))
    return inputs, seqs, constraints, body, temperature, draw(st.sampled_from([0.0, 1.0]))


@settings(max_examples=60, deadline=None)
@given(_scoring_cases())
@torch.no_grad()
def test_tree_scores_equal_the_reference_scores(case: tuple) -> None:
    """The radix-tree scorer (the fast path) gives the reference trie's scores within float rounding, -inf where
    the reference has -inf (a token the constraint or the body vocabulary excludes)."""
    from hyperprover.model.decoding import score_sequences
    from hyperprover.model.scoring import score_tree

    inputs_, seqs, constraints, body, temperature, penalty = case
    model = small_model(6)
    mem, mask = memory(model, inputs())
    vocab = torch.tensor(body) if body is not None else None
    ref = score_sequences(model, mem, mask, inputs_, seqs, EOS, temperature, penalty, constraints, vocab)
    tree = score_tree(model, mem, mask, inputs_, seqs, EOS, temperature, penalty, constraints, vocab)
    assert [r == float("-inf") for r in ref] == [t == float("-inf") for t in tree]
    assert [t for t in tree if t != float("-inf")] == pytest.approx([r for r in ref if r != float("-inf")],
                                                                    abs=1e-4)

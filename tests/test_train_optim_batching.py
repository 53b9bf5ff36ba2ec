"""Optimizer strings and schedules, token-budget batching, MASS masking, task registry errors."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.config import ConfigError
from hyperprover.model.dictionary import SPECIAL_WORDS, Dictionary
from hyperprover.train.batching import TokenPool, batch_cost, collate, item_lengths
from hyperprover.train.config import TrainConfig, task_weights
from hyperprover.train.latex import mass_mask
from hyperprover.train.optim import OptimizerConfigError, build_optimizer, lr_schedule, parse_optimizer
from hyperprover.train.tasks import TaskError, make_task


@pytest.mark.parametrize("text, field", [
    ("adam_inverse_sqrt,warmup=10,lr=0.1", "warmup"),
    ("adam,lr=abc", "lr"),
    ("adam,lr0.1", "lr0.1"),
    ("adamw,lr=0.1", "adamw"),
    ("adam,lr=0.1,lr=0.2", "lr"),
    ("sgd,momentum=0.9", "lr"),
    ("adam_warmup,warmup_updates=-3", "warmup_updates"),
])
def test_optimizer_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(OptimizerConfigError) as e:
        parse_optimizer(text)
    assert field in str(e.value) and str(e.value).startswith("--optimizer")


def test_schedules() -> None:
    inv = lr_schedule(parse_optimizer("adam_inverse_sqrt,warmup_updates=100,lr=0.001,warmup_init_lr=0"))
    assert inv(0) == 0 and inv(50) == pytest.approx(0.0005) and inv(100) == pytest.approx(0.001)
    assert inv(400) == pytest.approx(0.0005)  # lr * sqrt(100 / 400)
    warm = lr_schedule(parse_optimizer("adam_warmup,warmup_updates=10,lr=0.01,warmup_init_lr=0"))
    assert warm(5) == pytest.approx(0.005) and warm(10_000) == 0.01
    cos = lr_schedule(parse_optimizer("adam_cosine,warmup_updates=0,lr=1,min_lr=0,init_period=10,lr_shrink=0.5"))
    assert cos(0) == pytest.approx(1) and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(0.5)
    spec = parse_optimizer("adam,lr=0.01,weight_decay=0.1,beta2=0.98")
    opt, _ = build_optimizer([torch.nn.Parameter(torch.ones(2))], spec)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["betas"] == (0.9, 0.98)
    sgd, _ = build_optimizer([torch.nn.Parameter(torch.ones(2))], parse_optimizer("sgd,lr=0.1,momentum=0.9"))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(3, 60), st.integers(3, 30)), min_size=30, max_size=120),
       st.integers(100, 900), st.integers(1, 16), st.integers(0, 10_000))
def test_token_pool_batches_fit_the_budget(lengths: list[tuple[int, int]], tokens: int, max_seqs: int,
                                           seed: int) -> None:
    items = iter([(tuple(range(a)), tuple(range(b))) for a, b in lengths] * 100)
    pool = TokenPool(items, 20, tokens, max_seqs, random.Random(seed))  # type: ignore[arg-type]
    for _ in range(15):
        batch = pool.next_batch()
        ls = [item_lengths(it) for it in batch]
        assert 1 <= len(batch) <= max_seqs
        assert len(batch) == 1 or batch_cost(ls) <= tokens
        assert ls == sorted(ls)  # a run of the length-sorted pool


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 10_000))
def test_mass_mask_span(n_inner: int, seed: int) -> None:
    vocab = 80
    ids = (1, *[int(v) for v in np.random.default_rng(seed).integers(54, vocab, n_inner)], 1)
    ex = mass_mask(ids, np.random.default_rng(seed), 4, len(SPECIAL_WORDS), vocab)
    k = len(ex.target)
    assert k == max(1, -(-n_inner // 2))
    start = ex.dec_pos[0] + 1
    assert ids[start: start + k] == ex.target and ex.dec_in == ids[start - 1: start + k - 1]
    assert ex.x[0] == ex.x[-1] == 1 and not ex.ignore[0]  # delimiters never masked, decoder always sees one
    assert all(ex.x[i] == ids[i] for i in range(len(ids)) if not start <= i < start + k)
    assert all(ex.x[i] == 4 for i in range(len(ids)) if ex.ignore[i])


def test_collate_seq2seq_shifts_targets() -> None:
    d = Dictionary.build(Counter({"a": 2, "b": 1}))
    items = [(d.encode(["a"]).ids, d.encode(["a", "b"]).ids), (d.encode(["b", "b"]).ids, d.encode(["b"]).ids)]
    b = collate("seq2seq", items, d)
    assert b.dec_in is not None and b.target is not None
    assert b.dec_in[0].tolist() == [d.eos, d.word2id["a"], d.word2id["b"]]
    assert b.target[0].tolist() == [d.word2id["a"], d.word2id["b"], d.eos]
    assert b.target[1].tolist() == [d.word2id["b"], d.eos, d.pad]
    assert b.n_seqs == 2


def test_task_config_errors() -> None:
    with pytest.raises(TaskError, match="Equations tasks are eq_bwd_<rwalk|idwalk|graph>_seq2seq"):
        make_task("eq_bwd_rwalk_seq2seqq", TrainConfig())
    with pytest.raises(TaskError, match="did you mean latex_mass"):
        make_task("latex_mas", TrainConfig())
    with pytest.raises(ConfigError, match="tasks_weight"):
        task_weights(TrainConfig(tasks="latex_mass,eq_bwd_rwalk_seq2seq", tasks_weight="1"))
    with pytest.raises(ConfigError, match="no_train"):
        task_weights(TrainConfig(tasks="latex_mass", no_train="eq_bwd_rwalk_seq2seq"))
    tasks, trained, w = task_weights(TrainConfig(tasks="a_seq2seq,b_seq2seqtok", tasks_weight="1,3",
                                                 no_train="b_seq2seqtok"))
    assert trained == ["a_seq2seq"] and w == [1.0]


def test_label_smoothing_weights() -> None:
    from hyperprover.train.metrics import token_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    target = torch.tensor([[4, 5, 2], [6, 2, 2]])  # 2 is padding
    plain, n = token_loss(logits, target, pad=2)
    assert n == 3
    lp = logits.log_softmax(-1)
    picks = [lp[0, 0, 4], lp[0, 1, 5], lp[1, 0, 6]]
    assert plain.item() == pytest.approx(-sum(float(p) for p in picks) / 3, rel=1e-5)
    eps = 0.3
    smooth, _ = token_loss(logits, target, pad=2, eps=eps)
    # the target class gets weight 1 - eps, each of the 6 others eps / 6
    rows = [(0, 0, 4), (0, 1, 5), (1, 0, 6)]
    manual = 0.0
    for b, t, c in rows:
        w = torch.full((7,), eps / 6)
        w[c] = 1 - eps
        manual += float(-(w * lp[b, t]).sum())
    assert smooth.item() == pytest.approx(manual / 3, rel=1e-5)

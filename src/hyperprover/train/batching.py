"""Records -> padded tensor batches: token-budget batches from a length-sorted pool (training), fixed
batches in order (valid/test), MASS masking of text chunks.

Training data is generated on the fly inside torch DataLoader worker processes (`TaskBatches` is an
IterableDataset yielding whole batches), each worker with its own seed.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from hyperprover.model.dictionary import SPECIAL_WORDS, Dictionary
from hyperprover.train.config import BatchConfig
from hyperprover.train.latex import mass_mask
from hyperprover.train.tasks import CriticRecord, Record, Seq2SeqRecord, Task

# an encoded example: (input ids, output ids) for seq2seq, (input ids, q) for critic, (ids, ()) for mass
Item = tuple[tuple[int, ...], tuple[int, ...] | float]


@dataclass(frozen=True)
class Batch:
    objective: str
    x: Tensor  # (n, src_len) encoder input
    dec_in: Tensor | None = None  # (n, tgt_len) decoder input
    dec_pos: Tensor | None = None  # (n, tgt_len) decoder positions
    target: Tensor | None = None  # (n, tgt_len) next-token targets, pad where nothing is predicted
    src_ignore: Tensor | None = None  # (n, src_len) encoder positions the decoder must not read (<MASK>)
    q: Tensor | None = None  # (n,) critic targets
    n_seqs: int = 0
    n_tokens: int = 0  # real (non-pad) input + output tokens

    def to(self, device: torch.device) -> Batch:
        def mv(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return replace(self, x=self.x.to(device, non_blocking=True), dec_in=mv(self.dec_in), dec_pos=mv(self.dec_pos),
                       target=mv(self.target), src_ignore=mv(self.src_ignore), q=mv(self.q))


def encode_record(rec: Record, objective: str, dico: Dictionary) -> Item:
    # unknown words become <unk>: a data/vocabulary mismatch must not stop a training run
    if objective == "seq2seq":
        assert isinstance(rec, Seq2SeqRecord), f"seq2seq task produced {type(rec).__name__}"
        return dico.encode(rec.x).ids, dico.encode(rec.y).ids
    if objective == "critic":
        assert isinstance(rec, CriticRecord), f"critic task produced {type(rec).__name__}"
        return dico.encode(rec.x).ids, rec.q
    assert isinstance(rec, tuple), f"mass task produced {type(rec).__name__}"
    return dico.encode(rec).ids, ()


def item_lengths(item: Item) -> tuple[int, int]:
    return len(item[0]), len(item[1]) if isinstance(item[1], tuple) else 1


def _pad(seqs: Sequence[Sequence[int]], value: int) -> Tensor:
    out = torch.full((len(seqs), max(len(s) for s in seqs)), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(objective: str, items: Sequence[Item], dico: Dictionary, rng: np.random.Generator | None = None,
            ) -> Batch:
    pad = dico.pad
    if objective == "critic":
        x = _pad([it[0] for it in items], pad)
        q = torch.tensor([float(it[1]) for it in items], dtype=torch.float32)  # type: ignore[arg-type]
        return Batch(objective, x, q=q, n_seqs=len(items), n_tokens=int((x != pad).sum()))
    if objective == "seq2seq":
        x = _pad([it[0] for it in items], pad)
        ys = [it[1] for it in items]
        assert all(isinstance(y, tuple) for y in ys)
        dec_in = _pad([y[:-1] for y in ys], pad)  # type: ignore[index]
        target = _pad([y[1:] for y in ys], pad)  # type: ignore[index]
        pos = torch.arange(dec_in.size(1)).expand_as(dec_in).contiguous()
        n_tok = int((x != pad).sum()) + int((target != pad).sum()) + len(items)
        return Batch(objective, x, dec_in, pos, target, n_seqs=len(items), n_tokens=n_tok)
    rng = rng if rng is not None else np.random.default_rng()
    exs = [mass_mask(it[0], rng, dico.mask, len(SPECIAL_WORDS), len(dico)) for it in items]
    x = _pad([e.x for e in exs], pad)
    ignore = _pad([[int(b) for b in e.ignore] for e in exs], 0).bool()
    target = _pad([e.target for e in exs], pad)
    n_tok = int((x != pad).sum()) + int((target != pad).sum())
    return Batch(objective, x, _pad([e.dec_in for e in exs], pad), _pad([e.dec_pos for e in exs], 0), target,
                 ignore, n_seqs=len(items), n_tokens=n_tok)


def batch_cost(lengths: Sequence[tuple[int, int]]) -> int:
    """Padded tokens of a batch: n * (longest input + longest output)."""
    return len(lengths) * (max(a for a, _ in lengths) + max(b for _, b in lengths))


class TokenPool:
    """A pool of examples sorted by (input length, output length); batches are consecutive runs from a random
    start, as long as the padded cost stays within `tokens` and the count within `max_seqs`."""

    def __init__(self, source: Iterator[Item], size: int, tokens: int, max_seqs: int, rng: random.Random) -> None:
        self.source, self.size, self.tokens, self.max_seqs, self.rng = source, size, tokens, max_seqs, rng
        self.keys: list[tuple[int, int, int]] = []  # (len x, len y, arrival) keeps the list sorted and unique
        self.items: list[Item] = []
        self.counter = 0

    def _fill(self) -> None:
        while len(self.items) < self.size:
            it = next(self.source)
            a, b = item_lengths(it)
            key = (a, b, self.counter)
            self.counter += 1
            i = bisect.bisect(self.keys, key)
            self.keys.insert(i, key)
            self.items.insert(i, it)

    def next_batch(self) -> list[Item]:
        self._fill()
        start = self.rng.randrange(len(self.items))
        lo, hi = start, start + 1  # take [lo, hi)

        def fits(l2: int, h2: int) -> bool:
            return h2 - l2 <= self.max_seqs and batch_cost([k[:2] for k in self.keys[l2:h2]]) <= self.tokens

        while hi < len(self.items) and fits(lo, hi + 1):
            hi += 1
        while lo > 0 and fits(lo - 1, hi):
            lo -= 1
        batch = self.items[lo:hi]
        del self.items[lo:hi]
        del self.keys[lo:hi]
        return batch


def worker_seed(base: int) -> int:
    info = get_worker_info()
    wid = info.id if info is not None else 0
    return (base * 1_000_003 + wid * 7_919 + 17) % (2**31 - 1)


class TaskBatches(IterableDataset[Batch]):
    """Endless training batches of one task (token-budget batches; MASS: `batch.size` chunks)."""

    def __init__(self, task: Task, dico: Dictionary, cfg: BatchConfig, seed: int, pool_size: int) -> None:
        super().__init__()
        self.task, self.dico, self.cfg, self.seed, self.pool_size = task, dico, cfg, seed, pool_size

    def items(self, seed: int) -> Iterator[Item]:
        max_len = self.cfg.max_len
        for rec in self.task.train(seed):
            it = encode_record(rec, self.task.objective, self.dico)
            a, b = item_lengths(it)
            if a <= max_len and b <= max_len:
                yield it

    def __iter__(self) -> Iterator[Batch]:
        seed = worker_seed(self.seed)
        torch.manual_seed(seed)
        items = self.items(seed)
        if self.task.objective == "mass":
            rng = np.random.default_rng(seed)
            while True:
                yield collate("mass", [next(items) for _ in range(self.cfg.size)], self.dico, rng)
        pool = TokenPool(items, self.pool_size, self.cfg.tokens, self.cfg.size, random.Random(seed))
        while True:
            yield collate(self.task.objective, pool.next_batch(), self.dico)


def eval_batches(task: Task, records: Sequence[Record], dico: Dictionary, cfg: BatchConfig) -> list[Batch]:
    """Fixed valid/test batches of `batch.size` examples, length-sorted; MASS masks with seed 0 so the same
    positions are masked at every evaluation."""
    items = [encode_record(r, task.objective, dico) for r in records]
    items = [it for it in items if max(item_lengths(it)) <= cfg.max_len]
    items.sort(key=item_lengths)
    rng = np.random.default_rng(0)
    return [collate(task.objective, items[i: i + cfg.size], dico, rng) for i in range(0, len(items), cfg.size)]

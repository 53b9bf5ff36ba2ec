"""Losses, evaluation metrics (`{split}-{task}-{metric}`), the stopping criterion and best-model tracking.

`_` in front of a metric name (stopping_criterion, validation_metrics) means lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from hyperprover.config import ConfigError
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.train.batching import Batch


def token_loss(logits: Tensor, target: Tensor, pad: int, eps: float = 0.0) -> tuple[Tensor, int]:
    """Mean cross-entropy over non-pad targets (fp32) with label smoothing: the target gets weight 1-eps and
    each other class eps/(V-1). Returns (loss, number of predicted tokens)."""
    keep = target != pad
    lp = logits[keep].float().log_softmax(-1)
    tgt = target[keep]
    nll = -lp.gather(1, tgt[:, None]).squeeze(1)
    if eps > 0:
        v = lp.size(-1)
        eps_i = eps / (v - 1)
        loss = (1 - eps - eps_i) * nll + eps_i * (-lp.sum(-1))
    else:
        loss = nll
    return loss.mean(), int(tgt.numel())


def critic_loss(logits2: Tensor, q: Tensor) -> Tensor:
    """Soft binary cross-entropy of log p(SOLVABLE) against q, averaged over the batch (the original summed it
    for supervised critic tasks; averaging keeps its scale independent of the token-budget batch size)."""
    lp = logits2.float().log_softmax(-1)
    return -(q * lp[:, 0] + (1 - q) * lp[:, 1]).mean()


def forward_loss(model: Seq2SeqTransformer, batch: Batch, dico: Dictionary, eps: float = 0.0,
                 ) -> tuple[Tensor, Tensor | None]:
    """(loss, logits or critic logits) of one batch."""
    if batch.objective == "critic":
        enc, src_mask = model.encode(batch.x)
        logits2 = model.critic_logits(model.decoder.memory(enc), src_mask, dico.critic, dico.solvable,
                                      dico.non_solvable)
        assert batch.q is not None
        return critic_loss(logits2, batch.q), logits2
    assert batch.dec_in is not None and batch.target is not None
    logits = model(batch.x, batch.dec_in, batch.dec_pos, batch.src_ignore)
    loss, _ = token_loss(logits, batch.target, dico.pad, eps)
    return loss, logits


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = sum(r for r, y in zip(ranks, labels) if y)
    return (r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


@torch.no_grad()
def evaluate_batches(model: Seq2SeqTransformer, batches: Sequence[Batch], dico: Dictionary,
                     device: torch.device) -> dict[str, float]:
    """tok-ppl, tok-acc, seq-acc for token objectives; tok-ppl, tok-acc, roc-auc for the critic."""
    model.eval()
    if not batches:
        return {}
    if batches[0].objective == "critic":
        total, n, right, scores, labels = 0.0, 0, 0, [], []
        for b in batches:
            b = b.to(device)
            loss, logits2 = forward_loss(model, b, dico)
            assert logits2 is not None and b.q is not None
            p = logits2.float().softmax(-1)[:, 0]
            total += float(loss) * b.n_seqs
            n += b.n_seqs
            right += int(((p >= 0.5) == (b.q >= 0.5)).sum())
            scores += p.tolist()
            labels += (b.q >= 0.5).long().tolist()
        return {"tok-ppl": math.exp(min(total / n, 50.0)), "tok-acc": 100.0 * right / n,
                "roc-auc-score": roc_auc(scores, labels)}
    nll, n_tok, right, seq_right, n_seq = 0.0, 0, 0, 0, 0
    for b in batches:
        b = b.to(device)
        _, logits = forward_loss(model, b, dico)
        assert logits is not None and b.target is not None
        keep = b.target != dico.pad
        lp = logits.float().log_softmax(-1)
        tok_nll = -lp.gather(2, b.target[..., None]).squeeze(2)
        nll += float(tok_nll[keep].sum())
        n_tok += int(keep.sum())
        ok = (lp.argmax(-1) == b.target) | ~keep
        right += int((ok & keep).sum())
        seq_right += int(ok.all(1).sum())
        n_seq += b.n_seqs
    return {"tok-ppl": math.exp(min(nll / max(n_tok, 1), 50.0)), "tok-acc": 100.0 * right / max(n_tok, 1),
            "seq-acc": 100.0 * seq_right / max(n_seq, 1)}


def parse_metric(s: str, option: str) -> tuple[str, bool]:
    """`_valid-x-tok-ppl` -> ("valid-x-tok-ppl", lower_is_better=True)."""
    s = s.strip()
    if not s or s == "_":
        raise ConfigError(f"--{option}: empty metric name")
    return (s[1:], True) if s.startswith("_") else (s, False)


def parse_stopping(s: str) -> tuple[str, bool, int] | None:
    if not s:
        return None
    parts = s.rsplit(",", 1)
    if len(parts) != 2:
        raise ConfigError(f"--stopping_criterion {s!r}: expected METRIC,N (e.g. _valid-latex_mass-tok-ppl,10)")
    try:
        patience = int(parts[1])
    except ValueError:
        raise ConfigError(f"--stopping_criterion {s!r}: N must be an integer") from None
    if patience < 1:
        raise ConfigError(f"--stopping_criterion {s!r}: N must be >= 1")
    name, lower = parse_metric(parts[0], "stopping_criterion")
    if name.endswith("-proven"):
        raise ConfigError(f"--stopping_criterion {name}: asynchronous -proven metrics are not known at eval time")
    return name, lower, patience


@dataclass
class Tracker:
    """Best values of the validation metrics and the stopping counter; saved in checkpoints."""

    metrics: list[tuple[str, bool]]
    stopping: tuple[str, bool, int] | None
    best: dict[str, float] = field(default_factory=dict)
    stop_best: float | None = None
    stop_count: int = 0

    def improved(self, scores: dict[str, Any]) -> list[str]:
        """Metrics that reached a new best (their best-<metric>.pth is due)."""
        out = []
        for name, lower in self.metrics:
            if name not in scores:
                raise ConfigError(f"--validation_metrics {name}: no such score; scores are "
                                  f"{', '.join(sorted(k for k in scores if k != 'epoch'))}")
            v = float(scores[name])
            old = self.best.get(name)
            if math.isfinite(v) and (old is None or (v < old if lower else v > old)):
                self.best[name] = v
                out.append(name)
        return out

    def should_stop(self, scores: dict[str, Any]) -> bool:
        if self.stopping is None:
            return False
        name, lower, patience = self.stopping
        if name not in scores:
            raise ConfigError(f"--stopping_criterion {name}: no such score; scores are "
                              f"{', '.join(sorted(k for k in scores if k != 'epoch'))}")
        v = float(scores[name])
        if self.stop_best is None or (v < self.stop_best if lower else v > self.stop_best):
            self.stop_best, self.stop_count = v, 0
        else:
            self.stop_count += 1
        return self.stop_count >= patience

    def state(self) -> dict[str, Any]:
        return {"best": dict(self.best), "stop_best": self.stop_best, "stop_count": self.stop_count}

    def load(self, state: dict[str, Any]) -> None:
        self.best = {str(k): float(v) for k, v in state.get("best", {}).items()}
        self.stop_best = state.get("stop_best")
        self.stop_count = int(state.get("stop_count", 0))


def greedy_proving_metrics(model: Seq2SeqTransformer, dico: Dictionary, env_name: str, n_theorems: int,
                           split: str, device: torch.device) -> dict[str, float]:
    """`--n_th_to_prove`: the share (in %) of the first `n_theorems` theorems of `split` that a greedy search
    with this model proves (one greedy tactic per open goal), as `{split}-{env}-greedy-proved`."""
    from hyperprover.envs.base import make_env
    from hyperprover.model.expander import TransformerExpander
    from hyperprover.search.config import ProverConfig, SearchConfig
    from hyperprover.search.expander import DecodingConfig
    from hyperprover.search.prover import Prover

    env = make_env(env_name)
    theorems = env.theorems(split)[:n_theorems]
    if not theorems:
        return {}
    was_training = model.training
    model.eval()
    try:
        expander = TransformerExpander(model, dico, env, device=device)
        decoding = DecodingConfig(n_samples=1, use_sampling=False, use_beam=False)
        prover = Prover(env, expander, SearchConfig(), decoding,
                        ProverConfig("greedy", n_simultaneous_proofs=min(16, len(theorems))))
        with prover:
            proved = sum(rec.proved for rec in prover.prove(theorems))
    finally:
        model.train(was_training)
    return {f"{split}-{env_name}-greedy-proved": 100.0 * proved / len(theorems)}

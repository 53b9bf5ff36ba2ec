"""Decoding: batched sampling / greedy, (stochastic) beam search, and the critic.

All decoders work on a grid of `batch x group` rows (samples or beams of one input are adjacent rows),
read cross-attention keys/values computed once per input, and drop an input from the grid as soon as
all its rows are finished (its cache rows go with it). Sampling also narrows the group to the most rows
still running in any input once a quarter of them are done (seeded draws follow their rows, so the
samples do not change). With `use_cache=False` every step re-runs the
decoder on the whole prefix: same results, used as the reference in tests and the benchmark.

Scores are sum of token log-probs of the distribution actually sampled from (temperature, top-k, top-p
included: the search uses them as priors), divided by length**length_penalty, where
length counts the generated tokens including the stop token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperprover.model.transformer import KVCache, Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig


class DecodingError(ValueError):
    """Inconsistent decoding parameters."""


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]  # generated ids, without the leading `</s>` and the stop token
    score: float
    raw: float | None = None  # with `sample(raw_scores=True)`: the teacher-forced score of `score_sequences`


def check_params(p: DecodingConfig) -> None:
    if p.n_samples == 0 and not p.score_enumerated:
        raise DecodingError("n_samples 0 samples no tactic; it needs --decoding.score_enumerated true (the model "
                            "then scores the complete applicable tactics only), or set --decoding.n_samples >= 1")
    if p.n_samples > 1 and not (p.use_beam or p.use_sampling):
        raise DecodingError(f"greedy decoding gives one tactic but n_samples is {p.n_samples}; "
                            "set use_sampling or use_beam, or n_samples 1")


class _Grid:
    """The decoder state shared by the sampling and beam loops: rows, memory, cache, input ids."""

    def __init__(self, model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor,
                 group: int, bos: int, use_cache: bool) -> None:
        self.model, self.memory, self.src_mask, self.group = model, memory, src_mask, group
        b = src_mask.size(0)
        self.inputs = torch.arange(b, device=src_mask.device)  # original index of each active input
        self.tokens = torch.full((b * group, 1), bos, dtype=torch.long, device=src_mask.device)
        self.cache: list[KVCache] | None = model.decoder.new_cache() if use_cache else None

    def next_logits(self, vocab: Tensor | None = None) -> Tensor:
        """fp32 logits (rows, words) of the token after the current prefix of every row: of every word, or of
        the words `vocab` (ids) alone, in that order."""
        dec = self.model.decoder
        t = self.tokens.size(1)
        if self.cache is not None:
            pos = torch.full((self.tokens.size(0), 1), t - 1, dtype=torch.long, device=self.tokens.device)
            h = dec(self.tokens[:, -1:], pos, self.memory, self.src_mask, self.group, self.cache)
        else:
            pos = torch.arange(t, device=self.tokens.device).expand_as(self.tokens)
            h = dec(self.tokens, pos, self.memory, self.src_mask, self.group)
        return project(dec.proj, h[:, -1], vocab)

    def reorder(self, rows: Tensor, new_tokens: Tensor) -> None:
        """Keep `rows` (beam reordering) and append one token to each."""
        self.tokens = torch.cat([self.tokens.index_select(0, rows), new_tokens[:, None]], dim=1)
        if self.cache is not None:
            for c in self.cache:
                c.select(rows)

    def append(self, new_tokens: Tensor) -> None:
        self.tokens = torch.cat([self.tokens, new_tokens[:, None]], dim=1)

    def keep_inputs(self, keep: Tensor) -> Tensor:
        """Keep the inputs where `keep` (bool over active inputs); returns the kept row indices."""
        idx = keep.nonzero().squeeze(1)
        rows = (idx[:, None] * self.group + torch.arange(self.group, device=idx.device)).reshape(-1)
        self.regroup(keep, rows, self.group)
        return rows

    def regroup(self, keep: Tensor, rows: Tensor, group: int) -> None:
        """Keep the inputs where `keep`, now with `group` rows each: new row j is old row `rows[j]`."""
        idx = keep.nonzero().squeeze(1)
        self.inputs = self.inputs.index_select(0, idx)
        self.memory = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in self.memory]
        self.src_mask = self.src_mask.index_select(0, idx)
        self.tokens = self.tokens.index_select(0, rows)
        if self.cache is not None:
            for c in self.cache:
                c.select(rows)
        self.group = group


def project(proj: torch.nn.Linear, h: Tensor, vocab: Tensor | None = None) -> Tensor:
    """fp32 logits (rows, words): of every word, or of the words `vocab` (ids) alone, from those rows of the
    output projection. With Metamath's ~42k words, mostly labels that only a tactic's first word can be, a
    step over the whole vocabulary costs more in its softmax and draw than in the decoder layers."""
    if vocab is None:
        return proj(h).float()
    bias = proj.bias.index_select(0, vocab) if proj.bias is not None else None
    return F.linear(h, proj.weight.index_select(0, vocab), bias).float()


def tempered(logits: Tensor, temperature: float) -> Tensor:
    """logits / temperature, without the copy at temperature 1 (a Metamath step's logits are ~40k wide)."""
    return logits if temperature == 1.0 else logits / temperature


def first_words(constraints: Sequence[PrefixConstraint | None] | None, n_inputs: int,
                device: torch.device) -> Tensor | None:
    """The words any input may start with when every input is constrained (else None: all words)."""
    if constraints is None or len(constraints) != n_inputs:
        return None
    words: set[int] = set()
    for c in constraints:
        ok = c.allowed(()) if c is not None else None
        if ok is None:
            return None
        words.update(ok)
    return torch.tensor(sorted(words), dtype=torch.long, device=device)


def _filter_logits(logits: Tensor, top_k: int, top_p: float) -> Tensor:
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the strictly better tokens
        drop = before >= top_p
        drop[:, 0] = False
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return logits


_MASK64 = (1 << 64) - 1


def _i64(x: int) -> int:
    """A 64-bit pattern as the signed value torch.int64 holds."""
    x &= _MASK64
    return x - (1 << 64) if x >= 1 << 63 else x


def _shr(x: Tensor, n: int) -> Tensor:
    """Logical right shift of int64 bit patterns (torch's >> is arithmetic)."""
    return (x >> n) & ((1 << (64 - n)) - 1)


def _mix(x: Tensor) -> Tensor:
    """SplitMix64 finaliser on int64 tensors (multiplications wrap modulo 2**64)."""
    x = (x ^ _shr(x, 30)) * _i64(0xBF58476D1CE4E5B9)
    x = (x ^ _shr(x, 27)) * _i64(0x94D049BB133111EB)
    return x ^ _shr(x, 31)


def row_keys(seeds: Tensor, n_samples: int) -> Tensor:
    """One int64 key per (input, sample) row, from one seed per input."""
    j = torch.arange(n_samples, device=seeds.device, dtype=torch.long)
    return _mix(seeds[:, None] * _i64(0x9E3779B97F4A7C15) + j[None, :] + 1).reshape(-1)


def _keyed_draw(probs: Tensor, keys: Tensor, step: int) -> Tensor:
    """Inverse-CDF draw of one token per row from a uniform that is a hash of (row key, step): a row's
    samples do not depend on the other rows of the batch, as they would with a shared generator."""
    z = _mix(keys + _i64((step + 1) * 0x9E3779B97F4A7C15))
    u = _shr(z, 11).double() / float(1 << 53)
    cdf = probs.double().cumsum(-1)
    nxt = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(1)
    return nxt.clamp_(max=probs.size(1) - 1)


class PrefixConstraint:
    """The token sequences one input's outputs must start with (constrained decoding).

    A row whose generated tokens are a proper prefix of an allowed start may only continue along one; a
    `complete` start is the whole output (the stop token must follow); past an incomplete start the row
    is free. No starts at all: the row is free (there is nothing better to propose).

    The starts are kept as a token trie (`root`: token -> child, `OPEN` marks the end of an incomplete start),
    built in time linear in their length: Metamath goals have ~200 starts of up to ~250 tokens."""

    OPEN = -1  # a key that no token id takes

    def __init__(self, starts: Iterable[tuple[Sequence[int], bool]], eos: int) -> None:
        self.root: dict[int, dict] = {}
        self.depth = 0
        self._seen: dict[tuple[int, ...], dict[int, dict] | None] = {}
        for seq, complete in starts:
            full = (*seq, eos) if complete else tuple(seq)
            node = self.root
            for tok in full:
                nxt = node.get(tok)
                if nxt is None:
                    nxt = node[tok] = {}
                node = nxt
            if not complete and full:
                node[self.OPEN] = {}
            self.depth = max(self.depth, len(full))

    def child(self, node: dict[int, dict] | None, token: int) -> dict[int, dict] | None:
        """The trie node after `token`, or None once the row is free: it left the starts or a complete start
        extends an incomplete one (`syl $s ps $= ...` beside `syl $s ps $=`): past the incomplete one the row
        stays free, whatever complete starts continue it."""
        nxt = None if node is None else node.get(token)
        return None if nxt is None or self.OPEN in nxt else nxt

    @staticmethod
    def tokens(node: dict[int, dict] | None) -> list[int] | None:
        """The tokens that may follow `node` (sorted), or None when any may."""
        return sorted(node) if node else None

    def allowed(self, generated: Sequence[int]) -> list[int] | None:
        """The tokens that may come next, or None when any may."""
        return self.tokens(self._node(tuple(generated)))

    def _node(self, prefix: tuple[int, ...]) -> dict[int, dict] | None:
        # decoders ask for a prefix after its parent (one more token per step): one step from the parent's node
        k = len(prefix)
        while k and prefix[:k] not in self._seen:
            k -= 1
        node = self._seen[prefix[:k]] if k else self.root
        for j in range(k, len(prefix)):
            node = self.child(node, prefix[j])
            self._seen[prefix[: j + 1]] = node
        return node


def _masked(logits: Tensor, grid: _Grid, word_mask: Tensor | None,
            constraints: Sequence[PrefixConstraint | None] | None = None,
            vocab: tuple[Tensor, dict[int, int]] | None = None) -> Tensor:
    """Words an input may not produce (`word_mask` False: inputs x vocabulary) get no probability, and
    so do the tokens that leave an input's allowed starts (`constraints`, one per input). `vocab`: the logits'
    columns are these word ids (with their column of each id), not the whole vocabulary."""
    if word_mask is not None:
        if vocab is not None:
            word_mask = word_mask.index_select(1, vocab[0])
        allowed = word_mask.index_select(0, grid.inputs).repeat_interleave(grid.group, dim=0)
        logits = logits.masked_fill(~allowed, float("-inf"))
    n_gen = grid.tokens.size(1) - 1
    if constraints is None or n_gen >= max((c.depth for c in constraints if c is not None), default=0):
        return logits
    rows: list[int] = []
    cols: list[int] = []
    inputs = grid.inputs.tolist()
    for r, toks in enumerate(grid.tokens[:, 1:].tolist()):
        c = constraints[inputs[r // grid.group]]
        ok = c.allowed(toks) if c is not None else None
        if ok is not None:
            if vocab is not None:
                ok = [vocab[1][t] for t in ok if t in vocab[1]]
            rows += [r] * len(ok)
            cols += ok
    if not rows:
        return logits
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep[torch.tensor(rows, device=keep.device), torch.tensor(cols, device=keep.device)] = True
    constrained = keep.any(dim=1, keepdim=True)
    return logits.masked_fill(constrained & ~keep, float("-inf"))


def sample(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor, *, n_samples: int,
           max_len: int, eos: int, greedy: bool = False, temperature: float = 1.0, top_k: int = 0,
           top_p: float = 1.0, length_penalty: float = 0.0, use_cache: bool = True,
           generator: torch.Generator | None = None, seeds: Tensor | None = None,
           word_mask: Tensor | None = None,
           constraints: Sequence[PrefixConstraint | None] | None = None,
           body_vocab: Tensor | None = None, raw_scores: bool = False) -> list[list[Hypothesis]]:
    """`n_samples` sequences per input (ancestral sampling, or argmax when greedy), deduplicated, best first.
    With `seeds` (int64, one per input) an input's samples depend only on its seed, not on the batch.
    `body_vocab` (word ids, the stop token among them): the only words after the first; only their logits are
    computed there, as only the allowed first words' are when every input is constrained.
    `raw_scores`: each hypothesis also gets the score `score_sequences` gives it without constraints (no masks,
    no top-k/p, the first word over the whole vocabulary), read off the logits the sampling computes anyway:
    scored enumeration need not feed the samples through the decoder a second time."""
    grid = _Grid(model, memory, src_mask, n_samples, eos, use_cache)
    n_inputs = src_mask.size(0)
    rows = grid.tokens.size(0)
    dev = src_mask.device
    keys = row_keys(seeds.to(dev), n_samples) if seeds is not None else None
    scores = torch.zeros(rows, device=dev)
    raw = torch.zeros(rows, device=dev) if raw_scores else None
    finished = torch.zeros(rows, dtype=torch.bool, device=dev)
    lengths = torch.zeros(rows, dtype=torch.long, device=dev)
    out: list[list[Hypothesis]] = [[] for _ in range(n_inputs)]
    # the words each step computes (None: all), with the column of each id
    first = first_words(constraints, n_inputs, dev)
    vocabs = [(v, {w: i for i, w in enumerate(v.tolist())}) if v is not None else None for v in (first, body_vocab)]
    for step in range(max_len):
        vocab = vocabs[min(step, 1)]
        if raw is not None and step == 0 and vocab is not None:  # the raw score's first word is over every word
            every = grid.next_logits()
            computed = every.index_select(1, vocab[0])
        else:
            every = computed = grid.next_logits(vocab[0] if vocab else None)
        logits = _masked(computed, grid, word_mask, constraints, vocab)
        if not greedy:
            logits = tempered(logits, temperature)
        if step == max_len - 1:  # the stop token is forced at the last position
            logp = logits.log_softmax(-1)
            col = torch.full((logits.size(0),), vocab[1][eos] if vocab else eos, dtype=torch.long, device=dev)
        else:
            logp = _filter_logits(logits, top_k, top_p).log_softmax(-1) if not greedy else logits.log_softmax(-1)
            if greedy:
                col = logp.argmax(-1)
            elif keys is not None:
                col = _keyed_draw(logp.exp(), keys, step)
            else:
                col = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        tok_logp = logp.gather(1, col[:, None]).squeeze(1)
        nxt = vocab[0][col] if vocab else col
        scores = scores + torch.where(finished, torch.zeros_like(tok_logp), tok_logp)
        if raw is not None:
            at = nxt if every is not computed else col
            raw_logp = tempered(every, temperature).log_softmax(-1).gather(1, at[:, None]).squeeze(1)
            raw = raw + torch.where(finished, torch.zeros_like(raw_logp), raw_logp)
        lengths = lengths + (~finished).long()
        nxt = torch.where(finished, torch.full_like(nxt, eos), nxt)
        grid.append(nxt)
        ended = (nxt == eos) & ~finished
        finished = finished | ended
        if bool(ended.any()):
            _harvest(out, grid, ended, scores, lengths, length_penalty, raw)
        alive = (~finished).view(-1, grid.group)
        counts = alive.sum(1)
        width = int(counts.max())
        if width == 0:
            break
        if bool((counts == 0).any()) or width <= grid.group * 3 // 4:
            # drop the finished rows: an input keeps `width` rows, its live ones first, then finished padding,
            # so a few long samples no longer carry every finished one through the remaining steps
            order = torch.argsort((~alive).to(torch.int8), dim=1, stable=True)[:, :width]
            keep = counts > 0
            sel = (torch.arange(alive.size(0), device=dev)[:, None] * grid.group + order)[keep].reshape(-1)
            pad = (torch.arange(width, device=dev)[None, :] >= counts[keep][:, None]).reshape(-1)
            grid.regroup(keep, sel, width)
            scores, lengths, finished = scores[sel], lengths[sel], finished[sel] | pad
            raw = raw[sel] if raw is not None else None
            keys = keys[sel] if keys is not None else None
    return [_dedup_sort(h) for h in out]


def _harvest(out: list[list[Hypothesis]], grid: _Grid, ended: Tensor, scores: Tensor, lengths: Tensor,
             length_penalty: float, raw: Tensor | None = None) -> None:
    """Record the rows that have just produced their stop token."""
    inputs = grid.inputs.tolist()
    for r in ended.nonzero().squeeze(1).tolist():
        n = int(lengths[r])
        toks = grid.tokens[r, 1:n].tolist()  # drop the leading </s> and the stop token
        norm = n**length_penalty if n else 1.0
        out[inputs[r // grid.group]].append(Hypothesis(tuple(toks), float(scores[r]) / norm,
                                                       float(raw[r]) / norm if raw is not None else None))


def _dedup_sort(hyps: list[Hypothesis]) -> list[Hypothesis]:
    best: dict[tuple[int, ...], Hypothesis] = {}
    for h in hyps:
        if h.tokens not in best or h.score > best[h.tokens].score:
            best[h.tokens] = h
    return sorted(best.values(), key=lambda h: -h.score)


def _gumbel_children(parent_g: Tensor, phi: Tensor, generator: torch.Generator | None) -> Tensor:
    """Gumbel values of children conditioned on their max equalling the parent's (Kool et al. 2019)."""
    u = torch.rand(phi.shape, generator=generator, device=phi.device).clamp_(1e-10, 1 - 1e-10)
    g = phi - torch.log(-torch.log(u))
    z = g.max(dim=-1, keepdim=True).values
    # stable form of -log(exp(-T) - exp(-Z) + exp(-g))
    v = parent_g[..., None] - g + torch.log1p(-torch.exp((g - z).clamp(max=-1e-7)))
    out = parent_g[..., None] - F.relu(v) - torch.log1p(torch.exp(-v.abs()))
    return torch.where(torch.isfinite(phi), out, torch.full_like(out, float("-inf")))


def beam_search(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor, *,
                beam_size: int, n_best: int, max_len: int, eos: int, length_penalty: float = 1.0,
                stochastic: bool = False, temperature: float = 1.0, use_cache: bool = True,
                generator: torch.Generator | None = None, word_mask: Tensor | None = None,
                constraints: Sequence[PrefixConstraint | None] | None = None) -> list[list[Hypothesis]]:
    """Beam search (stochastic beam = Gumbel-top-k sampling without replacement); `n_best` best per input.

    An input is finished once it holds `beam_size` finished hypotheses (early stopping)."""
    k = beam_size
    grid = _Grid(model, memory, src_mask, k, eos, use_cache)
    b, dev = src_mask.size(0), src_mask.device
    cum = torch.full((b, k), float("-inf"), device=dev)
    cum[:, 0] = 0.0  # every beam starts identical: only the first one may expand
    pert = cum.clone()  # perturbed keys (stochastic beam), equal to cum otherwise
    out: list[list[Hypothesis]] = [[] for _ in range(b)]
    for step in range(max_len):
        logits = _masked(grid.next_logits(), grid, word_mask, constraints)
        if stochastic:
            logits = tempered(logits, temperature)
        logp = logits.log_softmax(-1)
        if step == max_len - 1:
            forced = torch.full_like(logp, float("-inf"))
            forced[:, eos] = logp[:, eos]
            logp = forced
        v = logp.size(-1)
        phi = cum[:, :, None] + logp.view(-1, k, v)  # (inputs, beams, vocab)
        key = _gumbel_children(pert, phi, generator) if stochastic else phi
        top_key, top_idx = key.view(-1, k * v).topk(min(2 * k, k * v), dim=-1)
        top_phi = phi.view(-1, k * v).gather(1, top_idx)
        n_act = top_idx.size(0)
        new_rows = (torch.arange(n_act) * k)[:, None].repeat(1, k)  # unfilled slots: a dead copy of beam 0
        new_tok = torch.full((n_act, k), eos, dtype=torch.long)
        new_cum = torch.full((n_act, k), float("-inf"))
        new_pert = torch.full((n_act, k), float("-inf"))
        done = torch.zeros(n_act, dtype=torch.bool)
        t_key, t_idx, t_phi = top_key.tolist(), top_idx.tolist(), top_phi.tolist()
        for i in range(n_act):
            target, n_next = out[int(grid.inputs[i])], 0
            for rank, (kk, idx, ph) in enumerate(zip(t_key[i], t_idx[i], t_phi[i])):
                if kk == float("-inf") or n_next == k:
                    break
                beam, tok = divmod(idx, v)
                if tok == eos:
                    if rank < k:  # a finished hypothesis must rank among the beam's best candidates
                        toks = grid.tokens[i * k + beam, 1:].tolist()
                        target.append(Hypothesis(tuple(toks), ph / (step + 1) ** length_penalty))
                    continue
                new_rows[i, n_next], new_tok[i, n_next] = i * k + beam, tok
                new_cum[i, n_next], new_pert[i, n_next] = ph, kk
                n_next += 1
            done[i] = len(target) >= k or n_next == 0
        grid.reorder(new_rows.view(-1).to(dev), new_tok.view(-1).to(dev))
        cum, pert = new_cum.to(dev), new_pert.to(dev)
        if bool(done.any()):
            kept = ~done.to(dev)
            grid.keep_inputs(kept)
            cum, pert = cum[kept], pert[kept]
            if grid.inputs.numel() == 0:
                break
    return [_dedup_sort(h)[:n_best] for h in out]


@torch.no_grad()
def score_sequences(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor,
                    inputs: Sequence[int], seqs: Sequence[Sequence[int]], eos: int, temperature: float = 1.0,
                    length_penalty: float = 0.0, constraints: Sequence[PrefixConstraint | None] | None = None,
                    body_vocab: Tensor | None = None) -> list[float]:
    """Teacher-forced score of each sequence `seqs[j]` (ids without the leading `</s>` and the stop token)
    given input `inputs[j]`: sum of the token log-probs (stop token included) at `temperature`, divided by
    length**length_penalty, the same score sampling gives the sequence.

    The sequences of an input share their prefixes: they are decoded as a trie, one level per position with
    a KV cache, so a prefix common to many tactics (`<TRANFORM_RULE> rule <RULE_FORWARD>`) is computed once.
    At each level, the prefixes of one input are the rows of one group (cross-attention reads its keys and
    values once), padded to the largest group of that level.

    `constraints` (per input index, as in `inputs`): where a prefix may only go on with some tokens, the
    log-probs are renormalised over those tokens and only their logits are computed (the rows of the output
    projection are gathered), which is what makes scoring cheap with a 40k-word vocabulary of labels;
    `body_vocab` does the same for every other position after the first (the words a tactic's body can hold)."""
    tries: dict[int, list[dict[tuple[int, ...], int]]] = {}  # input -> level -> prefix -> row in its group
    for i, seq in zip(inputs, seqs):
        levels = tries.setdefault(i, [])
        for d in range(len(seq) + 1):
            if d == len(levels):
                levels.append({})
            levels[d].setdefault(tuple(seq[:d]), len(levels[d]))
    dev = src_mask.device
    cache = model.decoder.new_cache()
    logps: list[tuple[Tensor, Tensor | None]] = []  # per level: log-probs (inputs, group, column), word -> column
    actives: list[dict[int, int]] = []  # per level: input -> its index among that level's active inputs
    groups: list[int] = []
    for d in range(max((len(v) for v in tries.values()), default=0)):
        act = [i for i, levels in tries.items() if len(levels) > d]
        group = max(len(tries[i][d]) for i in act)
        tokens = torch.full((len(act), group), eos, dtype=torch.long)
        parents = torch.zeros((len(act), group), dtype=torch.long)
        for a, i in enumerate(act):
            for prefix, g in tries[i][d].items():
                if d:
                    tokens[a, g] = prefix[-1]
                    parents[a, g] = actives[-1][i] * groups[-1] + tries[i][d - 1][prefix[:-1]]
                else:
                    parents[a, g] = a
            # padding rows repeat the input's first row, so their cache rows are well defined
            parents[a, len(tries[i][d]):] = parents[a, 0]
        if d:
            rows = parents.reshape(-1).to(dev)
            for c in cache:
                c.select(rows)
        sel = torch.tensor(act, dtype=torch.long, device=dev)
        mem = [(k.index_select(0, sel), v.index_select(0, sel)) for k, v in memory]
        y = tokens.reshape(-1, 1).to(dev)
        h = model.decoder(y, torch.full_like(y, d), mem, src_mask.index_select(0, sel), group, cache)[:, 0]
        allowed: list[list[int] | None] = [None] * h.size(0)
        if constraints is not None:
            for a, i in enumerate(act):
                con = constraints[i]
                if con is not None:
                    for prefix, g in tries[i][d].items():
                        allowed[a * group + g] = con.allowed(prefix)
        logp, position = _level_logp(model, h, allowed, body_vocab if d else None, temperature)
        logps.append((logp.view(len(act), group, -1), position))
        actives.append({i: a for a, i in enumerate(act)})
        groups.append(group)
    totals = torch.zeros(len(seqs), dtype=torch.float32)
    for d, (logp, position) in enumerate(logps):  # one gather per level: the token each sequence takes next
        idx = [(j, actives[d][i], tries[i][d][tuple(seq[:d])], (*seq, eos)[d])
               for j, (i, seq) in enumerate(zip(inputs, seqs)) if len(seq) >= d]
        seq_idx, act_idx, row_idx, tok_idx = (torch.tensor(col, dtype=torch.long, device=logp.device)
                                              for col in zip(*idx))
        col_idx = tok_idx if position is None else position[tok_idx]
        picked = logp[act_idx, row_idx, col_idx.clamp(min=0)]
        totals.index_add_(0, seq_idx.cpu(), torch.where(col_idx >= 0, picked, float("-inf")).cpu())
    return [float(t) / (len(seq) + 1) ** length_penalty for t, seq in zip(totals.tolist(), seqs)]


def _level_logp(model: Seq2SeqTransformer, h: Tensor, allowed: Sequence[list[int] | None], vocab: Tensor | None,
                temperature: float) -> tuple[Tensor, Tensor | None]:
    """Next-token log-probs of `rows` hidden states, and `position` (word id -> its column, -1 for none; None
    when every word is its own column): a row with `allowed` tokens gets them renormalised over those alone,
    computed from the gathered rows of the output projection; the others a softmax over `vocab` (all words when
    None). The columns are the union of the words any row may take; a word outside them is -inf in every row.
    Keeping only those columns matters with Metamath's ~42k words: a (rows x vocabulary) tensor per level cost
    more than the decoder."""
    proj = model.decoder.proj
    dev = h.device
    free = [r for r, a in enumerate(allowed) if a is None]
    cons = [(r, a) for r, a in enumerate(allowed) if a is not None]
    if not cons and vocab is None:
        return tempered(proj(h).float(), temperature).log_softmax(-1), None
    if free and vocab is None:
        columns, width = None, proj.out_features
    else:
        words = set(vocab.tolist()) if free and vocab is not None else set()
        for _, a in cons:
            words.update(a)
        columns = torch.tensor(sorted(words), dtype=torch.long, device=dev)
        width = len(words)
    position = _positions(columns, proj.out_features)  # None: a word is its own column
    out = torch.full((h.size(0), width), float("-inf"), device=dev)
    if free:
        rows = torch.tensor(free, dtype=torch.long, device=dev)
        logp = tempered(project(proj, h.index_select(0, rows), vocab), temperature).log_softmax(-1)
        if vocab is None:
            out[rows] = logp
        else:
            assert position is not None  # a vocab with free rows means columns were chosen
            out[rows[:, None], position[vocab][None, :]] = logp
    if not cons:
        return out, position
    rows = torch.tensor([r for r, _ in cons], dtype=torch.long, device=dev)
    logp, idx, valid = allowed_logp(proj, h.index_select(0, rows), [a for _, a in cons], temperature)
    # padding repeats a row's first allowed token: scattering it twice writes the same value
    logp = torch.where(valid, logp, logp[:, :1])
    out[rows] = out[rows].scatter(1, idx if position is None else position[idx], logp)
    return out, position


def allowed_logp(proj: torch.nn.Linear, h: Tensor, allowed: Sequence[list[int]],
                 temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    """Log-probs of each row's `allowed` tokens renormalised over them, from the gathered rows of the output
    projection alone: (rows, longest) fp32, -inf in the padding; with the token ids (padding repeats a row's
    first) and which columns are real."""
    longest = max(len(a) for a in allowed)
    idx = torch.tensor([a + a[:1] * (longest - len(a)) for a in allowed], dtype=torch.long, device=h.device)
    valid = torch.tensor([[k < len(a) for k in range(longest)] for a in allowed], device=h.device)
    logits = torch.einsum("rkd,rd->rk", proj.weight[idx], h)
    if proj.bias is not None:
        logits = logits + proj.bias[idx]
    return tempered(logits.float(), temperature).masked_fill(~valid, float("-inf")).log_softmax(-1), idx, valid


def _positions(columns: Tensor | None, n_words: int) -> Tensor | None:
    """word id -> its column (-1: not a column); None when every word is its own column."""
    if columns is None:
        return None
    position = torch.full((n_words,), -1, dtype=torch.long, device=columns.device)
    position[columns] = torch.arange(len(columns), dtype=torch.long, device=columns.device)
    return position


@torch.no_grad()
def critic_logprob(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor,
                   critic_id: int, solvable_id: int, non_solvable_id: int) -> Tensor:
    """log p(SOLVABLE) per input (<= 0), from the 2-way softmax after one decoder step on `<CRITIC>`."""
    logits = model.critic_logits(memory, src_mask, critic_id, solvable_id, non_solvable_id).float()
    return logits.log_softmax(-1)[:, 0]


@torch.no_grad()
def decode(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor, params: DecodingConfig,
           eos: int, generator: torch.Generator | None = None, seeds: Tensor | None = None,
           word_mask: Tensor | None = None, constraints: Sequence[PrefixConstraint | None] | None = None,
           body_vocab: Tensor | None = None) -> list[list[Hypothesis]]:
    """Tactics per `params` for encoded inputs (`memory`, `src_mask`: `model.encode` and `Decoder.memory`).
    `seeds` (one per input) make sampling independent of the batch; stochastic beam search ignores them.
    `word_mask` (inputs x vocabulary, bool): the words each input's tactics may contain; `constraints` (one
    per input or None): the token sequences its tactics must start with; `body_vocab`: the words after the
    first (sampling only; beam search computes every word)."""
    check_params(params)
    if params.use_beam:
        return beam_search(model, memory, src_mask, beam_size=params.n_samples, n_best=params.n_samples,
                           max_len=params.max_gen_len, eos=eos, length_penalty=params.length_penalty,
                           stochastic=params.use_sampling, temperature=params.fixed_temperature,
                           use_cache=params.use_cache, generator=generator, word_mask=word_mask,
                           constraints=constraints)
    return sample(model, memory, src_mask, n_samples=params.n_samples, max_len=params.max_gen_len, eos=eos,
                  greedy=not params.use_sampling, temperature=params.fixed_temperature, top_k=params.top_k,
                  top_p=params.top_p, length_penalty=params.length_penalty, use_cache=params.use_cache,
                  generator=generator, seeds=seeds, word_mask=word_mask, constraints=constraints,
                  body_vocab=body_vocab)

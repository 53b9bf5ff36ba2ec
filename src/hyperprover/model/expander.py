"""The transformer Expander: goals -> tactics with log-priors and a critic value (docs/htps.md, section 2).

Goals are tokenised by the env, batched by padded input tokens, encoded once; tactics are decoded per
`DecodingConfig` and the critic read from one decoder step on `<CRITIC>`. A goal the model cannot take
(unknown token, too long, tokeniser failure, out of GPU memory alone) becomes an Expansion with `error`
set; nothing here raises for one bad goal.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import math
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from hyperprover.envs.base import BackwardEnv, Goal
from hyperprover.model.checkpoint import load_model
from hyperprover.model.decoding import (
    Hypothesis,
    PrefixConstraint,
    allowed_logp,
    check_params,
    critic_logprob,
    decode,
    sample,
    score_sequences,
)
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.scoring import score_tree
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig, Expansion, TacticPrefixEnv, enumerable


@functools.cache
def _cpu_flags() -> frozenset[str]:
    # $HYPERPROVER_CPU_FLAGS stands for the machine's flags: empty makes `auto` pick float, so that a bfloat16 CPU
    # reproduces the proofs of one without (the tests set it)
    if (given := os.environ.get("HYPERPROVER_CPU_FLAGS")) is not None:
        return frozenset(given.split())
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags known, so `auto` stays in float
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def native_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run in hardware here (else torch emulates them, slower than float)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def resolve_precision(precision: str, device: torch.device) -> str:
    """`--decoding.precision` as the expander runs it: `auto` becomes bfloat16 or float."""
    if precision != "auto":
        return precision
    return "bfloat16" if native_bfloat16(device) else "float"


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    if device.type == "cuda" and precision in ("half", "bfloat16"):
        dtype = torch.float16 if precision == "half" else torch.bfloat16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()  # CPU: the model copy is in its precision (_model_for); half runs in fp32


@runtime_checkable
class LabelOrderEnv(Protocol):
    """An env whose proofs may only use the labels before their theorem (Metamath): the expander masks the
    later ones out of the decoder's vocabulary, so no sample is spent on a tactic that must fail."""

    def label_limit(self, theorem: Goal) -> int: ...

    def allowed_labels_mask(self, theorem: Goal, vocab: Sequence[str]) -> list[bool]: ...


@runtime_checkable
class TacticBodyEnv(Protocol):
    """An env whose tactics use a small part of the vocabulary after their first word (Metamath: a label, then
    `$s VAR $= EXPR` groups of math symbols): the decoder computes only those words' logits there."""

    def tactic_body_words(self) -> Sequence[str]: ...


CACHE_SIZE = 20000  # expansions kept per expander (a Metamath expansion: ~100 tactics, a few tens of KB)


def token_batches(lengths: Sequence[int], tokens_per_batch: int) -> Iterator[list[int]]:
    """Indices grouped by increasing length so that n * max_len <= tokens_per_batch (at least one each)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) + 1) * lengths[i] > tokens_per_batch:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class TransformerExpander:
    """Implements hyperprover.search.expander.Expander with a Seq2SeqTransformer."""

    def __init__(self, model: Seq2SeqTransformer, dictionary: Dictionary, env: BackwardEnv,
                 device: str | torch.device = "cpu", seed: int = 0) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.dico, self.env = dictionary, env
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._copies: dict[str, Seq2SeqTransformer] = {}  # precision -> a copy of the model in it
        self._label_order = env if isinstance(env, LabelOrderEnv) else None  # decided once, not per batch
        self._masks: dict[int, torch.Tensor] = {}  # label limit -> allowed words (a few per database region)
        self._prefixes = env if isinstance(env, TacticPrefixEnv) else None
        self.timings: dict[str, float] = {}  # seconds in the encoder, tactics (decoding or scoring), critic
        # deterministic expansions (ranking the complete tactics, nothing sampled) under the current weights: a
        # goal seen again (an online run attempts a theorem many times) costs nothing; least recently used out
        self._cache: OrderedDict[tuple[Goal, str], Expansion] = OrderedDict()  # (goal, repr of the params)
        self.cache_counts = {"hits": 0, "misses": 0}
        self._body: torch.Tensor | None = None
        if isinstance(env, TacticBodyEnv):
            w2i = self.dico.word2id
            ids = {w2i[w] for w in env.tactic_body_words() if w in w2i} | {self.dico.eos}
            self._body = torch.tensor(sorted(ids), dtype=torch.long, device=self.device)

    def _model_for(self, precision: str) -> Seq2SeqTransformer:
        on_cpu = self.device.type == "cpu"
        if precision == "int8" and not on_cpu:
            raise ValueError("--decoding.precision int8 runs on CPU only; use bfloat16 or half on a GPU")
        copied = ("double", "int8", "bfloat16") if on_cpu else ("double",)  # CUDA half precisions: autocast
        if precision in copied and precision not in self._copies:
            self._copies[precision] = low_precision(self.model, precision)
        return self._copies.get(precision, self.model)

    def set_weights(self, state: dict[str, torch.Tensor]) -> None:
        """New weights (online training); the copies made from the old ones (double, int8) are dropped."""
        self.model.load_state_dict(state)
        self.model.eval()
        self._copies.clear()
        self._cache.clear()

    def _prepare(self, goal: Goal, params: DecodingConfig) -> tuple[list[int] | None, str | None]:
        try:
            words = self.env.goal_tokens(goal)
        except Exception as e:  # noqa: BLE001 - any tokeniser failure is this goal's error, not ours
            return None, f"failed_tokenize: {type(e).__name__}: {e}"
        enc = self.dico.encode(words)
        if enc.unknown and params.unknown_words == "fail":
            shown = ", ".join(sorted(set(enc.unknown))[:5])
            return None, f"failed_unk: {len(enc.unknown)} unknown token(s): {shown}"
        limit = min(params.max_input_len, self.model.dims.max_positions)
        if len(enc.ids) > limit:
            return None, f"failed_big: goal has {len(enc.ids)} tokens > {limit}"
        return list(enc.ids), None

    def expand(self, goals: Sequence[Goal], params: DecodingConfig,
               seeds: Sequence[int] | None = None) -> list[Expansion]:
        check_params(params)
        for flag in ("applicable_only", "score_enumerated"):
            if getattr(params, flag):
                enumerable(self.env, f"--decoding.{flag}", f"set --decoding.{flag} false")
        if seeds is not None and len(seeds) != len(goals):
            raise ValueError(f"{len(seeds)} seeds for {len(goals)} goals")
        out: list[Expansion | None] = [None] * len(goals)
        ids: dict[int, list[int]] = {}
        reusable = params.score_enumerated and params.n_samples == 0  # the same goal always gets the same
        setting = repr(params)
        for i, g in enumerate(goals):
            known = self._cache.get((g, setting)) if reusable else None
            if known is not None:
                self._cache.move_to_end((g, setting))
                self.cache_counts["hits"] += 1
                out[i] = dataclasses.replace(known, goal=g)
                continue
            seq, err = self._prepare(g, params)
            if err is not None:
                out[i] = Expansion(g, (), (), 0.0, error=err)
            else:
                assert seq is not None
                ids[i] = seq
        keys = list(ids)
        for batch in token_batches([len(ids[k]) for k in keys], params.tokens_per_batch):
            self._expand_batch([keys[j] for j in batch], ids, goals, params, out, seeds)
        if reusable:
            for i in keys:
                expansion = out[i]
                if expansion is not None and expansion.error != "failed_gpu_oom":
                    self.cache_counts["misses"] += 1
                    self._cache[(goals[i], setting)] = expansion
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return [e for e in out if e is not None]

    def _expand_batch(self, idx: list[int], ids: dict[int, list[int]], goals: Sequence[Goal],
                      params: DecodingConfig, out: list[Expansion | None], seeds: Sequence[int] | None) -> None:
        try:
            results = self._run(idx, ids, params, seeds, goals)
        except torch.cuda.OutOfMemoryError:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(idx) == 1:
                out[idx[0]] = Expansion(goals[idx[0]], (), (), 0.0, error="failed_gpu_oom")
                return
            half = len(idx) // 2
            self._expand_batch(idx[:half], ids, goals, params, out, seeds)
            self._expand_batch(idx[half:], ids, goals, params, out, seeds)
            return
        for i, (hyps, critic) in zip(idx, results):
            out[i] = self._expansion(goals[i], hyps, critic)

    @torch.no_grad()
    def _run(self, idx: list[int], ids: dict[int, list[int]], params: DecodingConfig,
             seeds: Sequence[int] | None, goals: Sequence[Goal]) -> list[tuple[list[Hypothesis], float]]:
        precision = resolve_precision(params.precision, self.device)
        model = self._model_for(precision)
        width = max(len(ids[i]) for i in idx)
        x = torch.full((len(idx), width), self.dico.pad, dtype=torch.long)
        for r, i in enumerate(idx):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
        x = x.to(self.device)
        with _autocast(self.device, precision):
            t0 = time.perf_counter()
            enc, src_mask = model.encode(x)
            memory = model.decoder.memory(enc)
            t1 = time.perf_counter()
            rows = torch.tensor([seeds[i] for i in idx], dtype=torch.long) if seeds is not None else None
            batch_goals = [goals[i] for i in idx]
            if params.score_enumerated:
                hyps = self._scored(model, memory, src_mask, params, rows, batch_goals)
            else:
                constraints = [self._constraint(g) for g in batch_goals] if params.applicable_only else None
                hyps = decode(model, memory, src_mask, params, self.dico.eos, self.generator, rows,
                              self._word_mask(batch_goals), constraints, self._body)
            t2 = time.perf_counter()
            crit = critic_logprob(model, memory, src_mask, self.dico.critic, self.dico.solvable,
                                  self.dico.non_solvable)
            t3 = time.perf_counter()
        for part, seconds in (("encoder", t1 - t0), ("tactics", t2 - t1), ("critic", t3 - t2)):
            self.timings[part] = self.timings.get(part, 0.0) + seconds
        return list(zip(hyps, crit.exp().clamp(0.0, 1.0).tolist()))

    def _scored(self, model: Seq2SeqTransformer, memory: list[tuple[torch.Tensor, torch.Tensor]],
                src_mask: torch.Tensor, params: DecodingConfig, seeds: torch.Tensor | None,
                goals: Sequence[Goal]) -> list[list[Hypothesis]]:
        """Scored enumeration: every complete applicable tactic gets its teacher-forced score; tactics that need
        substitutions are sampled (constrained to their applicable starts), then scored the same way, so all
        priors of a goal are the model's log-probs of one distribution (sampling scores would be renormalised
        over the constrained tokens). With `renormalize_scores` that distribution is the model's conditioned on
        the env's applicable starts, the same renormalisation sampling makes, and only its logits are computed.
        On the fast path without renormalisation the samples' scores come with them (`sample(raw_scores=True)`)."""
        starts = [self._starts(g) for g in goals]
        seqs: list[list[tuple[int, ...]]] = [[tuple(w) for w, complete in st if complete] for st in starts]
        out: list[list[Hypothesis]] = [[] for _ in goals]
        renorm = params.renormalize_scores
        # the samples' scores read off the sampling's own logits (over every word, as the scorer's without
        # renormalisation: not with a body vocabulary, whose steps the sampling computes alone)
        reuse = params.fast and not renorm and self._body is None
        open_rows = [r for r, st in enumerate(starts) if any(not complete for _, complete in st)]
        if open_rows and params.n_samples > 0:
            sel = torch.tensor(open_rows, dtype=torch.long, device=src_mask.device)
            sub, sub_mask = _select_inputs(memory, src_mask, sel)
            cons = [PrefixConstraint([(w, False) for w, complete in starts[r] if not complete], self.dico.eos)
                    for r in open_rows]
            sampled = sample(model, sub, sub_mask, n_samples=params.n_samples,
                             max_len=params.max_gen_len, eos=self.dico.eos, greedy=not params.use_sampling,
                             temperature=params.fixed_temperature, top_k=params.top_k, top_p=params.top_p,
                             use_cache=params.use_cache, generator=self.generator,
                             seeds=seeds[sel.cpu()] if seeds is not None else None, constraints=cons,
                             body_vocab=self._body, raw_scores=reuse)
            for r, hyps in zip(open_rows, sampled):
                seen = set(seqs[r])
                for h in hyps:
                    if h.tokens not in seen:
                        seen.add(h.tokens)
                        if h.raw is not None:
                            out[r].append(Hypothesis(h.tokens, h.raw))
                        else:
                            seqs[r].append(h.tokens)
        if params.prune_margin > 0:
            seqs = self._pruned(model, memory, src_mask, params, seqs)
        flat = [(r, s) for r, ss in enumerate(seqs) for s in ss]
        constraints = [PrefixConstraint(st, self.dico.eos) for st in starts] if renorm else None
        scorer = score_tree if params.fast else score_sequences
        scores = scorer(model, memory, src_mask, [r for r, _ in flat], [s for _, s in flat], self.dico.eos,
                        params.fixed_temperature, params.length_penalty, constraints, self._body if renorm else None)
        for (r, s), score in zip(flat, scores):
            out[r].append(Hypothesis(s, score))
        return [sorted(h, key=lambda h: -h.score) for h in out]

    def _pruned(self, model: Seq2SeqTransformer, memory: list[tuple[torch.Tensor, torch.Tensor]],
                src_mask: torch.Tensor, params: DecodingConfig, seqs: list[list[tuple[int, ...]]],
                ) -> list[list[tuple[int, ...]]]:
        """The tactics worth scoring (`--decoding.prune_margin`), decided at the first word where a goal's tactics
        differ (the rule name after a common marker on Equations, the label on Metamath). A tactic scores at
        most the log-prob of its word there (plus the common prefix's, the same for all); with renormalised
        scores a word's n tactics share that word's probability, so the best of them scores at least
        log p(w) - log n. A word below the best such bound by more than the margin only brings tactics whose
        priors are below the best tactic's by more than the margin. One decoder call for the goals."""
        branch: dict[int, tuple[int, ...]] = {}  # row -> the common prefix of its tactics
        for r, ss in enumerate(seqs):
            if len(ss) < 2:
                continue
            d = 0
            while all(len(s) > d for s in ss) and len({s[d] for s in ss}) == 1:
                d += 1
            if all(len(s) > d for s in ss):  # no tactic ends where they part
                branch[r] = ss[0][:d]
        if not branch:
            return seqs
        rows = list(branch)
        dev = src_mask.device
        width = 1 + max(len(p) for p in branch.values())
        tok = torch.tensor([[self.dico.eos, *branch[r]] + [self.dico.eos] * (width - 1 - len(branch[r]))
                            for r in rows], dtype=torch.long, device=dev)  # right padding: causal, never read
        pos = torch.arange(width, device=dev).expand(len(rows), width)
        h = model.decoder(tok, pos, *_select_inputs(memory, src_mask, torch.tensor(rows, dtype=torch.long, device=dev)))
        h = h[torch.arange(len(rows), device=dev), torch.tensor([len(branch[r]) for r in rows], device=dev)]
        words = [sorted({s[len(branch[r])] for s in seqs[r]}) for r in rows]
        # renormalised over the row's words: a shift of the row's log-probs, which the rule below ignores
        table = allowed_logp(model.decoder.proj, h, words, params.fixed_temperature)[0].cpu().tolist()
        out = list(seqs)
        for k, r in enumerate(rows):
            d, word_logp = len(branch[r]), dict(zip(words[k], table[k]))
            count = Counter(s[d] for s in seqs[r])
            bound = max(word_logp[w] - math.log(n) for w, n in count.items())
            out[r] = [s for s in seqs[r] if word_logp[s[d]] >= bound - params.prune_margin]
        return out

    def _word_mask(self, goals: Sequence[Goal]) -> torch.Tensor | None:
        env = self._label_order
        if env is None:
            return None
        rows = []
        for g in goals:
            limit = env.label_limit(g)
            if limit not in self._masks:
                if len(self._masks) > 256:
                    self._masks.clear()
                mask = env.allowed_labels_mask(g, self.dico.id2word)
                self._masks[limit] = torch.tensor(mask, dtype=torch.bool, device=self.device)
            rows.append(self._masks[limit])
        return torch.stack(rows)

    def _starts(self, goal: Goal) -> list[tuple[list[int], bool]]:
        """The env's applicable tactic starts as word ids; a rule the model never saw cannot be decoded anyway."""
        assert self._prefixes is not None
        w2i = self.dico.word2id
        return [([w2i[w] for w in words], complete) for words, complete in self._prefixes.tactic_prefixes(goal)
                if all(w in w2i for w in words)]

    def _constraint(self, goal: Goal) -> PrefixConstraint:
        return PrefixConstraint(self._starts(goal), self.dico.eos)

    def _expansion(self, goal: Goal, hyps: list[Hypothesis], critic: float) -> Expansion:
        texts: dict[str, float] = {}
        for h in hyps:  # hyps are best first: the first text seen keeps its (best) score
            try:
                text = self.env.tactic_from_tokens(self.dico.decode(h.tokens))
            except Exception:  # noqa: BLE001,S112 - an undecodable output is just not a tactic
                continue
            if text not in texts:
                texts[text] = min(0.0, h.score)
        ranked = sorted(texts.items(), key=lambda kv: -kv[1])
        error = None if ranked else "failed_no_tactic: no decoded output could be turned into a tactic"
        return Expansion(goal, tuple(t for t, _ in ranked), tuple(s for _, s in ranked), critic, error)


def low_precision(model: Seq2SeqTransformer, precision: str) -> Seq2SeqTransformer:
    """A copy of the model for `precision`: double (exact reruns), int8 (below) or bfloat16 weights (CPU: a
    cast copy rather than autocast, whose per-call casts of the weights ate its gain; the logits are
    cast back to float before every softmax)."""
    if precision == "int8":
        return quantized(model)
    return copy.deepcopy(model).to(torch.double if precision == "double" else torch.bfloat16)


def quantized(model: Seq2SeqTransformer) -> Seq2SeqTransformer:
    """A copy whose encoder and decoder Linear layers run in int8 with dynamic activation scales (torch's CPU
    kernels); the output projection, tied to the embeddings, stays in float."""
    import warnings

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        raise ValueError("--decoding.precision int8 needs torch.ao.quantization, which this torch "
                         f"{torch.__version__} lacks; use --decoding.precision float") from None

    out = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks its eager quantization API as deprecated in favour of torchao
        for layers in (out.encoder.layers, out.decoder.layers):
            for i, layer in enumerate(layers):
                layers[i] = quantize_dynamic(layer, {torch.nn.Linear}, dtype=torch.qint8)
    return out


def load_expander(checkpoint_path: str | Path, env: BackwardEnv, device: str | torch.device = "cpu",
                  seed: int = 0) -> TransformerExpander:
    model, dico = load_model(checkpoint_path, device)
    return TransformerExpander(model, dico, env, device=device, seed=seed)


def _select_inputs(memory: list[tuple[torch.Tensor, torch.Tensor]], src_mask: torch.Tensor,
                   rows: torch.Tensor) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """The encoder keys/values and mask of some inputs of a batch (`rows`), for a decoder call on them alone."""
    return [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in memory], src_mask.index_select(0, rows)

"""Encoder-decoder transformer: separate encoder/decoder widths and depths, tied decoder in/out embeddings.

Attention goes through torch's scaled_dot_product_attention. Two things are shaped for fast decoding:
- cross-attention keys/values are computed once per *input* (`Decoder.memory`), and the `group` decoder
  rows that share one input (samples, beams) are folded into the query-length axis, so 32 samples of a goal
  read one copy of its encoder keys instead of 32;
- decoder self-attention keeps a per-layer KV cache (`KVCache`) so each new token costs one position.
Masks are boolean "may attend" tensors broadcastable to (batch, heads, queries, keys).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperprover.model.config import ModelDims


@dataclass
class KVCache:
    """Self-attention keys/values of the positions decoded so far, (rows, heads, time, head_dim)."""

    k: Tensor | None = None
    v: Tensor | None = None

    def select(self, rows: Tensor) -> None:
        if self.k is not None and self.v is not None:
            self.k, self.v = self.k.index_select(0, rows), self.v.index_select(0, rows)

    @property
    def length(self) -> int:
        return 0 if self.k is None else int(self.k.size(2))


def _split_heads(x: Tensor, n_heads: int) -> Tensor:
    n, t, d = x.shape
    return x.view(n, t, n_heads, d // n_heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    n, h, t, d = x.shape
    return x.transpose(1, 2).reshape(n, t, h * d)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, key_mask: Tensor | None = None, causal: bool = False,
                cache: KVCache | None = None) -> Tensor:
        q, k, v = (_split_heads(t, self.n_heads) for t in self.qkv(x).chunk(3, dim=-1))
        if cache is not None:
            if cache.k is not None and cache.v is not None:
                k, v = torch.cat([cache.k, k], dim=2), torch.cat([cache.v, v], dim=2)
            cache.k, cache.v = k, v
        mask, is_causal = key_mask, False
        tq, tk = q.size(2), k.size(2)
        if causal and tq > 1:
            if tq == tk and mask is None:
                is_causal = True
            else:  # queries are the last tq positions of tk: shift the triangle
                tri = torch.ones(tq, tk, dtype=torch.bool, device=x.device).tril(diagonal=tk - tq)
                mask = tri if mask is None else mask & tri
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=is_causal)
        return self.out(_merge_heads(out))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, mem_dim: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(mem_dim, 2 * dim)  # projects encoder width to decoder width
        self.out = nn.Linear(dim, dim)

    def memory(self, mem: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(mem).chunk(2, dim=-1)
        return _split_heads(k.contiguous(), self.n_heads), _split_heads(v.contiguous(), self.n_heads)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, src_mask: Tensor, group: int) -> Tensor:
        n, t, _ = x.shape
        b = n // group
        q = _split_heads(self.q(x), self.n_heads)  # (b*group, h, t, d)
        h, d = q.size(1), q.size(3)
        # rows of one input become extra queries of that input: no copy of k/v per sample
        q = q.view(b, group, h, t, d).transpose(1, 2).reshape(b, h, group * t, d)
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=src_mask, dropout_p=drop)
        out = out.view(b, h, group, t, d).transpose(1, 2).reshape(n, h, t, d)
        return self.out(_merge_heads(out))


class FeedForward(nn.Module):
    def __init__(self, dim: int, gelu: bool, dropout: float) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gelu, self.dropout = gelu, dropout

    def forward(self, x: Tensor) -> Tensor:
        h = F.gelu(self.fc1(x)) if self.gelu else F.relu(self.fc1(x))
        return self.fc2(F.dropout(h, self.dropout, self.training))


class EncoderLayer(nn.Module):
    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        d = dims.enc_dim
        self.attn = SelfAttention(d, dims.n_heads, dims.attention_dropout)
        self.ffn = FeedForward(d, dims.gelu, dims.activation_dropout)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.pre_ln, self.dropout = dims.pre_ln, dims.dropout

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        drop = self.dropout if self.training else 0.0
        if self.pre_ln:
            x = x + F.dropout(self.attn(self.ln1(x), key_mask), drop)
            return x + F.dropout(self.ffn(self.ln2(x)), drop)
        x = self.ln1(x + F.dropout(self.attn(x, key_mask), drop))
        return self.ln2(x + F.dropout(self.ffn(x), drop))


class DecoderLayer(nn.Module):
    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        d = dims.dec_dim
        self.self_attn = SelfAttention(d, dims.n_heads, dims.attention_dropout)
        self.cross_attn = CrossAttention(d, dims.enc_dim, dims.n_heads, dims.attention_dropout)
        self.ffn = FeedForward(d, dims.gelu, dims.activation_dropout)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.pre_ln, self.dropout = dims.pre_ln, dims.dropout

    def forward(self, x: Tensor, mem: tuple[Tensor, Tensor], src_mask: Tensor, group: int,
                cache: KVCache | None, self_mask: Tensor | None = None) -> Tensor:
        drop = self.dropout if self.training else 0.0
        k, v = mem
        if self.pre_ln:
            x = x + F.dropout(self.self_attn(self.ln1(x), self_mask, causal=True, cache=cache), drop)
            x = x + F.dropout(self.cross_attn(self.ln2(x), k, v, src_mask, group), drop)
            return x + F.dropout(self.ffn(self.ln3(x)), drop)
        x = self.ln1(x + F.dropout(self.self_attn(x, self_mask, causal=True, cache=cache), drop))
        x = self.ln2(x + F.dropout(self.cross_attn(x, k, v, src_mask, group), drop))
        return self.ln3(x + F.dropout(self.ffn(x), drop))


def sinusoids(n: int, dim: int) -> Tensor:
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class Embedder(nn.Module):
    """Token + position embeddings (LayerNorm on them only in post-LN mode, as in the original)."""

    def __init__(self, dims: ModelDims, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(dims.vocab_size, dim, padding_idx=dims.pad_index)
        nn.init.normal_(self.tokens.weight, 0.0, dim**-0.5)
        with torch.no_grad():
            self.tokens.weight[dims.pad_index].zero_()
        self.positions: nn.Embedding | None = None
        if dims.sinusoidal:
            self.register_buffer("table", sinusoids(dims.max_positions, dim), persistent=False)
        else:
            self.positions = nn.Embedding(dims.max_positions, dim)
            nn.init.normal_(self.positions.weight, 0.0, dim**-0.5)
        self.ln = None if dims.pre_ln else nn.LayerNorm(dim)
        self.dropout, self.max_positions = dims.dropout, dims.max_positions

    def forward(self, ids: Tensor, positions: Tensor) -> Tensor:
        pos = self.positions(positions) if self.positions is not None else self.table[positions]  # type: ignore[index]
        x = self.tokens(ids) + pos
        if self.ln is not None:
            x = self.ln(x)
        return F.dropout(x, self.dropout, self.training)


class SequenceTooLong(ValueError):
    """A sequence longer than the position table."""


def check_length(n: int, max_positions: int) -> None:
    if n > max_positions:
        raise SequenceTooLong(f"sequence of {n} tokens exceeds --model.max_positions {max_positions}; "
                              "raise it or shorten the inputs")


def _kept_layers(n: int, p: float, min_layers: int, training: bool) -> list[bool]:
    """Layer drop: each layer skipped with probability p; the min_layers highest draws are always kept."""
    if not training or p <= 0:
        return [True] * n
    draws = torch.rand(n)
    keep = (draws >= p).tolist()
    if sum(keep) < min_layers:
        for i in draws.argsort(descending=True)[:min_layers].tolist():
            keep[i] = True
    return keep


class Encoder(nn.Module):
    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        self.dims = dims
        self.embed = Embedder(dims, dims.enc_dim)
        self.layers = nn.ModuleList(EncoderLayer(dims) for _ in range(dims.enc_layers))
        self.ln = nn.LayerNorm(dims.enc_dim) if dims.pre_ln else None

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, src_len) ids, right-padded -> (batch, src_len, enc_dim)."""
        check_length(x.size(1), self.dims.max_positions)
        positions = torch.arange(x.size(1), device=x.device).expand_as(x)
        h = self.embed(x, positions)
        key_mask = (x != self.dims.pad_index)[:, None, None, :]
        keep = _kept_layers(len(self.layers), self.dims.enc_layer_dropout, self.dims.enc_min_layers,
                            self.training)
        for layer, k in zip(self.layers, keep):
            if k:
                h = layer(h, key_mask)
        return self.ln(h) if self.ln is not None else h


class Decoder(nn.Module):
    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        self.dims = dims
        self.embed = Embedder(dims, dims.dec_dim)
        self.layers = nn.ModuleList(DecoderLayer(dims) for _ in range(dims.dec_layers))
        self.ln = nn.LayerNorm(dims.dec_dim) if dims.pre_ln else None
        self.proj = nn.Linear(dims.dec_dim, dims.vocab_size)
        if dims.share_inout_emb:
            self.proj.weight = self.embed.tokens.weight

    def memory(self, enc_out: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Cross-attention keys/values of every layer, computed once per input."""
        return [layer.cross_attn.memory(enc_out) for layer in self.layers]  # type: ignore[union-attr,operator]

    def new_cache(self) -> list[KVCache]:
        return [KVCache() for _ in self.layers]

    def forward(self, y: Tensor, positions: Tensor, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor,
                group: int = 1, cache: list[KVCache] | None = None, self_mask: Tensor | None = None) -> Tensor:
        """y: (batch*group, t) ids -> hidden states (batch*group, t, dec_dim); row i reads input i // group.
        `self_mask` (rows, 1, 1, cached + t), may attend: a cache whose rows hold padding (the tree scorer's
        segments of unequal length) masks it out; causality is applied on top."""
        check_length(y.size(1) + (cache[0].length if cache else 0) if self_mask is None
                     else int(positions.max()) + 1, self.dims.max_positions)
        h = self.embed(y, positions)
        keep = _kept_layers(len(self.layers), self.dims.dec_layer_dropout, self.dims.dec_min_layers,
                            self.training)
        for i, (layer, k) in enumerate(zip(self.layers, keep)):
            if k:
                h = layer(h, memory[i], src_mask, group, None if cache is None else cache[i], self_mask)
        return self.ln(h) if self.ln is not None else h


class Seq2SeqTransformer(nn.Module):
    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        self.dims = dims
        self.encoder = Encoder(dims)
        self.decoder = Decoder(dims)

    def encode(self, x: Tensor, ignore: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encoder states and the (batch, 1, 1, src_len) cross-attention mask (padding, and `ignore`)."""
        enc = self.encoder(x)
        keep = x != self.dims.pad_index
        if ignore is not None:
            keep = keep & ~ignore
        return enc, keep[:, None, None, :]

    def forward(self, x: Tensor, y: Tensor, y_positions: Tensor | None = None,
                src_ignore: Tensor | None = None) -> Tensor:
        """Teacher-forced logits (batch, tgt_len, vocab) of the token following each position of y."""
        enc, src_mask = self.encode(x, src_ignore)
        if y_positions is None:
            y_positions = torch.arange(y.size(1), device=y.device).expand_as(y)
        h = self.decoder(y, y_positions, self.decoder.memory(enc), src_mask)
        return self.decoder.proj(h)

    def critic_logits(self, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor, critic_id: int,
                      solvable_id: int, non_solvable_id: int) -> Tensor:
        """(batch, 2) logits of [SOLVABLE, NON_SOLVABLE] after one decoder step on the critic token."""
        b = src_mask.size(0)
        tok = torch.full((b, 1), critic_id, dtype=torch.long, device=src_mask.device)
        pos = torch.zeros_like(tok)
        h = self.decoder(tok, pos, memory, src_mask)[:, 0]
        w = self.decoder.proj.weight[[solvable_id, non_solvable_id]]
        bias = self.decoder.proj.bias[[solvable_id, non_solvable_id]]
        return F.linear(h, w, bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

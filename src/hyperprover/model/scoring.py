"""Teacher-forced scores of many tactics per goal, decoded as a radix tree: the fast path of scored enumeration.

`score_tree` returns what `decoding.score_sequences` returns (the reference, which decodes the prefix trie one
position per decoder call) up to float rounding, with far fewer and fuller decoder calls:
- a chain of tokens that every sequence below it shares is one *segment*, fed to the decoder in one call on
  top of the cached keys/values of the segments above it (a Metamath tactic is a label, then ~50 tokens of
  substitutions that no other candidate shares: ~25 calls for a batch of 8 goals instead of ~120);
- a round feeds every segment at once, cut to a width that keeps at least 90% of the fed positions real (the
  rest of a longer segment goes on in the next round); a goal's rows are split into groups that each read one
  copy of its encoder keys, the group size chosen for the least padding plus copying;
- a position where the constraint leaves one token (renormalised scores) contributes log 1 = 0 and needs no
  logits, and a segment is fed only as deep as some position below it needs a hidden state;
- the trie is built in one pass over the tokens (the reference hashes every prefix of every sequence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hyperprover.model.decoding import PrefixConstraint, allowed_logp, project, tempered
from hyperprover.model.transformer import KVCache, Seq2SeqTransformer, check_length

GROUPS = (8, 16, 32, 64)  # group sizes tried besides one group per goal


@dataclass
class _Trie:
    """The prefixes of every input's sequences, as parallel lists: node n is read by the decoder as `token[n]` at
    position `pos[n]` of input `inp[n]`, and predicts the tokens of `targets[n]` (token -> scored pair)."""

    inp: list[int]
    token: list[int]
    pos: list[int]
    con: list[dict[int, dict] | None]  # the constraint's trie node; None where any token may come
    children: list[dict[int, int]]
    targets: list[dict[int, int]]

    def add(self, inp: int, token: int, pos: int, con: dict[int, dict] | None) -> int:
        self.inp.append(inp)
        self.token.append(token)
        self.pos.append(pos)
        self.con.append(con)
        self.children.append({})
        self.targets.append({})
        return len(self.inp) - 1

    def needs_logits(self, n: int) -> bool:
        con = self.con[n]
        return con is None or len(con) > 1


def _build(inputs: Sequence[int], seqs: Sequence[Sequence[int]], eos: int,
           constraints: Sequence[PrefixConstraint | None] | None) -> tuple[_Trie, list[list[int]]]:
    """The prefix trie, and per sequence the scored pairs along its path (one per position, the stop included)."""
    trie = _Trie([], [], [], [], [], [])
    roots: dict[int, int] = {}
    paths: list[list[int]] = []
    n_pairs = 0
    for i, seq in zip(inputs, seqs):
        con = constraints[i] if constraints is not None else None
        n = roots.get(i)
        if n is None:
            n = roots[i] = trie.add(i, eos, 0, (con.root or None) if con is not None else None)
        path = []
        for d, tok in enumerate((*seq, eos)):
            targets = trie.targets[n]
            p = targets.get(tok)
            if p is None:
                p = targets[tok] = n_pairs
                n_pairs += 1
            path.append(p)
            if d == len(seq):
                break
            nxt = trie.children[n].get(tok)
            if nxt is None:  # a constraint node with no next token leaves the row free, as PrefixConstraint does
                state = (con.child(trie.con[n], tok) or None) if con is not None else None
                nxt = trie.children[n][tok] = trie.add(i, tok, d + 1, state)
            n = nxt
        paths.append(path)
    return trie, paths


def _fed(trie: _Trie) -> list[bool]:
    """A node is fed to the decoder when it or a node below it needs logits (its keys/values are needed then)."""
    fed = [False] * len(trie.inp)
    for n in range(len(fed) - 1, -1, -1):  # children come after their parents
        fed[n] = trie.needs_logits(n) or any(fed[c] for c in trie.children[n].values())
    return fed


def _segments(trie: _Trie, fed: list[bool], starts: list[int]) -> list[list[int]]:
    """From each start node, the chain of fed nodes down to the first that has not exactly one fed child."""
    out = []
    for n in starts:
        seg = [n]
        while True:
            below = [c for c in trie.children[seg[-1]].values() if fed[c]]
            if len(below) != 1:
                break
            seg.append(below[0])
        out.append(seg)
    return out


def _width(lengths: list[int]) -> int:
    """The longest cut of the round's segments at which at least 90% of the fed tokens are real: rounds are cheap
    (a few ms), padding costs a full decoder position (90% beat 50% and 75% by 25-45% on Metamath goals)."""
    best, fed_below, n = 1, 0, len(lengths)
    for k, w in enumerate(sorted(lengths)):  # segments shorter than w are whole, the others are cut at w
        if 10 * (fed_below + (n - k) * w) >= 9 * n * w:
            best = w
        fed_below += w
    return best


def _grouping(counts: dict[int, int], n_inputs: int, src_len: int) -> int:
    """Rows per group: one group per input (no copy of its encoder keys) or groups of one of GROUPS, whichever
    costs least in padded rows plus copied keys (one copy of a goal's keys costs about a row of ~40 positions)."""
    largest = max(counts.values())

    def cost(g: int) -> float:
        groups = sum(-(-c // g) for c in counts.values())
        copies = 0 if g == largest and len(counts) == n_inputs else groups
        return groups * g + copies * src_len / 40

    return min([largest, *(g for g in GROUPS if g < largest)], key=cost)


@torch.no_grad()
def score_tree(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor,
               inputs: Sequence[int], seqs: Sequence[Sequence[int]], eos: int, temperature: float = 1.0,
               length_penalty: float = 0.0, constraints: Sequence[PrefixConstraint | None] | None = None,
               body_vocab: Tensor | None = None) -> list[float]:
    """The arguments and result of `decoding.score_sequences` (see there), computed as a radix tree."""
    if not seqs:
        return []
    trie, paths = _build(inputs, seqs, eos, constraints)
    check_length(max(trie.pos) + 1, model.dims.max_positions)
    fed = _fed(trie)
    states = _States()
    segs = _segments(trie, fed, [n for n, p in enumerate(trie.pos) if p == 0 and fed[n]])
    parents: list[int] = []  # row of each segment's parent in the previous round (none in the first)
    cache: list[KVCache] = [KVCache() for _ in model.decoder.layers]
    valid = torch.zeros((len(segs), 0), dtype=torch.bool, device=src_mask.device)
    while segs:
        width = _width([len(s) for s in segs])
        rows, cache, valid = _run_round(model, memory, src_mask, trie, [s[:width] for s in segs], parents, cache,
                                        valid, states)
        next_segs: list[list[int]] = []
        parents = []
        for seg, r in zip(segs, rows):
            if len(seg) > width:  # the rest of a long segment goes on in the next round
                next_segs.append(seg[width:])
                parents.append(r)
                continue
            below = _segments(trie, fed, [c for c in trie.children[seg[-1]].values() if fed[c]])
            next_segs += below
            parents += [r] * len(below)
        segs = next_segs
    pair_logp = _pair_logps(model, trie, states, temperature, body_vocab)
    owner = torch.tensor([j for j, path in enumerate(paths) for _ in path], dtype=torch.long)
    totals = torch.zeros(len(seqs), dtype=torch.float32)
    totals.index_add_(0, owner, pair_logp[torch.tensor([p for path in paths for p in path], dtype=torch.long)])
    return [float(t) / (len(seq) + 1) ** length_penalty for t, seq in zip(totals.tolist(), seqs)]


class _States:
    """The decoder outputs of the nodes that need logits, gathered round by round."""

    def __init__(self) -> None:
        self.parts: list[Tensor] = []
        self.row: dict[int, int] = {}  # node -> row of `all()`

    def add(self, nodes: list[int], h: Tensor) -> None:
        base = len(self.row)
        self.row.update((n, base + k) for k, n in enumerate(nodes))
        self.parts.append(h)

    def all(self) -> Tensor:
        return torch.cat(self.parts) if len(self.parts) != 1 else self.parts[0]


def _run_round(model: Seq2SeqTransformer, memory: list[tuple[Tensor, Tensor]], src_mask: Tensor, trie: _Trie,
               segs: list[list[int]], parents: list[int], cache: list[KVCache], valid: Tensor,
               states: _States) -> tuple[list[int], list[KVCache], Tensor]:
    """Feed every segment (on top of its parent row's cache) in one decoder call. Returns each segment's row and
    the rows' caches with which of their positions are real (padding is masked out below)."""
    dev = src_mask.device
    by_input: dict[int, list[int]] = {}
    for s, seg in enumerate(segs):
        by_input.setdefault(trie.inp[seg[0]], []).append(s)
    group = _grouping({i: len(m) for i, m in by_input.items()}, src_mask.size(0), src_mask.size(-1))
    order: list[int] = []  # the segment of each row; padding rows repeat their group's first
    group_inputs: list[int] = []
    for i in sorted(by_input):
        members = by_input[i]
        for k in range(0, len(members), group):
            part = members[k:k + group]
            order += part + [part[0]] * (group - len(part))
            group_inputs.append(i)
    row_of = [0] * len(segs)
    for r in range(len(order) - 1, -1, -1):
        row_of[order[r]] = r
    width = max(len(seg) for seg in segs)
    pad = trie.token[segs[0][0]]
    flat: list[int] = []
    for s in order:
        seg = segs[s]
        flat += [trie.token[n] for n in seg]
        flat += [pad] * (width - len(seg))
    tokens = torch.tensor(flat, dtype=torch.long).view(len(order), width)
    starts = torch.tensor([trie.pos[segs[s][0]] for s in order], dtype=torch.long)
    positions = (starts[:, None] + torch.arange(width)[None, :]).clamp_(max=model.dims.max_positions - 1)
    lengths = torch.tensor([len(segs[s]) for s in order])
    new_valid = (torch.arange(width)[None, :] < lengths[:, None]).to(dev)
    if group_inputs == list(range(src_mask.size(0))):
        mem, mask = memory, src_mask
    else:
        sel = torch.tensor(group_inputs, dtype=torch.long, device=dev)
        mem, mask = [(k.index_select(0, sel), v.index_select(0, sel)) for k, v in memory], src_mask.index_select(0, sel)
    if parents:
        idx = torch.tensor([parents[s] for s in order], dtype=torch.long, device=dev)
        cache = [KVCache(c.k.index_select(0, idx), c.v.index_select(0, idx))  # type: ignore[union-attr]
                 for c in cache]
        valid = valid.index_select(0, idx)
    else:
        cache = [KVCache() for _ in cache]
        valid = valid[:0].new_zeros((len(order), 0))
    self_mask = torch.cat([valid, new_valid], dim=1)
    h = model.decoder(tokens.to(dev), positions.to(dev), mem, mask, group, cache, self_mask[:, None, None, :])
    want = [(row_of[s] * width + j, n) for s, seg in enumerate(segs) for j, n in enumerate(seg)
            if trie.needs_logits(n)]
    if want:
        at = torch.tensor([w for w, _ in want], dtype=torch.long, device=dev)
        states.add([n for _, n in want], h.reshape(-1, h.size(-1)).index_select(0, at))
    return row_of, cache, self_mask


def _pair_logps(model: Seq2SeqTransformer, trie: _Trie, states: _States, temperature: float,
                body_vocab: Tensor | None) -> Tensor:
    """The log-prob of every scored (node, next token) pair: over the whole vocabulary (first position, or no
    `body_vocab`), over `body_vocab`, or renormalised over the tokens the constraint allows there."""
    proj = model.decoder.proj
    out = torch.zeros(sum(len(t) for t in trie.targets), dtype=torch.float32)
    full: list[int] = []
    body: list[int] = []
    cons: list[int] = []
    for n, con in enumerate(trie.con):
        if con is None:
            (body if trie.pos[n] > 0 and body_vocab is not None else full).append(n)
        elif len(con) > 1:
            cons.append(n)
        else:  # one allowed token: log 1 for it, and a token outside the constraint cannot be taken
            for tok, p in trie.targets[n].items():
                if tok not in con:
                    out[p] = float("-inf")
    hidden = states.all() if states.parts else None
    dev = proj.weight.device

    def rows(nodes: list[int]) -> Tensor:
        assert hidden is not None
        return hidden.index_select(0, torch.tensor([states.row[n] for n in nodes], dtype=torch.long, device=dev))

    for group, vocab in ((full, None), (body, body_vocab)):
        if group:
            logp = tempered(project(proj, rows(group), vocab), temperature).log_softmax(-1).cpu()
            columns = None if vocab is None else [vocab.tolist()] * len(group)
            _scatter(out, logp, [trie.targets[n] for n in group], columns)
    if cons:
        allowed = [sorted(trie.con[n]) for n in cons]  # type: ignore[arg-type]
        logp = allowed_logp(proj, rows(cons), allowed, temperature)[0].cpu()
        _scatter(out, logp, [trie.targets[n] for n in cons], allowed)
    return out


def _scatter(out: Tensor, logp: Tensor, targets: list[dict[int, int]], columns: list[list[int]] | None) -> None:
    """out[pair] = logp[row, column of its token] for each row's (token -> pair) targets; -inf for a token that
    has no column (`columns`: the word of each column per row; None: a word is its own column)."""
    rows, cols, pairs, missing = [], [], [], []
    lookup: dict[int, int] | None = None
    last: list[int] | None = None
    for r, tgt in enumerate(targets):
        if columns is not None and columns[r] is not last:
            last = columns[r]
            lookup = {w: c for c, w in enumerate(last)}
        for tok, p in tgt.items():
            c = tok if lookup is None else lookup.get(tok)
            if c is None:
                missing.append(p)
            else:
                rows.append(r)
                cols.append(c)
                pairs.append(p)
    if pairs:
        out[torch.tensor(pairs, dtype=torch.long)] = logp[torch.tensor(rows), torch.tensor(cols)]
    if missing:
        out[torch.tensor(missing, dtype=torch.long)] = float("-inf")

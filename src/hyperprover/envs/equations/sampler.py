"""Random expressions and hypotheses (docs/equations.md 4.1): the sampler every generator draws from.

Tree shapes are uniform among unary-binary trees with exactly `n_ops` operators (Lample & Charton, 2019):
`D[n][e]` counts the trees with n operators that fill e empty slots, and each step places one operator
in the slots, after turning the slots before it into leaves, with probability proportional to the number
of trees that can still be completed. Labels are then drawn uniformly. All randomness comes from the
`random.Random` passed in, so a seed gives the same expressions on every machine.

Generation loops are bounded: they give up with `SamplerError` after `MAX_TRIES`.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hyperprover.config import opt
from hyperprover.envs.equations.expr import Int, Node, Var, evaluate, is_valid

MAX_TRIES = 1000
MAX_OPS = 100  # largest n_ops the counting table serves


class SamplerError(RuntimeError):
    """A bounded resampling loop found nothing acceptable (the settings are probably too narrow)."""


@dataclass
class GenConfig:
    """Settings of the synthetic theorem generators (docs/equations.md 4.1-4.4); the defaults are the paper's."""

    fill_max_ops: int = opt(4, "largest number of operators of a random expression filling a rule variable",
                            min=0, max=MAX_OPS)
    leaf_int_prob: float = opt(0.5, "probability that a sampled leaf is an integer (else a variable)",
                               min=0.0, max=1.0)
    positive: bool = opt(False, "sample only non-negative integer leaves")
    non_null: bool = opt(True, "never sample the integer 0 as a leaf of a compound expression")
    rwalk_n_steps: int = opt(20, "accepted rewriting steps per random walk", min=1, max=1000)
    rwalk_max_init_ops: int = opt(10, "operators per side of the start statement are drawn in 0..this",
                                  min=0, max=MAX_OPS)
    rwalk_max_created_hyps: int = opt(10, "hypotheses a walk may create are capped by a draw in 0..this",
                                      min=0)
    rwalk_bias_rules: float = opt(1.0, "rule weight is 1/max(uses in this walk,1)**bias", min=0.0)
    idwalk_split: str = opt("identities%4!=3", "identities whose sides the `idwalk` generator walks from: "
                            "identities or a fold of them (the default leaves the held-out quarter out)")
    graph_n_nodes: int = opt(500, "nodes of a random derivation graph", min=1)
    graph_max_trials: int = opt(1000, "rule applications tried per graph", min=1)
    graph_max_init_hyps: int = opt(10, "initial hypotheses of a graph are drawn in 0..this", min=0)
    graph_max_true_nodes: int = opt(30, "trivially true nodes a graph keeps", min=0)
    graph_hyp_max_ops: int = opt(3, "operators per side of an initial graph hypothesis", min=0, max=MAX_OPS)
    graph_tf_prob: float = opt(0.5, "probability of trying a transformation (else an assertion) rule",
                               min=0.0, max=1.0)
    graph_bias_rules: float = opt(1.0, "rule weight is 1/max(uses in this graph,1)**bias", min=0.0)
    graph_n_samples: int = opt(30, "theorems sampled from each graph", min=1)
    graph_max_proof_size: int = opt(2000, "skip graph nodes whose proof tree has more steps", min=1)
    max_tokens: int = opt(1024, "largest goal (in tokens, hypotheses included) a generated theorem or "
                          "training pair may have; walk steps and graph nodes beyond it are rejected", min=16)


# ---------------------------------------------------------------- tree shapes


@functools.cache
def _counts(max_ops: int, unary: bool) -> tuple[tuple[int, ...], ...]:
    """D[n][e] for n <= max_ops, e <= 2 * max_ops + 2 (exact integers)."""
    width = 2 * max_ops + 3
    d = [[0] + [1] * (width - 1)]
    for n in range(1, max_ops + 1):
        row = [0] * width
        for e in range(1, width - 1):
            row[e] = row[e - 1] + (d[n - 1][e] if unary else 0) + d[n - 1][e + 1]
        d.append(row)
    return tuple(tuple(r) for r in d)


@functools.cache
def _choices(n: int, e: int, unary: bool) -> tuple[list[tuple[int, int]], list[float]]:
    """The (leaves skipped, arity) moves from state (n ops left, e empty slots), with cumulative weights."""
    d = _counts(MAX_OPS, unary)
    total = d[n][e]
    moves: list[tuple[int, int]] = []
    weights: list[float] = []
    for k in range(e):
        if unary:
            moves.append((k, 1))
            weights.append(d[n - 1][e - k] / total)
        moves.append((k, 2))
        weights.append(d[n - 1][e - k + 1] / total)
    cum: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return moves, cum


def sample_shape(rng: random.Random, n_ops: int, unary: bool) -> list[int]:
    """A uniformly random tree shape as the arities of its nodes in prefix order (0 = leaf)."""
    if not 0 <= n_ops <= MAX_OPS:
        raise ValueError(f"n_ops must be in 0..{MAX_OPS}, got {n_ops}")
    slots: list[int | None] = [None]  # prefix order; None = empty slot
    fixed_leaves = 0  # the first empty slots that are already committed to be leaves
    e = 1
    for n in range(n_ops, 0, -1):
        moves, cum = _choices(n, e, unary)
        k, arity = moves[min(_bisect(cum, rng.random() * cum[-1]), len(moves) - 1)]
        fixed_leaves += k
        seen = -1
        for idx, s in enumerate(slots):
            if s is None:
                seen += 1
                if seen == fixed_leaves:
                    slots[idx:idx + 1] = [arity] + [None] * arity
                    break
        e = e - k - 1 + arity
    return [0 if s is None else s for s in slots]


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


# ---------------------------------------------------------------- labelled expressions


@dataclass(frozen=True)
class Sampler:
    """Which operators and leaves random expressions use (from the dataset and GenConfig)."""

    unary: tuple[str, ...]
    binary: tuple[str, ...]
    n_vars: int = 5
    max_int: int = 10
    leaf_int_prob: float = 0.5
    positive: bool = False
    non_null: bool = True
    fill_max_ops: int = 4

    def leaf(self, rng: random.Random, allow_zero: bool = False) -> Node:
        if self.n_vars == 0 or rng.random() < self.leaf_int_prob:
            return Int(self.integer(rng, allow_zero))
        return Var(f"x{rng.randrange(self.n_vars)}")

    def integer(self, rng: random.Random, allow_zero: bool = False) -> int:
        m = self.max_int
        if self.non_null and not allow_zero:
            v = rng.randint(1, m)
            return v if self.positive or rng.random() < 0.5 else -v
        return rng.randint(0, m) if self.positive else rng.randint(-m, m)

    def raw_expr(self, rng: random.Random, n_ops: int, allow_zero: bool = False) -> Node:
        """One random labelled tree (not checked for validity)."""
        if not self.binary:
            raise SamplerError("no binary operator is enabled")
        arities = sample_shape(rng, n_ops, bool(self.unary))
        # a lone leaf may be 0 (e.g. the side of `0 < x0`); inside a compound expression it may not
        zero_ok = allow_zero or n_ops == 0
        labels: list[tuple[int, str | Node]] = []
        for a in arities:
            if a == 0:
                labels.append((0, self.leaf(rng, zero_ok)))
            elif a == 1:
                labels.append((1, rng.choice(self.unary)))
            else:
                labels.append((2, rng.choice(self.binary)))
        return _build(labels)

    def expr(self, rng: random.Random, n_ops: int, accept: Callable[[Node], bool] | None = None) -> Node:
        """A random valid expression with `n_ops` operators (resampled until valid and accepted)."""
        for _ in range(MAX_TRIES):
            e = self.raw_expr(rng, n_ops)
            if is_valid(e) and (accept is None or accept(e)):
                return e
        raise SamplerError(f"no acceptable expression with {n_ops} operators in {MAX_TRIES} tries")

    def fill(self, rng: random.Random, names: Iterable[str]) -> dict[str, Node]:
        """Random values for rule variables left unbound: each has a variable or a finite value."""
        return {name: self.expr(rng, rng.randint(0, self.fill_max_ops), _fill_ok) for name in sorted(names)}


def _fill_ok(e: Node) -> bool:
    return e.has_var or math.isfinite(evaluate(e, {}))


def _build(labels: list[tuple[int, str | Node]]) -> Node:
    """Prefix (arity, label) list -> tree."""
    stack: list[Node] = []
    for arity, lab in reversed(labels):
        if arity == 0:
            assert isinstance(lab, Node)
            stack.append(lab)
        else:
            kids = tuple(stack.pop() for _ in range(arity))
            stack.append(Node("unary" if arity == 1 else "binary", lab, kids))  # type: ignore[arg-type]
    (root,) = stack
    return root


def random_statement(sampler: Sampler, rng: random.Random, max_ops: int, cmp_ops: tuple[str, ...],
                     assess: Callable[[Node], bool | None]) -> Node:
    """A random comparison (docs/equations.md 4.1): op uniform in `cmp_ops`, each side with
    0..max_ops operators; kept only if it has a variable, is valid and `assess` cannot decide it."""
    for _ in range(MAX_TRIES):
        op = rng.choice(cmp_ops)
        a = sampler.raw_expr(rng, rng.randint(0, max_ops))
        b = sampler.raw_expr(rng, rng.randint(0, max_ops))
        stmt = Node("cmp", op, (a, b))
        if stmt.has_var and is_valid(stmt) and assess(stmt) is None:
            return stmt
    raise SamplerError(f"no undecided random statement with ops {cmp_ops} in {MAX_TRIES} tries")

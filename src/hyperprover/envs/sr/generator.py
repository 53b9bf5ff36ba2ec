"""Synthetic SR theorems with their proofs (docs/equations.md 7): random targets, backward trajectories, fixed splits.

A target f* is a random tree (shape sampler of docs/equations.md 4.1) simplified by `numeric.simplify` and sampled at
linspace(x_min, x_max, n_points), keeping the points where it is defined. Its proof is built backward:
repeatedly undo one rule (uniformly among every wrap/grow rule whose right side matches somewhere) until
a leaf is left, keeping only undo steps whose result is still defined at every kept point (so each
forward step is a valid tactic); then `0 -> leaf` starts the chain. Replayed forward through the env,
the chain stops at the first step whose values already match the targets.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperprover.envs.base import ProofNode, Theorem
from hyperprover.envs.equations.expr import Int, Node, Var, bin, to_pretty, un
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.env import SREnv, SRGoal, start_goal
from hyperprover.envs.sr.numeric import VAR, PointSet, all_finite, evaluate_points, simplify
from hyperprover.envs.sr.rules import Undo, start_tactic, undo_moves

MAX_TRIES = 1000  # targets drawn per problem before giving up (a bad config, not bad luck)
_STREAMS = {"train": 0, "valid": 1, "test": 2, "data": 3}
SPLIT_SEEDS = {"valid": 0, "test": 1}
SPLIT_SIZE = 1000


@dataclass(frozen=True)
class SRProblem:
    """A target, its point set and a proof: the chain of (goal, tactic) from f = 0 to the closing tactic."""

    label: str
    target: Node
    points: PointSet
    steps: tuple[tuple[SRGoal, str], ...]

    def proof(self) -> ProofNode:
        node: ProofNode | None = None
        for goal, tactic in reversed(self.steps):
            node = ProofNode(goal, tactic, (node,) if node is not None else ())
        assert node is not None
        return node

    def theorem(self, split: str) -> Theorem:
        meta: dict[str, Any] = {"target": self.target.prefix_str(), "target_infix": to_pretty(self.target),
                                "proof": [t for _, t in self.steps],
                                "exprs": [g.expr.prefix_str() for g, _ in self.steps]}
        return Theorem(self.label, self.steps[0][0], split, meta)


# ---------------------------------------------------------------- random trees (docs/equations.md 4.1)


@functools.lru_cache(maxsize=8)
def _counts(max_ops: int) -> tuple[tuple[int, ...], ...]:
    """D[n][e]: unary-binary trees with n operators that fill e empty slots."""
    width = 2 * max_ops + 3
    d = [[0] * width for _ in range(max_ops + 1)]
    for e in range(1, width):
        d[0][e] = 1
    for n in range(1, max_ops + 1):
        for e in range(1, width - 1):
            d[n][e] = d[n][e - 1] + d[n - 1][e] + d[n - 1][e + 1]
    return tuple(tuple(r) for r in d)


def tree_shape(rng: np.random.Generator, n_ops: int) -> list[int]:
    """Arities in prefix order (0 = leaf) of a tree drawn uniformly among those with `n_ops` operators."""
    d = _counts(n_ops)
    out: list[int] = []
    e, n = 1, n_ops
    while n > 0:
        # walk the (k leaves, then an operator of arity a) choices until their weights pass r; they sum to D[n][e]
        r = rng.random() * d[n][e]
        k, a, acc = 0, 2, 0
        for k in range(e):
            acc += d[n - 1][e - k]
            if r < acc:
                a = 1
                break
            acc += d[n - 1][e - k + 1]
            if r < acc:
                a = 2
                break
        out += [0] * k + [a]
        e, n = e - k - 1 + a, n - 1
    return out + [0] * e


def random_expr(rng: np.random.Generator, n_ops: int, unary: Sequence[str], binary: Sequence[str],
                prob_int: float, max_int: int) -> Node:
    shape = tree_shape(rng, n_ops) if unary else _binary_shape(rng, n_ops)
    stack: list[tuple[int, str, list[Node]]] = []
    for arity in shape:
        if arity == 0:
            if rng.random() < prob_int:
                v = int(rng.integers(1, max_int + 1))
                node = Int(v if rng.random() < 0.5 else -v)
            else:
                node = Var(VAR)
        else:
            ops = unary if arity == 1 else binary
            stack.append((arity, ops[int(rng.integers(len(ops)))], []))
            continue
        while stack:
            stack[-1][2].append(node)
            arity, op, kids = stack[-1]
            if len(kids) < arity:
                break
            stack.pop()
            node = un(op, kids[0]) if arity == 1 else bin(op, kids[0], kids[1])
        else:
            return node
    raise AssertionError("a tree shape always ends with a complete tree")


def _binary_shape(rng: np.random.Generator, n_ops: int) -> list[int]:
    # no unary operators enabled: keep drawing until the shape has none (rare for small n_ops)
    for _ in range(10_000):
        s = tree_shape(rng, n_ops)
        if 1 not in s:
            return s
    raise RuntimeError("could not draw a binary-only tree shape")


# ---------------------------------------------------------------- targets and trajectories


def sample_target(rng: np.random.Generator, cfg: SRConfig) -> tuple[Node, PointSet] | None:
    """One simplified random target and its points, or None when it is rejected."""
    lo, hi = cfg.ops_range()
    expr = random_expr(rng, int(rng.integers(lo, hi + 1)), cfg.unary(), cfg.binary(), cfg.prob_int_leaf,
                       cfg.max_int)
    target = simplify(expr)
    if not target.has_var or not target.children or target.size > cfg.max_expr_len:
        return None  # constant or a bare x0: nothing to regress; or too long for the env to build
    try:
        points = PointSet.from_target(target, np.linspace(cfg.x_min, cfg.x_max, cfg.n_points).tolist(),
                                      cfg.min_defined)
    except ValueError:
        return None
    return target, points


def backward_trajectory(rng: np.random.Generator, target: Node, points: PointSet,
                        max_steps: int = 1000) -> list[Undo] | None:
    """Undo steps from `target` down to a leaf, each leaving an expression defined at every point; the
    forward proof is their reverse. None when the walk gets stuck."""
    undos: list[Undo] = []
    cur = target
    for _ in range(max_steps):
        if not cur.children:
            return undos
        moves = [m for m in undo_moves(cur) if all_finite(evaluate_points(m.before, points))]
        if not moves:
            return None
        move = moves[int(rng.integers(len(moves)))]
        undos.append(move)
        cur = move.before
    return None


def forward_steps(env: SREnv, target: Node, points: PointSet, undos: Sequence[Undo]) -> tuple[tuple[SRGoal, str], ...]:
    """Replay a backward trajectory through the env; stops at the first tactic that closes the goal."""
    leaf = undos[-1].before if undos else target
    tactics = [start_tactic(leaf).text] + [u.tactic.text for u in reversed(undos)]
    goal = start_goal(points)
    steps: list[tuple[SRGoal, str]] = []
    for text in tactics:
        res = env.apply(goal, text)
        if res.error is not None:
            raise AssertionError(f"generated tactic {text!r} fails on {to_pretty(goal.expr)}: {res.error}")
        steps.append((goal, text))
        if res.closes:
            return tuple(steps)
        child = res.children[0]
        assert isinstance(child, SRGoal)
        goal = child
    raise AssertionError(f"the trajectory of {to_pretty(target)} does not close its goal")


def generate_problem(rng: np.random.Generator, cfg: SRConfig, env: SREnv, label: str) -> SRProblem:
    for _ in range(MAX_TRIES):
        drawn = sample_target(rng, cfg)
        if drawn is None:
            continue
        target, points = drawn
        undos = backward_trajectory(rng, target, points)
        if undos is None:
            continue
        steps = forward_steps(env, target, points, undos)
        if len(steps) < 2:
            continue  # a single leaf already fits (e.g. x - x + 4 is the constant 4): too trivial to keep
        return SRProblem(label, target, points, steps)
    raise RuntimeError(f"no acceptable SR target in {MAX_TRIES} draws; widen the operator lists or --sr.min_defined")


def problems(seed: int, cfg: SRConfig | None = None, stream: str = "data") -> Iterator[SRProblem]:
    """Infinite, reproducible stream of problems; `stream` keeps train/valid/test/data seeds apart."""
    cfg = cfg or SRConfig()
    env = SREnv(cfg)
    rng = np.random.default_rng([_STREAMS[stream], seed])
    for i in itertools.count():
        yield generate_problem(rng, cfg, env, f"sr_{stream}:{seed}:{i}")


def take(it: Iterator[SRProblem], n: int) -> list[SRProblem]:
    return list(itertools.islice(it, n))


def fixed_split(split: str, n: int = SPLIT_SIZE, cfg: SRConfig | None = None) -> list[SRProblem]:
    """The valid / test problems: `n` from the split's fixed seed, labelled `sr_<split>:<i>`."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"sr: no fixed split {split!r}; choose one of {', '.join(SPLIT_SEEDS)}")
    return list(_fixed_split(split, n, (cfg or SRConfig()).key()))


@functools.lru_cache(maxsize=8)
def _fixed_split(split: str, n: int, cfg_key: tuple[Any, ...]) -> tuple[SRProblem, ...]:
    from dataclasses import fields

    cfg = SRConfig(**{f.name: v for f, v in zip(fields(SRConfig), cfg_key)})
    stream = problems(SPLIT_SEEDS[split], cfg, stream=split)
    return tuple(SRProblem(f"sr_{split}:{i}", p.target, p.points, p.steps) for i, p in enumerate(take(stream, n)))

"""Supervised data of the SR env: (goal tokens, tactic tokens) pairs for `sr_bwd_rwalk_seq2seq`.

Every pair is one step of a generated proof chain, tokenized by the env itself, so what the model
learns is exactly what `SREnv.apply` accepts. Delimiters (`</s>`) are the trainer's business.
"""

from __future__ import annotations

from collections.abc import Iterator

from hyperprover.envs.equations.expr import BINARY_OPS, UNARY_OPS
from hyperprover.envs.sr import generator
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.env import GOAL_CLOSE, GOAL_OPEN, SREnv
from hyperprover.envs.sr.floats import float_vocab
from hyperprover.envs.sr.generator import SRProblem
from hyperprover.envs.sr.rules import MAX_POS, RULES, SUBST, SUBST_END, SUBST_NAME, VAR_PREFIX

Pair = tuple[list[str], list[str]]


def problem_pairs(env: SREnv, problem: SRProblem) -> Iterator[Pair]:
    for goal, tactic in problem.steps:
        yield env.goal_tokens(goal), env.tactic_tokens(tactic)


def seq2seq_examples(seed: int, cfg: SRConfig | None = None) -> Iterator[Pair]:
    """Infinite, reproducible stream of training pairs (its seeds never overlap valid/test)."""
    env = SREnv(cfg)
    for problem in generator.problems(seed, env.cfg, stream="train"):
        yield from problem_pairs(env, problem)


def split_examples(split: str, n: int = 1000, cfg: SRConfig | None = None) -> list[Pair]:
    """The first `n` pairs of a fixed split (`valid`, `test`; `bench` has only its ~100 pairs)."""
    from hyperprover.envs.sr.benchmark import bench_problems

    env = SREnv(cfg)
    out: list[Pair] = []
    if split == "bench":
        probs = bench_problems(env.cfg)
    elif split in generator.SPLIT_SEEDS:
        # problems have ~4 steps on average; draw more only if the first batch is short of n pairs
        k = max(1, n // 3)
        while True:
            probs = generator.fixed_split(split, k, env.cfg)
            if sum(len(p.steps) for p in probs) >= n or k >= 100 * n:
                break
            k *= 2
    else:
        raise ValueError(f"sr: no fixed split {split!r}; choose valid, test or bench")
    for p in probs:
        out.extend(problem_pairs(env, p))
        if len(out) >= n:
            break
    return out[:n]


def vocabulary() -> list[str]:
    """Every token SR goals and tactics can contain (for building a model dictionary up front)."""
    words = [GOAL_OPEN, GOAL_CLOSE, SUBST, SUBST_NAME, SUBST_END, VAR_PREFIX + "A", VAR_PREFIX + "B", "x0", "PI"]
    words += list(UNARY_OPS) + list(BINARY_OPS) + [str(d) for d in range(10)]
    words += [r.name for r in RULES] + [f"<PREFIX_{p}>" for p in range(MAX_POS + 1)]
    words += float_vocab()
    return list(dict.fromkeys(words))  # first occurrence order, duplicates (+, -) dropped

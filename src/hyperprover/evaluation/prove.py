"""`hyperprover prove`: prove one theorem, given as text or as a label (`identities:12`).

With `--tactics FILE` a person applies tactics by hand and sees the subgoals; otherwise a model
(`--reload_model`) drives the search named by `--prover`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from hyperprover.config import ConfigError, help_text, load_config, opt
from hyperprover.envs.base import BackwardEnv, GoalParseError, ProofError, Theorem, make_env

SPLITS = ("identities", "valid", "test", "train")


@dataclass
class ProveConfig:
    env: str = opt("eq", "formal system: eq | mm | sr")
    theorem: str = opt("", "the goal as text, or a label such as identities:12")
    tactics: str = opt("", "file of tactics to apply by hand, one per line ('-': standard input)")


def resolve_theorem(env: BackwardEnv, text: str) -> Theorem:
    """A label `split:name` (or `split:index`) from the env's splits, else a goal parsed from text."""
    head, _, tail = text.partition(":")
    if tail and head in SPLITS and ("==" not in text and "=" not in tail):
        theorems = env.theorems(head)
        by_label = {t.label: t for t in theorems}
        if text in by_label:
            return by_label[text]
        if tail.isdigit() and int(tail) < len(theorems):
            return theorems[int(tail)]
        raise ConfigError(f"--theorem {text}: no such label in split {head!r} ({len(theorems)} theorems)")
    return Theorem(label="cli", goal=env.parse_goal(text), split="cli")


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(ProveConfig, "prove", __doc__ or ""))
        return 0
    cfg = load_config(ProveConfig, argv)
    if not cfg.theorem:
        raise ConfigError("--theorem is required (a goal as text, or a label such as identities:12)")
    try:
        env = make_env(cfg.env)
    except NotImplementedError as e:
        raise ConfigError(str(e)) from None
    try:
        theorem = resolve_theorem(env, cfg.theorem)
    except GoalParseError as e:
        raise ConfigError(f"--theorem: {e}") from None
    if not cfg.tactics:
        raise ConfigError("model-driven proving has not landed yet: give --tactics FILE to prove by hand")
    from hyperprover.evaluation.by_hand import run_by_hand

    try:
        lines = sys.stdin.readlines() if cfg.tactics == "-" else open(cfg.tactics).read().splitlines()
    except OSError as e:
        raise ConfigError(f"--tactics {cfg.tactics}: {e.strerror}") from None
    try:
        return 0 if run_by_hand(env, theorem.goal, lines, sys.stdout) else 1
    except ProofError as e:
        print(f"hyperprover prove: the proof does not re-check: {e}", file=sys.stderr)
        return 1

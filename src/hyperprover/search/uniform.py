"""The model-free floor: every complete applicable tactic of a goal, uniform priors, critic 0.5.

This is what a learned prover must beat (`--expander uniform`): the same searches, the same budget,
but no model. It proposes the tactics the env lists as complete for the goal (nothing left to
substitute), all of them when there are at most `n_samples` (or `n_samples` is 0), else a random subset of
that size, in an order drawn from the goal's seed, so a resumed or re-batched evaluation proposes the same
tactics.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from hyperprover.envs.base import Goal
from hyperprover.search.expander import DecodingConfig, Expansion, complete_tactics, enumerable

NEUTRAL_CRITIC = 0.5


class UniformExpander:
    """Implements hyperprover.search.expander.Expander without a model."""

    def __init__(self, env: object, seed: int = 0) -> None:
        self.env = enumerable(env, "--expander uniform")
        self.seed = seed

    def expand(self, goals: Sequence[Goal], params: DecodingConfig,
               seeds: Sequence[int] | None = None) -> list[Expansion]:
        if seeds is not None and len(seeds) != len(goals):
            raise ValueError(f"{len(seeds)} seeds for {len(goals)} goals")
        out = []
        for i, goal in enumerate(goals):
            try:
                tactics = complete_tactics(self.env, goal)
            except Exception as e:  # noqa: BLE001 - a goal the env cannot read is this goal's error
                out.append(Expansion(goal, (), (), 0.0, error=f"failed_enumerate: {type(e).__name__}: {e}"))
                continue
            # shuffled even when all are kept: ties in the searches are broken by order, and the env's order
            # (by position in the goal) would be a hand-written heuristic, not the floor
            rng = random.Random(seeds[i] if seeds is not None else f"{self.seed}:{goal.key}")
            keep = len(tactics) if params.n_samples == 0 else min(len(tactics), params.n_samples)
            tactics = rng.sample(tactics, keep)
            if not tactics:
                out.append(Expansion(goal, (), (), NEUTRAL_CRITIC,
                                     error="failed_no_tactic: no complete tactic applies to the goal"))
                continue
            prior = -math.log(len(tactics))
            out.append(Expansion(goal, tuple(tactics), (prior,) * len(tactics), NEUTRAL_CRITIC))
        return out

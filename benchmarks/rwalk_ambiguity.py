"""How well can any model predict the `eq_bwd_rwalk_seq2seq` target? An upper bound on its tok-acc.

The target for goal e_i is the undo of walk step i, but steps at different places commute: from e_i alone
the last step is one of several that are still visible. This measures an oracle that knows every step of
the walk (far more than the goal shows) but not their order: it guesses uniformly among the distinct
(rule, direction) undos of steps 1..i that match somewhere in e_i. With every other tactic token right,
that gives an upper bound on the teacher-forced token accuracy (random substitution values, which no model
can predict either, are counted as right, so the real bound is lower).

    python benchmarks/rwalk_ambiguity.py [--walks 150] [--n_steps 20] [--max_init_ops 10]
"""

from __future__ import annotations

import argparse
import random
import statistics

from hyperprover.envs.equations.gencontext import PositionIndex, context
from hyperprover.envs.equations.rwalk import random_walk
from hyperprover.envs.equations.sampler import GenConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walks", type=int, default=150)
    ap.add_argument("--n_steps", type=int, default=GenConfig.rwalk_n_steps)
    ap.add_argument("--max_init_ops", type=int, default=GenConfig.rwalk_max_init_ops)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    gen = GenConfig(rwalk_n_steps=args.n_steps, rwalk_max_init_ops=args.max_init_ops)
    ctx = context(gen)
    rng = random.Random(args.seed)
    p_rule: list[float] = []
    n_tokens: list[int] = []
    n_applicable: list[int] = []
    for _ in range(args.walks):
        walk = random_walk(ctx, rng)
        if walk is None:
            continue
        for i, step in enumerate(walk.steps, start=1):
            index = PositionIndex.of(walk.statements[i])
            visible = {(s.rule.name, not s.forward) for s in walk.steps[:i] if index.matches(s.rule, not s.forward)}
            assert (step.rule.name, not step.forward) in visible
            p_rule.append(1 / len(visible))
            n_tokens.append(len(step.undo_tactic().split()) + 1)  # + the stop token
            n_applicable.append(sum(1 for r in ctx.t_rules for f in (True, False) if index.matches(r, f)))
    bound = sum(n - 1 + p for n, p in zip(n_tokens, p_rule, strict=True)) / sum(n_tokens)
    print(f"{len(p_rule)} (goal, tactic) pairs from {args.walks} walks of {args.n_steps} steps")
    print(f"(rule, direction) pairs that apply somewhere in a goal: {statistics.mean(n_applicable):.0f} on average")
    print(f"oracle rule accuracy (knows the steps, not their order): {100 * statistics.mean(p_rule):.1f}%")
    print(f"tactic length {statistics.mean(n_tokens):.2f} tokens with the stop token")
    print(f"upper bound on valid-eq_bwd_rwalk_seq2seq-tok-acc: {100 * bound:.1f}%")


if __name__ == "__main__":
    main()

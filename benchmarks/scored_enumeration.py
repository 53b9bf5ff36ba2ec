"""Scored enumeration against sampling: model time per goal and what each proposes, same process.

For one checkpoint and the root goals of a split, expands every goal three ways: the model sampling
`--n_samples` tactics (constrained to applicable starts, as the demo does), the model scoring every complete
applicable tactic plus `--n_subst` samples for the starts that need substitutions (score_enumerated), and
the model-free floor (uniform). Prints model seconds per goal, tactics per goal, distinct tactics the env
accepts per goal, the share of goals with a tactic that closes them, and the time ratio sampling/scored.

    python benchmarks/scored_enumeration.py --checkpoint MODEL.pth [--split identities] [--batch 32]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from hyperprover.envs.base import BackwardEnv, Goal, make_env
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig, Expander
from hyperprover.search.uniform import UniformExpander


@dataclass(frozen=True)
class Row:
    model_s_per_goal: float
    tactics_per_goal: float
    valid_per_goal: float
    goals_closed: float  # share of goals with a proposed tactic that closes them
    env_s_per_goal: float


def measure(env: BackwardEnv, expander: Expander, goals: list[Goal], params: DecodingConfig, batch: int) -> Row:
    t0 = time.perf_counter()
    expansions = []
    for i in range(0, len(goals), batch):
        chunk = goals[i: i + batch]
        expansions += expander.expand(chunk, params, list(range(i, i + len(chunk))))
    model_s = time.perf_counter() - t0
    n_tactics = valid = closed = 0
    t1 = time.perf_counter()
    for e in expansions:
        results = [env.apply(e.goal, t) for t in e.tactics]
        n_tactics += len(e.tactics)
        valid += sum(r.ok for r in results)
        closed += any(r.closes for r in results)
    env_s = time.perf_counter() - t1
    n = max(1, len(goals))
    return Row(model_s / n, n_tactics / n, valid / n, closed / n, env_s / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--env", default="eq")
    ap.add_argument("--split", default="identities")
    ap.add_argument("--n_goals", type=int, default=160)
    ap.add_argument("--n_samples", type=int, default=32, help="samples per goal of plain sampling")
    ap.add_argument("--n_subst", type=int, default=8, help="samples per goal for tactics that need substitutions")
    ap.add_argument("--floor_samples", type=int, default=32, help="tactics per goal of the uniform floor")
    ap.add_argument("--batch", type=int, default=32, help="goals per expander call (a Prover step)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env(args.env)
    goals = [t.goal for t in env.theorems(args.split)][: args.n_goals]
    model = load_expander(args.checkpoint, env, "cpu")
    rows = {
        f"sampling x{args.n_samples}": measure(env, model, goals, DecodingConfig(
            n_samples=args.n_samples, applicable_only=True), args.batch),
        f"scored + x{args.n_subst}": measure(env, model, goals, DecodingConfig(
            n_samples=args.n_subst, score_enumerated=True), args.batch),
        f"uniform x{args.floor_samples}": measure(env, UniformExpander(env), goals, DecodingConfig(
            n_samples=args.floor_samples), args.batch),
    }
    print(f"{args.env}:{args.split}, {len(goals)} root goals, {args.batch} goals per call, "
          f"{args.threads} torch thread(s)")
    print(f"{'':<16} {'model s/goal':>12} {'tactics/goal':>12} {'valid/goal':>10} {'closed':>7} {'env s/goal':>10}")
    for name, r in rows.items():
        print(f"{name:<16} {r.model_s_per_goal:>12.4f} {r.tactics_per_goal:>12.1f} {r.valid_per_goal:>10.1f} "
              f"{100 * r.goals_closed:>6.1f}% {r.env_s_per_goal:>10.4f}")
    sampled, scored = list(rows.values())[:2]
    print(f"model time per goal, sampling / scored enumeration: "
          f"{sampled.model_s_per_goal / max(scored.model_s_per_goal, 1e-9):.2f}x")


if __name__ == "__main__":
    main()

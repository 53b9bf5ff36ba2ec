"""How often the model's sampled tactics apply to the root goals of a split.

This is the first thing to look at when a search proves nothing: a search can only grow through tactics
the environment accepts. Prints, for one checkpoint: the share of sampled tactics that apply, the share
that close their goal outright, the mean number of distinct applicable tactics per goal, and the share of
goals with at least one; `--baseline` runs a second checkpoint in the same process for a ratio.

    python benchmarks/tactic_validity.py --env eq --split identities --checkpoint MODEL.pth [--baseline OTHER.pth]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace

import torch

from hyperprover.envs.base import BackwardEnv, make_env
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig


@dataclass(frozen=True)
class Validity:
    n_goals: int
    n_tactics: int
    applied: float  # share of sampled tactics the env accepts
    closing: float  # share of sampled tactics that leave no subgoal
    distinct_valid_per_goal: float
    goals_with_valid: float
    seconds: float


def measure(env: BackwardEnv, checkpoint: str, split: str, n_goals: int, params: DecodingConfig,
            seed: int = 0) -> Validity:
    expander = load_expander(checkpoint, env, "cpu", seed=seed)
    goals = [t.goal for t in env.theorems(split)][:n_goals]
    start = time.time()
    expansions = expander.expand(goals, params)
    n_tactics = applied = closing = with_valid = distinct = 0
    for exp in expansions:
        valid = set()
        for tactic in exp.tactics:
            n_tactics += 1
            result = env.apply(exp.goal, tactic)
            if result.ok:
                applied += 1
                closing += result.closes
                valid.add(tactic)
        distinct += len(valid)
        with_valid += bool(valid)
    n = max(len(goals), 1)
    return Validity(len(goals), n_tactics, applied / max(n_tactics, 1), closing / max(n_tactics, 1),
                    distinct / n, with_valid / n, time.time() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="eq")
    ap.add_argument("--split", default="identities")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--baseline", default="", help="a second checkpoint measured in the same process")
    ap.add_argument("--n_goals", type=int, default=160)
    ap.add_argument("--n_samples", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--applicable", default="off", choices=("off", "on", "both"),
                    help="decoding.applicable_only; both: the model without (baseline) and with it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env(args.env)
    params = DecodingConfig(n_samples=args.n_samples, fixed_temperature=args.temperature,
                            applicable_only=args.applicable == "on")
    rows = {"model": measure(env, args.checkpoint, args.split, args.n_goals, params)}
    if args.applicable == "both":
        rows = {"baseline": rows["model"], "model": measure(env, args.checkpoint, args.split, args.n_goals,
                                                            replace(params, applicable_only=True))}
    elif args.baseline:
        rows["baseline"] = measure(env, args.baseline, args.split, args.n_goals, params)
    print(f"{args.env}:{args.split}, {args.n_samples} samples per goal at temperature {args.temperature}")
    print(f"{'':<9} {'goals':>6} {'applied':>8} {'closing':>8} {'valid/goal':>10} {'goals w/ valid':>14} {'s':>6}")
    for name, v in rows.items():
        print(f"{name:<9} {v.n_goals:>6} {100 * v.applied:>7.1f}% {100 * v.closing:>7.1f}% "
              f"{v.distinct_valid_per_goal:>10.2f} {100 * v.goals_with_valid:>13.1f}% {v.seconds:>6.1f}")
    if args.baseline and rows["baseline"].applied > 0:
        print(f"applied ratio model/baseline: {rows['model'].applied / rows['baseline'].applied:.2f}x")


if __name__ == "__main__":
    main()

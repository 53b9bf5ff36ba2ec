"""Sampling speed of the transformer expander: per-goal seeded draws (what the Prover uses, so a goal's
tactics do not depend on its batch) against the expander's shared torch generator, in the same process.

    python benchmarks/sampling.py --checkpoint MODEL.pth [--env eq --split identities --n_goals 64 --n_samples 32]
"""

from __future__ import annotations

import argparse
import time

import torch

from hyperprover.envs.base import make_env
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--env", default="eq")
    ap.add_argument("--split", default="identities")
    ap.add_argument("--n_goals", type=int, default=64)
    ap.add_argument("--n_samples", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env(args.env)
    expander = load_expander(args.checkpoint, env, "cpu", seed=0)
    goals = [t.goal for t in env.theorems(args.split)][: args.n_goals]
    params = DecodingConfig(n_samples=args.n_samples)
    rate = {}
    for name, seeds in (("shared generator", None), ("seeded per goal", list(range(len(goals))))):
        expander.expand(goals[:2], params, seeds[:2] if seeds else None)  # warm-up
        best = min(_timed(expander.expand, goals, params, seeds) for _ in range(args.repeats))
        rate[name] = len(goals) / best
        print(f"{name:<17} {rate[name]:7.1f} goals/s ({args.n_samples} samples each, {args.threads} thread(s))")
    print(f"ratio seeded / shared generator: {rate['seeded per goal'] / rate['shared generator']:.2f}x")


def _timed(fn, *a) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()

"""What `--decoding.max_tactics K` saves: HTPS with scored enumeration on the same Equations identities, once
with every applicable tactic per goal (the baseline, ~130 on these goals) and once with the K best-scored, in one
process. Prints expansions per second, where the time went (model / env / search) and what was proved, then
the throughput ratio capped / all.

    python benchmarks/max_tactics.py --checkpoint MODEL.pth [--k 16] [--n_theorems 16] [--n_expansions 256]
"""

from __future__ import annotations

import argparse
import time

import torch

from hyperprover.envs.base import make_env
from hyperprover.model.expander import load_expander
from hyperprover.search import Prover, ProverConfig, SearchConfig
from hyperprover.search.expander import DecodingConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--k", type=int, default=16, help="tactics kept per goal in the capped run")
    ap.add_argument("--n_theorems", type=int, default=16, help="identities 0, 10, 20, ... (a spread of the 160)")
    ap.add_argument("--n_expansions", type=int, default=256)
    ap.add_argument("--simultaneous", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env("eq")
    theorems = env.theorems("identities")[::10][: args.n_theorems]
    expander = load_expander(args.checkpoint, env, "cpu")
    search = SearchConfig(n_expansions=args.n_expansions, early_stop=True)
    rates = {}
    print(f"HTPS, scored enumeration + 8 samples, {len(theorems)} identities, {args.n_expansions} expansions, "
          f"{args.simultaneous} searches at once, {args.threads} thread(s)")
    print(f"{'tactics per goal':<18} {'exp/s':>7} {'applied/goal':>12} {'model s':>8} {'env s':>7} {'search s':>8} "
          f"{'wall s':>7} {'proved':>6}")
    for k in (0, args.k):
        decoding = DecodingConfig(n_samples=8, score_enumerated=True, applicable_only=True, max_tactics=k)
        t0 = time.perf_counter()
        with Prover(env, expander, search, decoding, ProverConfig(prover="htps",
                                                                  n_simultaneous_proofs=args.simultaneous)) as p:
            records = list(p.prove(theorems))
            tot = dict(p.totals)
        wall = time.perf_counter() - t0
        expansions = sum(r.stats.get("n_expansions", 0.0) for r in records)
        rates[k] = expansions / wall
        print(f"{'all' if k == 0 else f'best {k}':<18} {rates[k]:>7.1f} {tot['tactics'] / max(1, tot['goals']):>12.1f} "
              f"{tot['model_s']:>8.1f} {tot['env_s']:>7.1f} {tot['search_s']:>8.1f} {wall:>7.1f} "
              f"{sum(r.proved for r in records):>6}")
    print(f"expansions per second, best {args.k} / all: {rates[args.k] / rates[0]:.2f}x")


if __name__ == "__main__":
    main()

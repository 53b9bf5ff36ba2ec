"""How well a Metamath model ranks the human step among the floor's candidates, against chance.

The learned prover and the floor (`--expander uniform`) search over the same complete applicable tactics of a
goal; the floor in a random order, the model (`--decoding.score_enumerated --decoding.n_samples 0`) in the
order of its scores. This measures that order directly, without a search: on the human proof steps of a
split's theorems whose tactic is complete (nothing to substitute), the rank of the human tactic among every
complete applicable tactic of its goal. Chance is a uniform random order: rank (n+1)/2, top-k = k/n.
It prints top-1, top-5, mean reciprocal rank and mean rank for the model and for chance, the candidates per
goal, and the model's seconds per goal.

Ranks alone do not say what best-first search pays: it expands goals in the order of the sum of their path's
-log prior, so a proof costs the sum of its steps' -log priors, and a model sure of a wrong first choice makes
every other path dearer. Hence also the calibration: the mean cost of the human step (-log prior, nats), the
mean prior of the model's first choice, the mean entropy of its priors over the candidates (renormalised
to sum to 1), and the log of the prior mass the candidates get (the rest goes to tactics with substitutions),
with its spread across goals: best-first compares paths through different goals, so a mass that varies from
goal to goal reorders them. `--temperature` scores at that temperature (`--decoding.fixed_temperature`), to
find the one that makes the human steps cheapest.

    python benchmarks/mm_ranking.py --checkpoint MODEL.pth [--split valid%5=0] [--n_theorems 100] [--temperature 1]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from hyperprover.envs.base import make_env, split_theorems
from hyperprover.envs.metamath.proofs import human_steps
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig, complete_tactics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--split", default="valid%5=0")
    ap.add_argument("--n_theorems", type=int, default=100, help="the split's first N theorems")
    ap.add_argument("--batch", type=int, default=8, help="goals per expander call")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=1.0, help="--decoding.fixed_temperature of the scores")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env("mm")
    expander = load_expander(args.checkpoint, env, "cpu")
    known = expander.dico.word2id
    steps = []  # (goal, human tactic, candidates) where the human tactic is complete and the model knows it
    for theorem in split_theorems(env, args.split)[: args.n_theorems]:
        for goal, tactic in human_steps(env, theorem.label.removeprefix("mm:")):
            candidates = [t for t in complete_tactics(env, goal) if all(w in known for w in t.split())]
            if tactic in candidates and len(candidates) > 1:
                steps.append((goal, tactic, candidates))
    if not steps:
        raise SystemExit(f"mm_ranking: no human step of {args.split} is a complete applicable tactic")
    params = DecodingConfig(n_samples=0, score_enumerated=True, renormalize_scores=True, max_gen_len=24,
                            fixed_temperature=args.temperature)
    ranks, costs, firsts, entropies, masses, model_s = [], [], [], [], [], 0.0
    for i in range(0, len(steps), args.batch):
        chunk = steps[i: i + args.batch]
        t0 = time.perf_counter()
        expansions = expander.expand([g for g, _, _ in chunk], params, list(range(i, i + len(chunk))))
        model_s += time.perf_counter() - t0
        for (_, tactic, _), e in zip(chunk, expansions):
            at = e.tactics.index(tactic) if tactic in e.tactics else None
            ranks.append(at + 1 if at is not None else len(e.tactics) + 1)
            costs.append(-e.log_priors[at] if at is not None else math.inf)
            firsts.append(math.exp(e.log_priors[0]))
            mass = math.log(sum(math.exp(x) for x in e.log_priors))
            masses.append(mass)
            entropies.append(-sum(math.exp(x - mass) * (x - mass) for x in e.log_priors))
    sizes = [len(c) for _, _, c in steps]
    n = len(steps)

    def row(name: str, top1: float, top5: float, mrr: float, rank: float) -> None:
        print(f"{name:8} {top1:8.1%} {top5:8.1%} {mrr:8.3f} {rank:9.1f}")

    print(f"mm:{args.split}, first {args.n_theorems} theorems: {n} human steps with a complete tactic, "
          f"{sum(sizes) / n:.1f} complete candidates per goal (median {sorted(sizes)[n // 2]})")
    print(f"{'order':8} {'top-1':>8} {'top-5':>8} {'MRR':>8} {'mean rank':>9}")
    row("model", sum(r == 1 for r in ranks) / n, sum(r <= 5 for r in ranks) / n,
        sum(1 / r for r in ranks) / n, sum(ranks) / n)
    row("chance", sum(1 / s for s in sizes) / n, sum(min(5, s) / s for s in sizes) / n,
        sum(sum(1 / k for k in range(1, s + 1)) / s for s in sizes) / n, sum((s + 1) / 2 for s in sizes) / n)
    print(f"calibration at temperature {args.temperature:g}: human step cost {sum(costs) / n:.3f} nats "
          f"(median {sorted(costs)[n // 2]:.3f}), first choice's prior {sum(firsts) / n:.3f}, "
          f"entropy {sum(entropies) / n:.3f} nats (chance {sum(math.log(s) for s in sizes) / n:.3f})")
    mean_mass = sum(masses) / n
    spread = math.sqrt(sum((m - mean_mass) ** 2 for m in masses) / n)
    renormalised = sum(c + m for c, m in zip(costs, masses)) / n
    print(f"log of the prior mass on the candidates: mean {mean_mass:.3f}, standard deviation across goals "
          f"{spread:.3f}; human step cost renormalised over the candidates {renormalised:.3f} nats")
    print(f"model {model_s / n:.4f} s per goal ({args.threads} thread(s), {args.batch} goals per call)")


if __name__ == "__main__":
    main()

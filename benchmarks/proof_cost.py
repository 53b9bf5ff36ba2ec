"""What the proofs a prover found cost under each of several models: the quantity best-first search pays.

Best-first search expands goals in the order of their path's summed -log prior, so a proof is found after
every node cheaper than it; a model that makes the proofs dearer makes the search longer. This scores every
step of the proofs in eval results (`eval_results.jsonl` of `hyperprover eval`) with each model's scored
enumeration of the complete applicable tactics (the prover's setting: `--decoding.n_samples 0
--decoding.score_enumerated true --decoding.renormalize_scores true`) and prints, per model, the mean cost of
a proof and of a step (nats), the step's mean rank among the goal's tactics, the share of steps it ranks first,
and the proofs that model makes cheaper than the first model does. Steps whose tactic the model does not list
(a tactic with substitutions) are counted apart and left out of the sums for every model.

    python benchmarks/proof_cost.py --results R.jsonl [R2.jsonl ...] --checkpoint A.pth B.pth [--env mm]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from hyperprover.envs.base import BackwardEnv, Goal, make_env, proof_from_json
from hyperprover.model.expander import load_expander
from hyperprover.results import proved_proofs
from hyperprover.search.expander import DecodingConfig


def proofs_of(paths: list[str], env: BackwardEnv) -> list[tuple[str, list[tuple[Goal, str]]]]:
    """(label, steps) of each theorem's first proof, the first file holding one winning."""
    seen: dict[str, list[tuple[Goal, str]]] = {}
    for path in paths:
        try:
            proved = proved_proofs(path)
        except ValueError as e:
            raise SystemExit(f"proof_cost: {e} (give the eval_results.jsonl of a `hyperprover eval`)") from None
        for label, _, proof in proved:
            if label not in seen:
                seen[label] = proof_from_json(env, proof).steps()
    return list(seen.items())


def score(checkpoint: str, env: BackwardEnv, goals: list[Goal], temperature: float,
          batch: int) -> dict[Goal, dict[str, tuple[float, int]]]:
    """goal -> tactic -> (log prior, rank) under the model."""
    expander = load_expander(checkpoint, env, "cpu")
    params = DecodingConfig(n_samples=0, score_enumerated=True, renormalize_scores=True,
                            fixed_temperature=temperature, max_gen_len=64)
    out: dict[Goal, dict[str, tuple[float, int]]] = {}
    for i in range(0, len(goals), batch):
        chunk = goals[i: i + batch]
        for g, e in zip(chunk, expander.expand(chunk, params, list(range(i, i + len(chunk))))):
            out[g] = {t: (lp, r + 1) for r, (t, lp) in enumerate(zip(e.tactics, e.log_priors))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", nargs="+", required=True, help="eval_results.jsonl files whose proofs to score")
    ap.add_argument("--checkpoint", nargs="+", required=True, help="models to score them with; the first is the "
                    "reference of the paired count")
    ap.add_argument("--env", default="mm")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=8, help="goals per expander call")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env(args.env)
    proofs = proofs_of(args.results, env)
    if not proofs:
        raise SystemExit(f"proof_cost: no proved record with a proof in {', '.join(args.results)}")
    goals = list(dict.fromkeys(g for _, steps in proofs for g, _ in steps))
    scored, seconds = [], []
    for checkpoint in args.checkpoint:
        t0 = time.perf_counter()
        scored.append(score(checkpoint, env, goals, args.temperature, args.batch))
        seconds.append(time.perf_counter() - t0)
    listed = [[(g, t) for g, t in steps if all(t in s[g] for s in scored)] for _, steps in proofs]
    n_steps = sum(len(steps) for _, steps in proofs)
    n_listed = sum(len(x) for x in listed)
    print(f"{len(proofs)} proofs, {n_steps} steps ({len(goals)} distinct goals), {n_listed} steps every model "
          f"lists (the rest need substitutions), temperature {args.temperature:g}")
    print(f"{'model':40} {'proof cost':>10} {'step cost':>9} {'mean rank':>9} {'first':>6} {'cheaper':>8} "
          f"{'s/goal':>7}")
    costs_by_model = [[sum(-s[g][t][0] for g, t in steps) for steps in listed] for s in scored]
    reference = costs_by_model[0]
    for checkpoint, s, costs, sec in zip(args.checkpoint, scored, costs_by_model, seconds):
        ranks = [s[g][t][1] for steps in listed for g, t in steps]
        cheaper = sum(c < r - 1e-9 for c, r in zip(costs, reference))
        print(f"{'/'.join(Path(checkpoint).parts[-3:])[-40:]:40} {sum(costs) / len(costs):10.2f} "
              f"{sum(costs) / max(1, n_listed):9.3f} {sum(ranks) / max(1, len(ranks)):9.1f} "
              f"{sum(r == 1 for r in ranks) / max(1, len(ranks)):6.1%} {cheaper:8d} {sec / len(goals):7.3f}")
    if any(math.isinf(c) for c in reference):
        print("note: some proof has a step of prior 0 under the first model")


if __name__ == "__main__":
    main()

"""Search bookkeeping throughput: expansions per second of search time (selection, node creation,
propagation, backup, proofs and samples) with an instant scripted expander on generated goals.

Target: >= 2,000 expansions/s per core for HTPS. The baseline, measured in the same run on the same
workload, is best-first search (whose bookkeeping is a heap push per subgoal): the ratio says what
HTPS's hypertree selection and backup cost on top.

    python benchmarks/search.py                 # 8 theorems x 1000 expansions, K = 4
    python benchmarks/search.py --quick         # a few seconds

With the real model (`--checkpoint PATH`: the Equations identities, early stop on), the same Prover
totals give the share of wall time spent in search vs model vs env (target: search < 10%); see
`real_workload` below, the hook for that.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hyperprover.envs.base import (
    BackwardEnv,
    Goal,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
)
from hyperprover.search import Prover, ProverConfig, SearchConfig
from hyperprover.search.expander import DecodingConfig, Expander, Expansion

_M32 = (1 << 32) - 1


def _mix(a: int, b: int) -> int:
    h = (a * 2654435761 + b * 40503 + 0x9E3779B9) & _M32
    h ^= h >> 15
    return (h * 2246822519) & _M32


@dataclass(frozen=True)
class NumGoal:
    key: str


class SyntheticEnv:
    """Goals are numbers below `space`; tactic t<i> on n fails, closes, or gives one or two subgoals,
    decided by a hash of (n, i). A small space makes merged subgoals and cycles common."""

    name = "synthetic"

    def __init__(self, space: int = 20_000) -> None:
        self.space = space

    def apply(self, goal: Goal, tactic: str) -> TacticResult:
        n, i = int(goal.key), int(tactic[1:])
        h = _mix(n, i)
        r = h % 20
        if r < 3:
            return TacticResult(tactic, error=TacticError(TacticErrorKind.NO_MATCH, "does not apply"))
        if r == 3 and h % 7 == 0:  # rare closing tactics: most searches use their whole budget
            return TacticResult(tactic)
        kids = [NumGoal(str((h >> 5) % self.space))]
        if r >= 12:
            kids.append(NumGoal(str((h >> 13) % self.space)))
        return TacticResult(tactic, tuple(kids))

    def goal_tokens(self, goal: Goal) -> list[str]:
        return list(goal.key)

    def tactic_tokens(self, tactic: str) -> list[str]:
        return [tactic]

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def parse_goal(self, text: str) -> Goal:
        return NumGoal(str(int(text) % self.space))

    def goal_text(self, goal: Goal) -> str:
        return goal.key

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem(f"{split}:{i}", NumGoal(str(_mix(i, 99) % self.space)), split) for i in range(100)]

    def check_proof(self, proof: ProofNode) -> None:
        r = self.apply(proof.goal, proof.tactic)
        if r.error is not None or [c.key for c in r.children] != [c.goal.key for c in proof.children]:
            raise ProofError(f"{proof.tactic} on {proof.goal.key}")
        for c in proof.children:
            self.check_proof(c)


class InstantExpander:
    """n_samples tactics per goal with hashed scores and critic: no model time to speak of."""

    def expand(self, goals: Sequence[Goal], params: DecodingConfig,
               seeds: Sequence[int] | None = None) -> list[Expansion]:
        out = []
        for g in goals:
            n = int(g.key)
            scored = sorted(((-((_mix(n, 100 + i) % 1000) / 250.0) - 0.1, f"t{i}") for i in range(params.n_samples)),
                            reverse=True)
            out.append(Expansion(g, tuple(t for _, t in scored), tuple(s for s, _ in scored),
                                 (_mix(n, 7) % 1000) / 1000.0))
        return out


def run(prover: str, args: argparse.Namespace, expander: Expander, env: BackwardEnv,
        theorems: list[Theorem]) -> dict[str, float]:
    search = SearchConfig(n_expansions=args.n_expansions, succ_expansions=args.succ_expansions,
                          early_stop=bool(args.checkpoint), exploration=1.0, proof_stype="size", count_threshold=10,
                          bfs_batch=args.bfs_batch)
    t0, c0 = time.perf_counter(), time.process_time()
    with Prover(env, expander, search, DecodingConfig(n_samples=args.n_samples),
                ProverConfig(prover=prover, n_simultaneous_proofs=args.k)) as p:
        records = list(p.prove(theorems))
        totals = dict(p.totals)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    expansions = sum(r.stats.get("n_expansions", 0.0) for r in records)
    return {"expansions": expansions, "proved": sum(r.proved for r in records), "wall_s": wall,
            "search_s": totals["search_s"], "model_s": totals["model_s"], "env_s": totals["env_s"],
            # CPU seconds are immune to other processes sharing the cores (wall seconds are not)
            "search_cpu_s": totals["search_cpu_s"], "cpu_s": cpu,
            "exp_per_search_cpu_s": expansions / max(totals["search_cpu_s"], 1e-9),
            "errors": sum(r.error is not None for r in records)}


def real_workload(checkpoint: str, n: int) -> tuple[Expander, BackwardEnv, list[Theorem]]:
    """HOOK (lead): the transformer expander on the Equations identities, for the search / model / env
    shares with the real model (target: search < 10% of wall time). Not exercised by tests: it needs
    a trained checkpoint; adjust here if `load_expander`'s signature moves."""
    from hyperprover.envs.base import make_env
    from hyperprover.model.expander import load_expander  # torch: only on this path

    env = make_env("eq")
    return load_expander(checkpoint, env), env, env.theorems("identities")[:n]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--theorems", type=int, default=8)
    ap.add_argument("--k", type=int, default=4, help="simultaneous searches")
    ap.add_argument("--n_expansions", type=int, default=1000)
    ap.add_argument("--succ_expansions", type=int, default=50)
    ap.add_argument("--n_samples", type=int, default=8)
    ap.add_argument("--bfs_batch", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="4 theorems x 300 expansions")
    ap.add_argument("--checkpoint", default="", help="real model: report search / model / env shares")
    args = ap.parse_args(argv)
    if args.quick:
        args.theorems, args.n_expansions = 4, 300
    if args.checkpoint:
        expander, env, theorems = real_workload(args.checkpoint, args.theorems)
    else:
        synthetic = SyntheticEnv()
        expander, env, theorems = InstantExpander(), synthetic, synthetic.theorems("syn")[:args.theorems]
    print(f"workload: {args.theorems} theorems x {args.n_expansions} expansions, K={args.k}, "
          f"{args.n_samples} tactics/goal, succ_expansions={args.succ_expansions}, bfs_batch={args.bfs_batch}")
    results = {}
    for prover in ("bfs", "htps"):
        r = run(prover, args, expander, env, theorems)
        results[prover] = r
        share = {k: r[k] / r["wall_s"] for k in ("search_s", "model_s", "env_s")}
        print(f"{prover:5s} expansions={r['expansions']:.0f} proved={r['proved']} wall={r['wall_s']:.2f}s "
              f"search={r['search_s']:.2f}s (CPU {r['search_cpu_s']:.2f}s) -> "
              f"{r['exp_per_search_cpu_s']:,.0f} expansions per search CPU-second | "
              f"wall shares: search {share['search_s']:.0%} model {share['model_s']:.0%} env {share['env_s']:.0%}")
        if r["errors"]:
            print(f"  {r['errors']:.0f} searches ended with an error", file=sys.stderr)
    h, b = results["htps"]["exp_per_search_cpu_s"], results["bfs"]["exp_per_search_cpu_s"]
    print(f"HTPS bookkeeping: {h:,.0f} expansions/s (target >= 2,000 per core); "
          f"ratio HTPS / best-first = {h / b:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

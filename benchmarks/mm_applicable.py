"""Benchmark: the applicable assertions of Metamath goals (`MetamathEnv.tactic_prefixes`, through the
conclusion index) against a brute-force match of every goal with every assertion before its theorem,
measured in the same run, on the goals of the human proofs of the valid split.

    .venv/bin/python benchmarks/mm_applicable.py [--database /usr/share/metamath/databases/set.mm]
        [--n_theorems 100] [--n_brute 20] [--complete_from_hyps 1]

Prints the index build time, the lookup time per goal (index, then brute force on the first --n_brute goals,
and their ratio), how many tactics apply per goal (all, complete) and how often the human step is among them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from hyperprover.envs.metamath.config import SET_MM
from hyperprover.envs.metamath.env import MetamathEnv, MMGoal, make_env, parse_tactic
from hyperprover.envs.metamath.proofs import human_steps


def brute_force(env: MetamathEnv, goal: MMGoal) -> int:
    parser = env.parser(goal.stmt[1:], goal.ctx.limit)
    n = 0
    for a in env.db.assertions.values():
        if a.index >= goal.ctx.limit or a.typecode != goal.stmt[0]:
            continue
        tvars = {h.stmt[1]: h.stmt[0] for h in a.hyps if h.kind == "f"}
        n += parser.match(a.stmt[1:], {t: tvars[t] for t in a.stmt[1:] if t in tvars}) is not None
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", default=SET_MM)
    ap.add_argument("--n_theorems", type=int, default=100,
                    help="valid theorems (a fixed random sample) whose proof steps are the goals")
    ap.add_argument("--n_brute", type=int, default=20, help="goals also matched by brute force")
    ap.add_argument("--complete_from_hyps", type=int, default=1, choices=[0, 1],
                    help="the env option: complete tactics read off the theorem's hypotheses (0: without)")
    args = ap.parse_args()

    env = make_env(database=args.database, complete_from_hyps=bool(args.complete_from_hyps))
    t0 = time.perf_counter()
    index = env.conclusions
    t_build = time.perf_counter() - t0
    theorems = random.Random(0).sample(env.theorems("valid"), args.n_theorems)  # the split is in database order
    steps = [s for t in theorems for s in human_steps(env, t.label[3:])]
    times, n_all, n_complete, hits, exact = [], [], [], 0, 0
    closed_by_complete = {t.label[3:] for t in theorems}  # theorems whose every human step is a listed complete tactic
    for goal, tactic in steps:
        env._parsers.clear()  # a goal seen for the first time: its parse is part of the lookup
        t0 = time.perf_counter()
        found = env.tactic_prefixes(goal)
        times.append(time.perf_counter() - t0)
        n_all.append(len(found))
        n_complete.append(sum(c for _, c in found))
        hits += parse_tactic(tactic)[0] in {w[0] for w, _ in found}
        listed = tuple(tactic.split()) in {w for w, c in found if c}
        exact += listed
        if not listed:
            closed_by_complete.discard(goal.ctx.theorem)
    brute = []
    for goal, _ in steps[: args.n_brute]:
        env._parsers.clear()
        t0 = time.perf_counter()
        brute_force(env, goal)
        brute.append(time.perf_counter() - t0)
    mean, mean_brute = statistics.mean(times), statistics.mean(brute)
    print(f"database {args.database}: {index.size} conclusions indexed in {t_build:.2f} s")
    print(f"goals: {len(steps)} human proof steps of {args.n_theorems} valid theorems")
    print(f"lookup per goal: {1000 * mean:.2f} ms mean, {1000 * statistics.median(times):.2f} ms median, "
          f"{1000 * max(times):.1f} ms max (complete tactics checked by applying them)")
    print(f"brute force per goal ({len(brute)} goals, matching only): {1000 * mean_brute:.1f} ms; "
          f"ratio index / brute force: {mean / mean_brute:.4f}")
    print(f"applicable per goal: {statistics.mean(n_all):.1f} mean ({statistics.mean(n_complete):.1f} complete); "
          f"the human step's label is listed for {hits}/{len(steps)} goals")
    print(f"the human step is a listed complete tactic for {exact}/{len(steps)} goals; every step of "
          f"{len(closed_by_complete)}/{len(theorems)} theorems is (complete_from_hyps={args.complete_from_hyps})")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

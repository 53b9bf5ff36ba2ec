"""Benchmark: how many lemmas CoqHammer's `sauto` proves alone, the classical anchor of the Coq env.

    .venv/bin/python benchmarks/coq_sauto.py [--split test] [--n 0] [--timeout_s 10] [--out DIR]

Each lemma of the split is stated in its context (its file before it, see docs/coq.md) in a coqtop that
first ran `From Hammer Require Import Tactics.` (Debian: apt-get install libcoq-hammer), and `sauto` runs
once with Coq's `Timeout`. The results go to DIR/eval_results.jsonl in the format of `hyperprover eval`
(appended and flushed per lemma; lemmas already there are skipped, so an interrupted run resumes), so
`hyperprover compare DIR --vs EVAL_FOLDER` pairs it with a prover and `hyperprover check --env coq --results
DIR/eval_results.jsonl` has coqc re-check every proof (with the Hammer import, recorded per line). Prints
proved/N, the time per lemma and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from hyperprover.envs.base import split_theorems
from hyperprover.envs.coq.config import CoqConfig
from hyperprover.envs.coq.env import CoqEnv
from hyperprover.evaluation.results import AttemptRecord, ResultsFile

HAMMER = "From Hammer Require Import Tactics."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="test", help="train, valid, test, or a fold such as valid%%5=0")
    p.add_argument("--n", type=int, default=0, help="only the first N lemmas (0: all)")
    p.add_argument("--timeout_s", type=float, default=10.0, help="Coq's Timeout on sauto")
    p.add_argument("--out", default="dumped/coq_sauto", help="folder of eval_results.jsonl")
    args = p.parse_args()
    env = CoqEnv(CoqConfig(preload=HAMMER, tactic_timeout_s=args.timeout_s))
    theorems = split_theorems(env, args.split)[: args.n or None]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(out / "eval_results.jsonl")
    done = {r.label for r in results.read()}
    params = {"prover": "sauto", "expander": "none", "coq_preload": HAMMER, "timeout_s": args.timeout_s}
    t0, n_new = time.perf_counter(), 0
    try:
        for th in theorems:
            if th.label in done:
                continue
            r = env.apply(th.goal, "sauto")
            proof = {"goal": env.goal_text(th.goal), "tactic": "sauto", "children": []} if r.closes else None
            results.append(AttemptRecord(th.label, 1, r.closes, proof, {"time_s": r.duration_s}, params,
                                         None if r.closes else str(r.error or "subgoals left")))
            n_new += 1
    finally:
        env.close()
    records = [r for r in results.read() if r.label in {t.label for t in theorems}]
    proved = sum(r.proved for r in records)
    spent = time.perf_counter() - t0
    print(f"sauto on {args.split}: proved {proved}/{len(records)} ({100 * proved / max(1, len(records)):.1f}%), "
          f"{spent / max(1, n_new):.2f} s per new lemma ({n_new} run now), timeout {args.timeout_s:g} s, "
          f"load {os.getloadavg()[0]:.2f}; results in {out}")


if __name__ == "__main__":
    main()

"""Benchmark: how many lemmas one CoqHammer tactic proves alone, the classical anchors of the Coq env.

    .venv/bin/python benchmarks/coq_sauto.py [--tactic sauto] [--split test] [--n 0] [--timeout_s 10] [--out DIR]
                                             [--workers 1]
    .venv/bin/python benchmarks/coq_hammer.py [--split test] ...   (the same with --tactic hammer, 30 s)
    .venv/bin/python benchmarks/coq_hammer.py --split cross --cross_libraries coquelicot,reglang  (cross-project)

Each lemma of the split is stated in its context (its file before it, see docs/coq.md) in a coqtop that
first ran `From Hammer Require Import Hammer Tactics.` (Debian: apt-get install libcoq-hammer; `hammer` also
calls the ATPs eprover, z3 and cvc4, which `make setup` installs), and the tactic runs once with Coq's `Timeout`.
The results go to DIR/eval_results.jsonl in the format of `hyperprover eval`
(appended and flushed per lemma; lemmas already there are skipped, so an interrupted run resumes), so
`hyperprover compare DIR --vs EVAL_FOLDER` pairs it with a prover and `hyperprover check --env coq --results
DIR/eval_results.jsonl` has coqc re-check every proof (with the Hammer import, recorded per line). Prints
proved/N, the time per lemma and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from pathlib import Path

from hyperprover.envs.base import Theorem, split_theorems
from hyperprover.envs.coq.config import HAMMER, CoqConfig
from hyperprover.envs.coq.env import CoqEnv
from hyperprover.results import AttemptRecord, ResultsFile


def main(tactic: str = "sauto", timeout_s: float = 10.0) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tactic", default=tactic, help="the tactic run alone: sauto, hammer, qauto, ...")
    p.add_argument("--split", default="test", help="train, valid, test, or a fold such as valid%%5=0")
    p.add_argument("--n", type=int, default=0, help="only the first N lemmas (0: all)")
    p.add_argument("--timeout_s", type=float, default=timeout_s, help="Coq's Timeout on the tactic")
    p.add_argument("--out", default="", help="folder of eval_results.jsonl (default: dumped/coq_<tactic>)")
    p.add_argument("--libraries", default="", help="as --coq.libraries (the train split grows by their lemmas)")
    p.add_argument("--cross_libraries", default="", help="as --coq.cross_libraries: with --split cross, the "
                   "cross-project test")
    p.add_argument("--workers", type=int, default=1, help="coqtops run side by side, each on its own lemmas "
                   "(2 on 2 cores: one core per lemma, as an eval with --n_provers 2 --n_simultaneous_proofs 1)")
    args = p.parse_args()
    if args.workers < 1:
        p.error(f"--workers {args.workers}: give at least 1 coqtop")
    limit = args.timeout_s
    cfg = CoqConfig(preload=HAMMER, tactic_timeout_s=limit, automation_timeout_s=limit, hammer_timeout_s=limit,
                    libraries=args.libraries, cross_libraries=args.cross_libraries)
    theorems = split_theorems(CoqEnv(cfg), args.split)[: args.n or None]
    out = Path(args.out or f"dumped/coq_{args.tactic}")
    out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(out / "eval_results.jsonl")
    done = {r.label for r in results.read()}
    params = {"prover": args.tactic, "expander": "none", **cfg.record_params(), "timeout_s": limit}
    todo: queue.SimpleQueue[Theorem] = queue.SimpleQueue()
    for th in theorems:
        if th.label not in done:
            todo.put(th)
    written = threading.Lock()
    n_new = 0

    def run_tactic() -> None:
        """One coqtop's share: lemmas taken one at a time from the common queue (the time is in coqtop, so
        threads suffice), each record appended and flushed as soon as it is known."""
        nonlocal n_new
        env = CoqEnv(cfg)
        try:
            while True:
                try:
                    th = todo.get_nowait()
                except queue.Empty:
                    return
                r = env.apply(th.goal, args.tactic)
                proof = {"goal": env.goal_text(th.goal), "tactic": r.tactic, "children": []} if r.closes else None
                with written:
                    results.append(AttemptRecord(th.label, 1, r.closes, proof, {"time_s": r.duration_s}, params,
                                                 None if r.closes else str(r.error or "subgoals left")))
                    n_new += 1
        finally:
            env.close()

    t0 = time.perf_counter()
    workers = [threading.Thread(target=run_tactic, daemon=True) for _ in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    records = [r for r in results.read() if r.label in {t.label for t in theorems}]
    proved = sum(r.proved for r in records)
    spent = time.perf_counter() - t0
    share = 100 * proved / max(1, len(records))
    print(f"{args.tactic} on {args.split}: proved {proved}/{len(records)} ({share:.1f}%), "
          f"{spent * args.workers / max(1, n_new):.2f} s per new lemma ({n_new} run now, {args.workers} at a time), "
          f"timeout {args.timeout_s:g} s, "
          f"load {os.getloadavg()[0]:.2f}; results in {out}")


if __name__ == "__main__":
    main()

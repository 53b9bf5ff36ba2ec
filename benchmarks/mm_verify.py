"""Benchmark: read + verify a whole Metamath database in Python vs the C `metamath` program, measured in
the same run, and backward steps per second (human-proof replay through MetamathEnv.apply).

    .venv/bin/python benchmarks/mm_verify.py [--database /usr/share/metamath/databases/set.mm]
        [--replay 200]

Prints wall times and the ratio python / C (target: within 5x). The Python figures are for a cold
read of the text (no cache) and for a read from the pickle cache, both followed by a full verify.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time

from hyperprover.envs.metamath import loader
from hyperprover.envs.metamath.config import SET_MM
from hyperprover.envs.metamath.database import read_database
from hyperprover.envs.metamath.env import make_env
from hyperprover.envs.metamath.loader import load_database
from hyperprover.envs.metamath.proofs import human_steps
from hyperprover.envs.metamath.verify import Verifier


def c_time(path: str) -> float | None:
    if shutil.which("metamath") is None:
        return None
    t0 = time.perf_counter()
    r = subprocess.run(["metamath", f"read {os.path.basename(path)}", "verify proof *", "exit"],
                       cwd=os.path.dirname(os.path.abspath(path)), capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if "?Error" in r.stdout:
        print("C metamath reports errors:", r.stdout[-400:], file=sys.stderr)
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", default=SET_MM)
    ap.add_argument("--replay", type=int, default=200, help="theorems replayed for the steps/s figure")
    args = ap.parse_args()

    c = c_time(args.database)
    t0 = time.perf_counter()
    db = read_database(args.database)
    t_read = time.perf_counter() - t0
    report = Verifier(db).verify_all()
    t_cold = time.perf_counter() - t0
    load_database(args.database)  # make sure the cache exists
    loader._LOADED.clear()  # then time a fresh process's load from it
    t0 = time.perf_counter()
    db2 = load_database(args.database)
    t_load = time.perf_counter() - t0
    Verifier(db2).verify_all()
    t_warm = time.perf_counter() - t0
    print(f"database: {args.database} ({report.n_proofs} proofs)")
    print(f"python: read {t_read:.2f} s + verify {report.seconds:.2f} s = {t_cold:.2f} s cold; "
          f"cache load {t_load:.2f} s, with verify {t_warm:.2f} s")
    if c is not None:
        print(f"C metamath read + verify proof *: {c:.2f} s")
        print(f"ratio python/C: cold {t_cold / c:.2f}x, warm {t_warm / c:.2f}x (target <= 5x)")
    else:
        print("C metamath not installed: no ratio (apt-get install metamath)")

    env = make_env(database=args.database, db=db2)
    labels = [a.label for a in db2.assertions.values() if a.kind == "p"]
    labels = random.Random(0).sample(labels, min(args.replay, len(labels)))
    steps = [(g, t) for lab in labels for g, t in human_steps(env, lab)]
    fresh = make_env(database=args.database, db=db2)  # no parser cache from the extraction
    t0 = time.perf_counter()
    n_ok = sum(fresh.apply(g, t).ok for g, t in steps)
    dt = time.perf_counter() - t0
    print(f"backward steps: {len(steps)} human-proof steps of {len(labels)} theorems, {n_ok} ok, "
          f"{len(steps) / dt:.0f} steps/s ({dt / len(steps) * 1e6:.0f} us/step)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`hyperprover check --env mm FILE.mm`, `hyperprover check --env mm --results eval_results.jsonl` and
`hyperprover data --env mm`.

check: reads the file (an inclusion must lie inside the including file's folder, or a folder named
with --allow-dir), verifies every proof, prints the count, or the first error (label, step, reason);
exit 0 when all proofs check, 1 on the first error, 2 on bad usage. Incomplete proofs (`?`) are
listed and do not fail the check unless `--strict`.

check --results: the proofs of an evaluation are exported and verified by the C `metamath` program
(c_check.py); one line per theorem (accepted/REJECTED) and a total; exit 0 when all are accepted,
1 when one is not, 2 when the check cannot run (the program missing, no results file).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence

from hyperprover.envs.metamath.database import MMError, read_database
from hyperprover.envs.metamath.verify import Verifier


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise SystemExit(_usage(self.prog, message))


def _usage(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def check_main(argv: Sequence[str]) -> int:
    from hyperprover.envs.metamath.config import SET_MM

    p = _Parser(prog="hyperprover check", description="Verify every proof of a Metamath database, or (with "
                "--results) have the C metamath program verify the proofs found by `hyperprover eval --env mm`.")
    p.add_argument("file", nargs="?", help="the .mm file")
    p.add_argument("--label", action="append", default=[], help="verify only this $p (repeatable)")
    p.add_argument("--strict", action="store_true", help="incomplete proofs ('?') are errors too")
    p.add_argument("--allow-dir", action="append", default=[], help="a folder besides the including file's own "
                   "that `$[ file $]` inclusions may read from (repeatable)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--results", default="", help="an eval_results.jsonl: export its proofs and run the C program")
    p.add_argument("--database", default=SET_MM, help="with --results: the database the eval used")
    p.add_argument("--out", default="", help="with --results: folder of the .mm files (default: "
                   "c_check/ next to the results file)")
    p.add_argument("--metamath", default="metamath", help="with --results: the C program")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as e:
        return int(e.code or 0)
    if args.results:
        if args.file or args.label or args.strict:
            return _usage("hyperprover check", "--results takes no FILE, --label or --strict")
        return _check_results(args.results, args.database, args.out, args.metamath, args.quiet)
    if not args.file:
        return _usage("hyperprover check", "the .mm file (or --results FILE) is required")
    t0 = time.perf_counter()
    try:
        db = read_database(args.file, args.allow_dir)
    except MMError as e:
        print(f"hyperprover check: {e}", file=sys.stderr)
        return 1
    t_read = time.perf_counter() - t0
    unknown = [lab for lab in args.label if db.assertions.get(lab) is None or db.assertions[lab].kind != "p"]
    if unknown:
        return _usage("hyperprover check", f"no $p labelled {unknown[0]!r} in {args.file}")
    try:
        report = Verifier(db).verify_all(args.label or None)
    except MMError as e:
        print(f"hyperprover check: {args.file}: {e}", file=sys.stderr)
        return 1
    if report.incomplete:
        shown = ", ".join(report.incomplete[:10]) + (" ..." if len(report.incomplete) > 10 else "")
        print(f"{args.file}: {report.n_incomplete} incomplete proof(s): {shown}", file=sys.stderr)
    if not args.quiet:
        print(f"{args.file}: {report.n_proofs - report.n_incomplete} of {report.n_proofs} proofs verified "
              f"(read {t_read:.2f} s, verify {report.seconds:.2f} s)")
    return 1 if args.strict and report.incomplete else 0


def _check_results(results: str, database: str, out: str, program: str, quiet: bool) -> int:
    """Per-theorem verdicts of the C program on the proofs of an eval results file; exit 1 if any is
    rejected (or cannot be exported), 2 when the check cannot run."""
    import os

    from hyperprover.envs.metamath.c_check import CCheckError, check_results
    from hyperprover.envs.metamath.env import make_env

    if shutil.which(program) is None:
        print(f"hyperprover check: the C Metamath program {program!r} is not installed "
              "(Debian: apt-get install metamath)", file=sys.stderr)
        return 2
    folder = out or os.path.join(os.path.dirname(os.path.abspath(results)), "c_check")
    t0 = time.perf_counter()
    try:
        env = make_env(database=database)
        verdicts = check_results(env, results, folder, program)
    except (CCheckError, MMError) as e:
        print(f"hyperprover check: {e}", file=sys.stderr)
        return 2
    n_ok = sum(v.accepted for v in verdicts)
    for v in verdicts:
        if not quiet or not v.accepted:
            first = v.detail.strip().splitlines()[0] if v.detail.strip() else ""
            print(f"{v.theorem}: {'accepted' if v.accepted else 'REJECTED'}"
                  + (f" as {v.mm_label}" if v.mm_label else "") + (f" -- {first}" if first else ""))
    print(f"{results}: {n_ok} of {len(verdicts)} proofs accepted by the C metamath program "
          f"({time.perf_counter() - t0:.1f} s; files in {folder})")
    return 0 if n_ok == len(verdicts) else 1


def data_main(argv: Sequence[str]) -> int:
    """Write the human-proof (goal, tactic) steps of a split as JSON lines."""
    from hyperprover.envs.metamath.config import MetamathConfig
    from hyperprover.envs.metamath.env import make_env
    from hyperprover.envs.metamath.proofs import human_steps

    p = _Parser(prog="hyperprover data", description="Export Metamath human-proof steps as JSON lines.")
    p.add_argument("--database", default=MetamathConfig.database, help="the .mm file")
    p.add_argument("--split", default="train", choices=("train", "valid", "test"))
    p.add_argument("--limit", type=int, default=0, help="stop after this many theorems (0: all)")
    p.add_argument("--out", required=True, help="output .jsonl (appended)")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as e:
        return int(e.code or 0)
    try:
        env = make_env(database=args.database)
    except MMError as e:
        return _usage("hyperprover data", str(e))
    labels = env.splits.get(args.split)
    if args.limit:
        labels = labels[: args.limit]
    from hyperprover.jsonl import repair_torn_line

    torn = repair_torn_line(args.out)  # a killed run's half-written line would swallow the next step
    if torn:
        print(f"hyperprover data: warning: {torn}", file=sys.stderr)
    n = 0
    with open(args.out, "a") as f:
        for lab in labels:
            for goal, tactic in human_steps(env, lab):
                f.write(json.dumps({"theorem": f"mm:{lab}", "goal": env.goal_text(goal), "tactic": tactic}) + "\n")
                n += 1
            f.flush()
    print(f"wrote {n} steps of {len(labels)} theorems to {args.out}")
    return 0

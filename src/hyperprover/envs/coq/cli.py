"""`hyperprover check --env coq --results eval_results.jsonl`: coqc re-checks the proofs of an eval.

One line per theorem (accepted/REJECTED with coqc's message) and a total; exit 0 when all are accepted,
1 when one is not, 2 when the check cannot run (coqc missing, no results file, bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def check_main(argv: Sequence[str]) -> int:
    from hyperprover.envs.coq.coqc_check import CheckError, Verdict, check_results

    p = _Parser(prog="hyperprover check", description="Have coqc re-check, from scratch, the proofs found by "
                "`hyperprover eval --env coq` (one .v file per theorem).")
    p.add_argument("--results", required=True, help="an eval_results.jsonl of `hyperprover eval --env coq`")
    p.add_argument("--out", default="", help="folder of the .v files (default: coqc_check/ next to the results)")
    p.add_argument("--coqc", default="coqc", help="the coqc program")
    p.add_argument("--quiet", action="store_true", help="print only the rejected proofs and the total")
    p.add_argument("--workers", type=int, default=1, help="coqc processes run side by side (one per core)")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as e:
        return int(e.code or 0)
    if args.workers < 1:
        print(f"hyperprover check: --workers {args.workers}: give at least 1", file=sys.stderr)
        return 2
    folder = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "coqc_check")
    t0 = time.perf_counter()

    def show(v: Verdict) -> None:
        if not args.quiet or not v.accepted:
            print(f"{v.theorem}: {'accepted' if v.accepted else 'REJECTED'}"
                  + (f" ({v.file})" if v.file else "") + (f" -- {v.detail}" if v.detail and not v.accepted else ""),
                  flush=True)

    try:
        verdicts = check_results(args.results, folder, program=args.coqc, workers=args.workers, report=show)
    except CheckError as e:
        print(f"hyperprover check: {e}", file=sys.stderr)
        return 2
    n_ok = sum(v.accepted for v in verdicts)
    print(f"{args.results}: {n_ok} of {len(verdicts)} proofs accepted by coqc "
          f"({time.perf_counter() - t0:.1f} s; files in {folder})")
    return 0 if n_ok == len(verdicts) else 1


def data_main(argv: Sequence[str]) -> int:
    """Replay the proofs of library directories; write steps.jsonl, lemmas.jsonl and report.json."""
    from pathlib import Path

    from hyperprover.envs.coq.config import CoqConfig
    from hyperprover.envs.coq.libraries import DEBIAN, libraries
    from hyperprover.envs.coq.library import ensure_extraction, write_extraction, write_mass_corpus

    p = _Parser(prog="hyperprover data", description="Replay every proof of Coq library directories in coqtop and "
                "write the (goal, tactic) steps, the lemmas, a report of what failed and why, and mass/*.txt: the "
                "sources as text for MASS pretraining, the valid and test lemmas of the default split apart. With "
                "--libraries: replay each library into the cache that --coq.libraries reads, and print its rate.")
    p.add_argument("--root", default=CoqConfig.library_root, help="the library root (Debian: libcoq-stdlib)")
    p.add_argument("--dirs", default=CoqConfig.library_dirs, help="comma list of folders under root")
    p.add_argument("--out", default="", help="output folder (required without --libraries)")
    p.add_argument("--libraries", default="", help=f"comma list of libraries: Debian's ({', '.join(DEBIAN)}) "
                   "or folders of .v files")
    p.add_argument("--quiet", action="store_true", help="no line per file")
    try:
        args = p.parse_args(list(argv))
        if not args.libraries and not args.out:
            p.error("give --out (a folder for the replayed proofs) or --libraries")
    except SystemExit as e:
        return int(e.code or 0)
    try:
        if args.libraries:
            for lib in libraries(args.libraries):
                folder = ensure_extraction(lib.root, lib.dirs, args=lib.args())
                print(f"{lib.name}: {_summary(json.loads((folder / 'report.json').read_text()))}; {folder}")
            return 0
        dirs = tuple(d for d in args.dirs.split(",") if d)
        r = write_extraction(args.root, dirs, Path(args.out), progress=not args.quiet)
        cfg = CoqConfig()
        lines = write_mass_corpus(args.root, args.out, cfg.split_seed, cfg.n_valid, cfg.n_test,
                                  Path(args.out) / "mass")
    except (OSError, ValueError) as e:
        print(f"hyperprover data: {e}", file=sys.stderr)
        return 2
    print(f"{_summary(r)}; {Path(args.out) / 'report.json'}")
    print(f"MASS corpus (--latex.data_dir {Path(args.out) / 'mass'}): {lines['train']} sentences in train.txt; "
          f"those of the valid and test lemmas of the default split apart ({lines['valid']}, {lines['test']})")
    return 0


def _summary(report: dict[str, Any]) -> str:
    ok, failed = report["lemmas"].get("ok", 0), report["lemmas"].get("failed", 0)
    return (f"{report['files']} files: {ok} lemmas replayed of {ok + failed} ({100 * report['replayed_share']:.1f}%; "
            f"{report['lemmas'].get('admitted', 0)} admitted in the source), {report['steps']} steps, "
            f"{report['time_s']} s")

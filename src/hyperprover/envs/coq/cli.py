"""`hyperprover check --env coq --results eval_results.jsonl`: coqc re-checks the proofs of an eval.

One line per theorem (accepted/REJECTED with coqc's message) and a total; exit 0 when all are accepted,
1 when one is not, 2 when the check cannot run (coqc missing, no results file, bad usage).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def check_main(argv: Sequence[str]) -> int:
    from hyperprover.envs.coq.coqc_check import CheckError, check_results

    p = _Parser(prog="hyperprover check", description="Have coqc re-check, from scratch, the proofs found by "
                "`hyperprover eval --env coq` (one .v file per theorem).")
    p.add_argument("--results", required=True, help="an eval_results.jsonl of `hyperprover eval --env coq`")
    p.add_argument("--out", default="", help="folder of the .v files (default: coqc_check/ next to the results)")
    p.add_argument("--coqc", default="coqc", help="the coqc program")
    p.add_argument("--quiet", action="store_true", help="print only the rejected proofs and the total")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as e:
        return int(e.code or 0)
    folder = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "coqc_check")
    t0 = time.perf_counter()
    try:
        verdicts = check_results(args.results, folder, program=args.coqc)
    except CheckError as e:
        print(f"hyperprover check: {e}", file=sys.stderr)
        return 2
    n_ok = sum(v.accepted for v in verdicts)
    for v in verdicts:
        if not args.quiet or not v.accepted:
            print(f"{v.theorem}: {'accepted' if v.accepted else 'REJECTED'}"
                  + (f" ({v.file})" if v.file else "") + (f" -- {v.detail}" if v.detail and not v.accepted else ""))
    print(f"{args.results}: {n_ok} of {len(verdicts)} proofs accepted by coqc "
          f"({time.perf_counter() - t0:.1f} s; files in {folder})")
    return 0 if n_ok == len(verdicts) else 1


def data_main(argv: Sequence[str]) -> int:
    """Replay the proofs of library directories; write steps.jsonl, lemmas.jsonl and report.json."""
    import json
    from collections import Counter
    from pathlib import Path

    from hyperprover.envs.coq.extract import library_files, replay

    p = _Parser(prog="hyperprover data", description="Replay every proof of Coq library directories in coqtop and "
                "write the (goal, tactic) steps, the lemmas and a report of what failed and why.")
    p.add_argument("--root", default="/usr/lib/ocaml/coq/theories", help="the library root (Debian: libcoq-stdlib)")
    p.add_argument("--dirs", default="Arith,Bool,Lists,Logic,Sorting,ZArith", help="comma list of folders under root")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no line per file")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as e:
        return int(e.code or 0)
    out = Path(args.out)
    try:
        files = list(library_files(Path(args.root), [d for d in args.dirs.split(",") if d]))
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"hyperprover data: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    status: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    n_steps = 0
    file_problems = []
    with open(out / "steps.jsonl", "w") as steps, open(out / "lemmas.jsonl", "w") as lemmas:
        for path, name in files:
            r = replay(path, name)
            for lemma in r.lemmas:
                status[lemma.status] += 1
                if lemma.status == "failed":
                    causes[" ".join(lemma.cause.split()[:6])] += 1
                lemmas.write(json.dumps(lemma.to_dict()) + "\n")
                if lemma.status == "ok":
                    for s in lemma.steps:
                        steps.write(json.dumps(s.to_dict()) + "\n")
                    n_steps += len(lemma.steps)
            if r.errors or r.aborted:
                file_problems.append({"file": name, "aborted": r.aborted, "errors": r.errors[:5]})
            if not args.quiet:
                print(f"{name}: {len(r.lemmas)} lemmas, {sum(l.status == 'ok' for l in r.lemmas)} replayed"
                      f"{', ' + str(len(r.errors)) + ' failing sentences' if r.errors else ''}"
                      f"{', aborted: ' + r.aborted if r.aborted else ''}", flush=True)
    replayed = status["ok"] / max(1, status["ok"] + status["failed"])
    report = {"files": len(files), "lemmas": dict(status), "steps": n_steps, "replayed_share": replayed,
              "failure_causes": causes.most_common(30), "file_problems": file_problems,
              "time_s": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(files)} files: {status['ok']} lemmas replayed of {status['ok'] + status['failed']} "
          f"({100 * replayed:.1f}%; {status['admitted']} admitted in the source), {n_steps} steps; "
          f"{out / 'report.json'}")
    return 0

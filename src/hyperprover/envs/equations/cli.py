"""`hyperprover data --env eq` (generate theorems with proofs) and `hyperprover check --env eq` (re-verify).

The dispatcher (envs/cli.py) removes `--env eq` and calls `data_main` / `check_main` with the rest.
Both write errors as one line `hyperprover CMD: message` and return 2 on bad usage; `check` returns 1
when any proof fails. The record format is documented in data.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hyperprover.config import ConfigError, check_text_file
from hyperprover.envs.equations.config import DATASET_NAMES, EquationsConfig

MAX_SHOWN = 5


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and lets the caller return the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _run(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(list(argv))
    except _UsageError as e:
        print(f"{parser.prog}: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def data_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hyperprover data", description="Generate Equations theorems with their backward proofs "
                "into a JSON-lines file (one theorem per line; schema in hyperprover/envs/equations/data.py). "
                "The file is appended to; theorems of the same stream already in it count towards --n, so an "
                "interrupted run resumes.")
    p.add_argument("--gen", choices=("rwalk", "idwalk", "graph"), default="rwalk",
                   help="random rewriting walks, the same walks from the sides of the identities "
                   "(idwalk), or random derivation graphs (default: rwalk)")
    p.add_argument("--n", type=_positive, required=True, help="number of theorems to write")
    p.add_argument("--seed", type=int, default=0, help="stream seed: the same seed gives the same theorems")
    p.add_argument("--out", required=True, help="output FILE.jsonl (appended, flushed after every line)")
    p.add_argument("--dataset", choices=DATASET_NAMES, default=EquationsConfig().dataset,
                   help="rule subset and operators (default: %(default)s)")
    return p


def data_main(argv: Sequence[str]) -> int:
    args = _run(data_parser(), argv)
    if isinstance(args, int):
        return args
    from tqdm import tqdm

    from hyperprover.envs.equations.data import theorem_to_line
    from hyperprover.envs.equations.generators import stream

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        print(f"hyperprover data: cannot write {out}: {'it is a folder' if out.is_dir() else 'no such folder'}",
              file=sys.stderr)
        return 2
    if out.exists():
        try:  # appending theorems to (and "repairing") a binary file would damage it
            check_text_file(out, "--out")
        except ConfigError as e:
            print(f"hyperprover data: {e}; give a JSON-lines file or a new path", file=sys.stderr)
            return 2
    from hyperprover.jsonl import repair_torn_line

    torn = repair_torn_line(out)  # a killed run's half-written line would swallow the next theorem
    if torn:
        print(f"hyperprover data: warning: {torn}", file=sys.stderr)
    # theorems of this very stream already in the file (labels are `<gen>_train<seed>_<index>...`)
    done = {lab for lab in _labels_in(out) if lab.startswith(f"{args.gen}_train{args.seed}_")}
    cfg = replace(EquationsConfig(), dataset=args.dataset)
    t0 = time.perf_counter()
    written = 0
    with out.open("a") as f, tqdm(total=args.n, desc=f"{args.gen} theorems", unit="th") as bar:
        bar.update(min(len(done), args.n))
        for th in stream(args.gen, args.seed, cfg):
            if len(done) + written >= args.n:
                break
            if th.label in done:
                continue
            f.write(theorem_to_line(th) + "\n")
            f.flush()
            written += 1
            bar.update(1)
    dt = time.perf_counter() - t0
    print(f"wrote {written} theorems to {out} in {dt:.1f}s ({len(done)} were already there)")
    return 0


def _labels_in(path: Path) -> set[str]:
    import json

    labels: set[str] = set()
    if not path.is_file():
        return labels
    # a corrupt byte only spoils its own line, which then names no theorem
    with path.open(errors="replace") as f:
        for line in f:
            try:
                labels.add(json.loads(line)["label"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from an interrupted run
    return labels


def check_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hyperprover check", description="Re-verify every proof of Equations JSON-lines files "
                "(as written by `hyperprover data --env eq`) in a fresh environment. Prints `N/M proofs "
                "check` and the first failures with the failing step; exits 1 when any proof fails.")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl", help="files of theorems with proofs")
    p.add_argument("--dataset", choices=DATASET_NAMES, default=EquationsConfig().dataset,
                   help="rule subset for records that do not name theirs (default: %(default)s)")
    p.add_argument("--show", type=int, default=MAX_SHOWN, help="failures to print (default: %(default)s)")
    return p


def check_main(argv: Sequence[str]) -> int:
    args = _run(check_parser(), argv)
    if isinstance(args, int):
        return args
    for name in args.files:
        if not os.path.isfile(name):
            print(f"hyperprover check: no such file {name}", file=sys.stderr)
            return 2
        try:
            check_text_file(name)
        except ConfigError as e:
            print(f"hyperprover check: {e}; give a JSON-lines file written by `hyperprover data --env eq`",
                  file=sys.stderr)
            return 2
    from tqdm import tqdm

    from hyperprover.envs.equations.splits import make_env

    envs: dict[str, Any] = {args.dataset: make_env(dataset=args.dataset)}
    total, ok = 0, 0
    failures: list[str] = []
    empty: list[str] = []
    t0 = time.perf_counter()
    for name in args.files:
        n_records = 0
        # a corrupt byte spoils only its own record, which then fails to parse
        with open(name, errors="replace") as f:
            for lineno, line in enumerate(tqdm(f, desc=f"checking {name}", unit="proof", leave=False), 1):
                if not line.strip():
                    continue
                total += 1
                n_records += 1
                label, error = check_record(line, envs, args.dataset)
                if error is None:
                    ok += 1
                else:
                    failures.append(f"{name}:{lineno}{' ' + label if label else ''}: {error}")
        if not n_records:
            empty.append(name)
    dt = time.perf_counter() - t0
    if total:
        print(f"{ok}/{total} proofs check ({dt:.1f}s)")
    for msg in failures[:max(args.show, 0)]:
        print(f"FAILED {msg}")
    if len(failures) > args.show:
        print(f"... and {len(failures) - args.show} more failures")
    for name in empty:
        print(f"hyperprover check: {name} holds no proof (no record in it)", file=sys.stderr)
    if empty:
        return 2
    return 0 if ok == total else 1


def check_record(line: str, envs: dict[str, Any], default_dataset: str) -> tuple[str, str | None]:
    """Re-check the proof of one JSON-lines record: (its label or '', None) or (label, why it fails).

    Never raises: one bad record must not stop the check of the others."""
    from hyperprover.envs.base import ProofError
    from hyperprover.envs.equations.data import RecordError, theorem_from_line
    from hyperprover.envs.equations.splits import make_env

    label = ""
    try:
        th = theorem_from_line(line)
        label = th.label
        proof = th.meta.get("proof")
        if proof is None:
            raise ProofError("the record has no proof")
        if proof.goal != th.goal:
            raise ProofError("the proof's root goal is not the theorem's goal")
        dataset = th.meta.get("dataset", default_dataset)  # a record names its rule subset
        if not isinstance(dataset, str) or dataset not in DATASET_NAMES:
            raise RecordError(f"unknown dataset {dataset!r}")
        if dataset not in envs:
            envs[dataset] = make_env(dataset=dataset)
        envs[dataset].check_proof(proof)
    except (RecordError, ProofError) as e:
        return label, str(e)
    except RecursionError:  # JSON or a proof nested deeper than Python recurses
        return label, "the record is nested too deeply to check"
    except Exception as e:  # noqa: BLE001 - reported as this record's failure, whatever it is
        return label, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return label, None

"""`hyperprover data --env sr` and `hyperprover check --env sr`.

File schema (JSON lines, one theorem per line):

    {"label": "sr_data:<seed>:<i>",               stable name of the theorem
     "target": "<prefix tokens of f*>",            the generating target (informational, re-checked)
     "target_infix": "<f* in infix notation>",
     "points": {"x": [x_0, ...], "y": [y_0, ...]},  exact float64 values; the theorem is f = 0 on them
     "proof": [{"expr": "<prefix of f before the step>", "tactic": "<tactic text>"}, ...]}

The proof is the chain of tactics from f = 0 (`proof[0].expr` is `+ 0`); each step's `expr` is the
goal the tactic is applied to, and the last tactic must close the goal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperprover.config import ConfigError, check_text_file, help_text, load_config, opt, section
from hyperprover.envs.base import ProofError, ProofNode
from hyperprover.envs.equations.expr import ExprParseError, parse_prefix, to_pretty
from hyperprover.envs.sr import generator
from hyperprover.envs.sr.config import SRConfig, validate
from hyperprover.envs.sr.env import SREnv, SRGoal
from hyperprover.envs.sr.numeric import PointSet, evaluate_points, values_match
from hyperprover.jsonl import repair_torn_line

SOURCES = ("data", "valid", "test", "bench")


@dataclass
class DataArgs:
    n: int = opt(100, "number of theorems to write", min=1)
    seed: int = opt(0, "seed of the generated stream (source=data)")
    out: str = opt("", "output JSON-lines file; lines are appended")
    source: str = opt("data", "fresh theorems from --seed, or a fixed split", choices=SOURCES)
    sr: SRConfig = section(SRConfig, "SR env and generator options")


@dataclass
class CheckArgs:
    file: str = opt("", "JSON-lines file written by `hyperprover data --env sr`")
    show: int = opt(5, "number of failures to print", min=0)
    sr: SRConfig = section(SRConfig, "SR env options (max_expr_len matters for checking)")


def record(problem: generator.SRProblem) -> dict[str, Any]:
    return {"label": problem.label, "target": problem.target.prefix_str(), "target_infix": to_pretty(problem.target),
            "points": {"x": list(problem.points.xs), "y": list(problem.points.ys)},
            "proof": [{"expr": g.expr.prefix_str(), "tactic": t} for g, t in problem.steps]}


def data_main(argv: Sequence[str]) -> int:
    if "--help" in argv or "-h" in argv:
        print(help_text(DataArgs, "data --env sr", "Generate SR theorems with proofs into a JSON-lines file.\n"
                        + (__doc__ or "").split("\n\n", 1)[1]))
        return 0
    from tqdm import tqdm

    try:
        args = load_config(DataArgs, list(argv))
        validate(args.sr)
        if not args.out:
            raise ConfigError("--out FILE.jsonl is required")
    except ConfigError as e:
        print(f"hyperprover data: {e}", file=sys.stderr)
        return 2
    if Path(args.out).exists():
        try:  # appending theorems to (and "repairing") a binary file would damage it
            check_text_file(args.out, "--out")
        except ConfigError as e:
            print(f"hyperprover data: {e}; give a JSON-lines file or a new path", file=sys.stderr)
            return 2
    if args.source == "data":
        probs = generator.problems(args.seed, args.sr, stream="data")
    elif args.source == "bench":
        from hyperprover.envs.sr.benchmark import bench_problems

        probs = iter(bench_problems(args.sr))
    else:
        probs = iter(generator.fixed_split(args.source, args.n, args.sr))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torn = repair_torn_line(out)  # a killed run's half-written line would swallow the next theorem
    if torn:
        print(f"hyperprover data: warning: {torn}", file=sys.stderr)
    written = 0
    with out.open("a") as f, tqdm(total=args.n, desc="sr data", unit="thm", file=sys.stderr) as bar:
        for problem in probs:
            f.write(json.dumps(record(problem)) + "\n")
            f.flush()
            written += 1
            bar.update(1)
            if written >= args.n:
                break
    print(f"wrote {written} theorems to {out}")
    return 0


def check_record(env: SREnv, rec: Any) -> None:
    """Raise ProofError / ValueError naming what is wrong with one line of a data file."""
    if not isinstance(rec, dict) or not {"points", "proof"} <= rec.keys():
        raise ValueError("a line needs at least `points` and `proof`")
    pts = rec["points"]
    points = PointSet(tuple(pts["x"]), tuple(pts["y"]))
    steps = rec["proof"]
    if not isinstance(steps, list) or not steps:
        raise ProofError("the proof is empty")
    if "target" in rec and not values_match(evaluate_points(parse_prefix(rec["target"].split()), points), points.y):
        raise ValueError("the target does not take the listed y values")
    goals = [SRGoal(parse_prefix(s["expr"].split()), points) for s in steps]
    if goals[0].expr.prefix_str() != "+ 0":
        raise ProofError(f"the proof must start from f = 0, not {to_pretty(goals[0].expr)}")
    node: ProofNode | None = None
    for goal, step in zip(reversed(goals), reversed(steps)):
        node = ProofNode(goal, str(step["tactic"]), (node,) if node is not None else ())
    assert node is not None
    env.check_proof(node)


def check_line(env: SREnv, line: str) -> str | None:
    """None when the record of one line re-checks, else `(label): why`. Never raises: one bad record must
    not stop the check of the others."""
    label = "?"
    try:
        rec = json.loads(line)
        label = rec.get("label", "?") if isinstance(rec, dict) else "?"
        check_record(env, rec)
    except (ProofError, ValueError, ExprParseError, KeyError, TypeError) as e:
        return f"({label}): {type(e).__name__}: {e}"
    except RecursionError:  # JSON nested deeper than Python recurses
        return f"({label}): the record is nested too deeply to check"
    except Exception as e:  # noqa: BLE001 - reported as this record's failure, whatever it is
        return f"({label}): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def check_main(argv: Sequence[str]) -> int:
    if "--help" in argv or "-h" in argv:
        print(help_text(CheckArgs, "check --env sr [FILE]", "Re-verify every proof of an SR JSON-lines file."))
        return 0
    argv = list(argv)
    if argv and not argv[0].startswith("--"):
        argv = ["--file", argv[0], *argv[1:]]
    try:
        args = load_config(CheckArgs, argv)
        validate(args.sr)
        if not args.file:
            raise ConfigError("give the file to check: hyperprover check --env sr FILE.jsonl")
        if not Path(args.file).is_file():
            raise ConfigError(f"{args.file}: no such file")
    except ConfigError as e:
        print(f"hyperprover check: {e}", file=sys.stderr)
        return 2
    try:
        check_text_file(args.file)
    except ConfigError as e:
        print(f"hyperprover check: {e}; give a JSON-lines file written by `hyperprover data --env sr`",
              file=sys.stderr)
        return 2
    env = SREnv(args.sr)
    total, failures = 0, []
    # a corrupt byte spoils only its own record, which then fails to parse
    with open(args.file, errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            total += 1
            error = check_line(env, line)
            if error is not None:
                failures.append(f"line {lineno} {error}")
    if not total:
        print(f"hyperprover check: {args.file} holds no proof (no record in it)", file=sys.stderr)
        return 2
    print(f"{total - len(failures)}/{total} proofs check")
    for msg in failures[: args.show]:
        print("  " + msg)
    if len(failures) > args.show:
        print(f"  ... and {len(failures) - args.show} more")
    return 1 if failures else 0


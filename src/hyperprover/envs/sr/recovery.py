"""What an SR evaluation recovered: the expression each proof ends with, and whether it is the target.

A proved SR theorem means the chain of tactics ends with an expression matching the targets at the
theorem's sample points (rtol 1e-5, atol 1e-8): that is the env's (and the issue's) "recovered". This
module replays the proofs of an `eval_results.jsonl` against the split's theorems to print the found
expressions, and adds a stricter, informational test: the found expression also matches the generating
target on a dense grid of the same interval (wherever the target is defined there).

    python -m hyperprover.envs.sr.recovery DUMP_DIR/eval_results.jsonl [--split valid] [--examples 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperprover.envs.base import TacticError, Theorem
from hyperprover.envs.equations.expr import Node, parse_prefix, to_pretty
from hyperprover.envs.sr.env import SREnv, SRGoal
from hyperprover.envs.sr.numeric import evaluate_array, values_match
from hyperprover.envs.sr.rules import apply_tactic, parse_tactic
from hyperprover.envs.sr.splits import make_env
from hyperprover.results import AttemptRecord, ResultsFile, first_proved

DENSE_POINTS = 2000


def chain_tactics(proof: dict[str, Any]) -> list[str]:
    """The tactics of a proof as written by `proof_to_json` (SR proofs are chains)."""
    out: list[str] = []
    node: dict[str, Any] | None = proof
    while node is not None:
        out.append(node["tactic"])
        kids = node.get("children") or []
        if len(kids) > 1:
            raise ValueError("an SR proof is a chain; this node has several children")
        node = kids[0] if kids else None
    return out


def final_expr(env: SREnv, root: SRGoal, tactics: Sequence[str]) -> Node:
    """Replay `tactics` from `root` through the env; the expression the closing tactic builds."""
    goal = root
    for i, text in enumerate(tactics):
        res = env.apply(goal, text)
        if res.error is not None:
            raise ValueError(f"tactic {i} {text!r} fails on {to_pretty(goal.expr)}: {res.error}")
        if res.closes:
            if i != len(tactics) - 1:
                raise ValueError(f"tactic {i} closes the goal but {len(tactics) - 1 - i} more follow")
            parsed = parse_tactic(env.tactic_tokens(text))
            assert not isinstance(parsed, TacticError)
            new = apply_tactic(goal.expr, parsed)
            assert not isinstance(new, TacticError)
            return new
        child = res.children[0]
        assert isinstance(child, SRGoal)
        goal = child
    raise ValueError("the tactics do not close the goal")


def dense_match(found: Node, target: Node, x_min: float, x_max: float, n: int = DENSE_POINTS) -> bool:
    """Whether `found` matches `target` (same tolerance as the env) on a dense grid, wherever the target is
    defined; `found` must be defined there too. The grid is the midpoints of `n` equal cells, which avoids
    0 and the integers, so a removable singularity (x0 * x0 / x0 for x0) does not count against a match."""
    x = x_min + (x_max - x_min) * (np.arange(n) + 0.5) / n
    t = evaluate_array(target, x)
    keep = np.isfinite(t)
    f = evaluate_array(found, x)[keep]
    return bool(np.isfinite(f).all()) and values_match(f, t[keep])


@dataclass(frozen=True)
class Recovered:
    label: str
    target: str  # infix
    found: str  # infix
    n_tactics: int
    dense_exact: bool


def recovered(env: SREnv, theorems: Sequence[Theorem], records: Iterable[AttemptRecord]) -> list[Recovered]:
    """The proved records (first proof per label), each replayed from its theorem."""
    by_label = {t.label: t for t in theorems}
    out: list[Recovered] = []
    for label, rec in first_proved(records).items():
        if rec.proof is None:
            continue
        th = by_label[label]
        assert isinstance(th.goal, SRGoal)
        tactics = chain_tactics(rec.proof)
        found = final_expr(env, th.goal, tactics)
        target = parse_prefix(th.meta["target"].split())
        exact = dense_match(found, target, env.cfg.x_min, env.cfg.x_max)
        out.append(Recovered(label, to_pretty(target), to_pretty(found), len(tactics), exact))
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m hyperprover.envs.sr.recovery", description=__doc__.split("\n")[0])
    ap.add_argument("results", help="eval_results.jsonl of an `hyperprover eval --env sr` run")
    ap.add_argument("--split", default="valid", help="the split the eval ran on (valid, test, bench)")
    ap.add_argument("--examples", type=int, default=5, help="recovered expressions to print")
    args = ap.parse_args(argv)
    env = make_env()
    records = ResultsFile(Path(args.results)).read()
    labels = list(dict.fromkeys(r.label for r in records))
    found = recovered(env, env.theorems(args.split), records)
    n_exact = sum(r.dense_exact for r in found)
    print(f"attempted {len(labels)}; recovered (fit at the sample points) {len(found)}/{len(labels)}; "
          f"also exact on a {DENSE_POINTS}-point grid {n_exact}/{len(labels)}")
    for r in found[: args.examples]:
        print(f"  {r.label}: target {r.target}  found {r.found}  ({r.n_tactics} tactics"
              f"{', dense-exact' if r.dense_exact else ', fits the points only'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

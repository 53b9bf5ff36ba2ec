"""Training data from the generators (docs/equations.md 4.4) and the JSON-lines format of theorems with proofs.

Record schema (one JSON object per line, written by `hyperprover data --env eq`):

    {"label": "rwalk_train0_12",           stable name of the theorem
     "gen": "rwalk", "seed": 0, "index": 12, "namespace": "train",
                                           how to regenerate it (generators.unit_theorems)
     "dataset": "eq_dataset_exp_trigo_hyper",  the rule subset its proof uses
     "goal": {"conclusion": "x0 + 1 < ...", human notation (expr.parse_infix reads it back)
              "hyps": ["0 < x0", ...],
              "prefix": "<GOAL> < add x0 + 1 ... <HYP> < + 0 x0 </HYP> </GOAL>"},
                                           the goal's tokens (docs/equations.md 1.4): the authoritative form
     "proof": {"goal": "< add x0 + 1 ...", prefix tokens of this node's conclusion
               "tactic": "<TRANFORM_RULE> ... <PREFIX_3>",
               "children": [ {same shape}, ... ]}}
                                           in the order the tactic produces the subgoals

Every goal of a proof has the theorem's hypotheses (a tactic never changes them), so a proof node only
stores its conclusion; a node may carry "hyps" (a list of prefix strings) to override that. "proof" is
null for a theorem without a proof. Unknown keys are ignored (room for later fields).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any, Literal

from hyperprover.envs.base import GoalParseError, ProofNode, Theorem
from hyperprover.envs.equations.env import EqGoal, check_goal_node, goal_from_tokens
from hyperprover.envs.equations.generators import context, fixed_split, stream
from hyperprover.envs.equations.infix import to_pretty
from hyperprover.envs.equations.node import ExprParseError, Node, parse_prefix
from hyperprover.envs.equations.tactics import negate

META_KEYS = ("gen", "seed", "index", "namespace", "dataset")
Pair = tuple[list[str], list[str]]
CriticPair = tuple[list[str], float]


class RecordError(ValueError):
    """A JSON-lines record that does not follow the schema; the message names the field."""


# ---------------------------------------------------------------- JSON records


def goal_to_json(goal: EqGoal) -> dict[str, Any]:
    return {"conclusion": to_pretty(goal.conclusion), "hyps": [to_pretty(h) for h in goal.hyps],
            "prefix": " ".join(goal.tokens())}


def proof_to_json(proof: ProofNode) -> dict[str, Any]:
    goal = proof.goal
    assert isinstance(goal, EqGoal)
    return {"goal": goal.conclusion.prefix_str(), "tactic": proof.tactic,
            "children": [proof_to_json(c) for c in proof.children]}


def theorem_to_json(theorem: Theorem) -> dict[str, Any]:
    goal = theorem.goal
    if not isinstance(goal, EqGoal):
        raise TypeError(f"theorem {theorem.label} does not have an equations goal")
    proof = theorem.meta.get("proof")
    record: dict[str, Any] = {"label": theorem.label}
    for key in META_KEYS:
        if key in theorem.meta:
            record[key] = theorem.meta[key]
    record["goal"] = goal_to_json(goal)
    record["proof"] = proof_to_json(proof) if isinstance(proof, ProofNode) else None
    return record


def _parse_stmt(text: Any, where: str) -> Node:
    if not isinstance(text, str):
        raise RecordError(f"{where} must be a string of prefix tokens")
    try:
        node = parse_prefix(text.split())
        check_goal_node(node, where)
    except (ExprParseError, GoalParseError) as e:
        raise RecordError(f"{where}: {e}") from None
    return node


def goal_from_json(obj: Any) -> EqGoal:
    if not isinstance(obj, dict):
        raise RecordError("'goal' must be an object with 'prefix' (or 'conclusion' and 'hyps')")
    try:
        if isinstance(obj.get("prefix"), str):
            return goal_from_tokens(obj["prefix"].split())
        if isinstance(obj.get("conclusion"), str):
            from hyperprover.envs.equations.env import goal_from_text

            hyps = obj.get("hyps") or []
            text = obj["conclusion"] + (" given " + ", ".join(hyps) if hyps else "")
            return goal_from_text(text)
    except GoalParseError as e:
        raise RecordError(f"goal: {e}") from None
    raise RecordError("'goal' needs a 'prefix' string (or a 'conclusion' in human notation)")


def proof_from_json(obj: Any, root: EqGoal, path: str = "proof") -> ProofNode:
    if not isinstance(obj, dict):
        raise RecordError(f"{path} must be an object with goal, tactic and children")
    goal = root.with_conclusion(_parse_stmt(obj.get("goal"), f"{path}.goal"))
    if "hyps" in obj:
        if not isinstance(obj["hyps"], list):
            raise RecordError(f"{path}.hyps must be a list of prefix strings")
        hyps = tuple(_parse_stmt(h, f"{path}.hyps[{i}]") for i, h in enumerate(obj["hyps"]))
        goal = EqGoal(goal.conclusion, hyps)
    tactic = obj.get("tactic")
    if not isinstance(tactic, str):
        raise RecordError(f"{path}.tactic must be a string")
    kids = obj.get("children", [])
    if not isinstance(kids, list):
        raise RecordError(f"{path}.children must be a list")
    return ProofNode(goal, tactic, tuple(proof_from_json(c, root, f"{path}.children[{i}]")
                                         for i, c in enumerate(kids)))


def theorem_from_json(record: Any, split: str = "") -> Theorem:
    """Inverse of `theorem_to_json` (raises RecordError naming the offending field)."""
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    label = record.get("label")
    if not isinstance(label, str) or not label:
        raise RecordError("'label' must be a non-empty string")
    goal = goal_from_json(record.get("goal"))
    meta: dict[str, Any] = {k: record[k] for k in META_KEYS if k in record}
    if record.get("proof") is not None:
        meta["proof"] = proof_from_json(record["proof"], goal)
    return Theorem(label, goal, split or str(record.get("namespace", "")), meta)


def theorem_to_line(theorem: Theorem) -> str:
    return json.dumps(theorem_to_json(theorem), separators=(",", ":"))


def theorem_from_line(line: str, split: str = "") -> Theorem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"not JSON: {e}") from None
    return theorem_from_json(record, split)


# ---------------------------------------------------------------- training pairs (docs/equations.md 4.4)


def _proof(theorem: Theorem) -> ProofNode:
    proof = theorem.meta.get("proof")
    if not isinstance(proof, ProofNode):
        raise ValueError(f"theorem {theorem.label} has no proof")
    return proof


def proof_pairs(theorems: Iterator[Theorem] | list[Theorem], cfg: Any = None) -> Iterator[Pair]:
    """(goal tokens, tactic tokens) of every proof step, each once per generation unit (one walk or one
    graph), goals longer than `gen.max_tokens` left out."""
    ctx = context(cfg)
    env, limit = ctx.env, ctx.gen.max_tokens
    seen: set[tuple[str, str]] = set()
    unit: Any = None
    for th in theorems:
        if th.meta.get("index") != unit:
            unit = th.meta.get("index")
            seen.clear()
        for goal, tactic in _proof(th).steps():
            key = (goal.key, tactic)  # type: ignore[attr-defined]
            if key in seen:
                continue
            seen.add(key)
            toks = env.goal_tokens(goal)
            if len(toks) <= limit:
                yield toks, env.tactic_tokens(tactic)


def seq2seq_examples(gen: str, seed: int, cfg: Any = None) -> Iterator[Pair]:
    """Endless (goal tokens, tactic tokens) training pairs (`eq_bwd_{gen}_seq2seq`)."""
    return proof_pairs(stream(gen, seed, cfg), cfg)


def critic_targets(theorem: Theorem, rng: random.Random, final_only: bool = False) -> Iterator[tuple[EqGoal, float]]:
    """Spec 4.4: each proof goal kept with probability 1/2 (target 1.0), else made unprovable (0.0) by
    negating its conclusion or, for the theorem's own goal when it has hypotheses, with probability 1/2,
    by keeping a random strict subset of them."""
    root = theorem.goal
    assert isinstance(root, EqGoal)
    goals: list[EqGoal] = [root]
    if not final_only:
        seen = {root.key}
        for g, _ in _proof(theorem).steps():
            if g.key not in seen:  # type: ignore[attr-defined]
                seen.add(g.key)  # type: ignore[attr-defined]
                goals.append(g)  # type: ignore[arg-type]
    for g in goals:
        if rng.random() < 0.5:
            yield g, 1.0
        elif g is root and g.hyps and rng.random() < 0.5:
            kept = rng.sample(g.hyps, rng.randrange(len(g.hyps)))
            yield EqGoal(g.conclusion, tuple(kept)), 0.0
        else:
            yield g.with_conclusion(negate(g.conclusion)), 0.0


def critic_examples(gen: str, seed: int, cfg: Any = None) -> Iterator[CriticPair]:
    """Endless (goal tokens, target probability that the goal is provable) pairs
    (`eq_critic_{gen}_seq2seqtok`)."""
    ctx = context(cfg)
    rng = random.Random(f"critic/{gen}/{seed}")
    for th in stream(gen, seed, cfg):
        for goal, target in critic_targets(th, rng):
            toks = ctx.env.goal_tokens(goal)
            if len(toks) <= ctx.gen.max_tokens:
                yield toks, target


def split_examples(gen: str, split: str, kind: Literal["seq2seq", "critic"] = "seq2seq", n: int = 1000,
                   cfg: Any = None) -> list[Pair] | list[CriticPair]:
    """Fixed valid/test examples from the split's `n` theorems: every proof step (seq2seq), or the
    theorems' own goals with critic targets (critic)."""
    theorems = fixed_split(split, n, gen, cfg)
    if kind == "seq2seq":
        return list(proof_pairs(theorems, cfg))
    if kind == "critic":
        env = context(cfg).env
        rng = random.Random(f"critic/{split}/{gen}")
        return [(env.goal_tokens(g), t) for th in theorems for g, t in critic_targets(th, rng, final_only=True)]
    raise ValueError(f"kind must be 'seq2seq' or 'critic', not {kind!r}")


def take(it: Iterator[Any], n: int) -> list[Any]:
    return list(itertools.islice(it, n))

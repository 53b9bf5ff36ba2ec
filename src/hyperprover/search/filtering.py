"""From a model expansion and the env's results to a node (docs/htps.md, section 2).

Only valid tactics survive; duplicates, tactics with the same child set as a better one and tactics
whose child set strictly contains another's are dropped; a closing tactic makes the goal a solved
leaf and wipes out the alternatives. Priors are the softmax of the surviving model scores.
A tactic that lists its own goal among its children can never help and is dropped too (the
original left it to the cycle check during selection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticErrorKind, TacticResult
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.graph import Node

FILL, PARSE_ERROR, ENV_ERROR = "<fill>", "<parse_error>", "<env_error>"


def error_node(goal: Goal, error: str) -> Node:
    return Node(goal, (), (), (), (), 0.0, error=error)


def _logsumexp(xs: Sequence[float]) -> float:
    m = max(xs)
    if m == float("-inf"):
        return m
    return m + math.log(sum(math.exp(x - m) for x in xs))


def usable(goal: Goal, r: TacticResult) -> bool:
    """Whether a tactic's result can enter the graph: it worked, and its goal is not among its subgoals."""
    return r.error is None and all(c.key != goal.key for c in r.children)


def build_node(goal: Goal, expansion: Expansion, results: Sequence[TacticResult], cfg: SearchConfig) -> Node:
    """The node for `goal`; `results[i]` is the env's answer to `expansion.tactics[i]`."""
    if expansion.error is not None:
        return error_node(goal, expansion.error)
    node = _node(goal, expansion, results, cfg)
    node.model_critic = float(expansion.critic)  # kept for the critic's calibration report
    return node


def _node(goal: Goal, expansion: Expansion, results: Sequence[TacticResult], cfg: SearchConfig) -> Node:
    if len(results) != len(expansion.tactics):
        raise ValueError(f"{len(results)} env results for {len(expansion.tactics)} tactics of {goal.key!r}")
    valid: list[tuple[float, TacticResult]] = []
    malformed: list[float] = []
    failed: list[float] = []
    for logp, r in zip(expansion.log_priors, results):
        if usable(goal, r):
            valid.append((logp, r))
        elif r.error is not None and r.error.kind == TacticErrorKind.MALFORMED:
            malformed.append(logp)
        else:
            failed.append(logp)
    if not valid:
        return error_node(goal, "failed_no_tactic_after_env")
    valid.sort(key=lambda x: -x[0])  # stable: equal scores keep the model's order

    seen: set[str] = set()
    seen_sets: set[frozenset[str]] = set()
    closing: list[tuple[float, TacticResult]] = []
    kept: list[tuple[float, TacticResult, frozenset[str]]] = []
    for logp, r in valid:
        if r.tactic in seen:
            continue
        seen.add(r.tactic)
        if not r.children:
            closing.append((logp, r))
            continue
        cs = frozenset(c.key for c in r.children)
        if cs in seen_sets:
            continue
        seen_sets.add(cs)
        kept.append((logp, r, cs))

    if closing:
        keep = closing[:1] if cfg.only_keep_one_solving else closing
        n = len(keep)
        return Node(goal, [r.tactic for _, r in keep], [()] * n, [lp for lp, _ in keep], [1.0 / n] * n, 1.0,
                    durations=[r.duration_s for _, r in keep], is_solved_leaf=True)

    # only minimal subgoal sets: a strict superset of another tactic's children is never better
    # (a single subgoal can only contain the empty set, which a closing tactic would have been)
    small = [k[2] for k in kept]
    kept = [k for k in kept if len(k[2]) < 2 or not any(o < k[2] for o in small)]
    tactics = [r.tactic for _, r, _ in kept]
    child_goals = [tuple(r.children) for _, r, _ in kept]
    scores = [lp for lp, _, _ in kept]
    durations = [r.duration_s for _, r, _ in kept]
    fake: list[bool] = [False] * len(kept)
    extra: list[tuple[str, float]] = []
    if cfg.add_tactic_errors:
        if malformed:
            extra.append((PARSE_ERROR, _logsumexp(malformed)))
        if failed:
            extra.append((ENV_ERROR, _logsumexp(failed)))
    if cfg.add_tactic_fill:
        mass = sum(math.exp(s) for s in scores) + sum(math.exp(s) for _, s in extra)
        if mass < 1.0:
            extra.append((FILL, math.log(1.0 - mass)))
    for name, s in extra:
        tactics.append(name)
        child_goals.append(())
        scores.append(s)
        durations.append(0.0)
        fake.append(True)
    m = max(scores)
    weights = [math.exp(s - m) for s in scores]
    total = sum(weights)
    priors = [w / total for w in weights]
    critic = 0.5 if cfg.no_critic else min(1.0, max(0.0, float(expansion.critic)))
    return Node(goal, tactics, child_goals, scores, priors, critic, fake=fake, durations=durations)

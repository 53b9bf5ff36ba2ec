"""The Equations env's list of applicable tactic starts (constrained decoding): complete and sound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.envs.base import ProofNode, TacticErrorKind
from hyperprover.envs.equations.env import EquationsEnv
from hyperprover.envs.equations.generators import generate
from hyperprover.envs.equations.rules import RuleError, assertion, find_matches
from hyperprover.envs.equations.splits import make_env
from hyperprover.envs.equations.tactics import ASSERT, TRANSFORM
from hyperprover.model.expander import TransformerExpander, load_expander
from hyperprover.search.expander import DecodingConfig
from online_model import rigged_checkpoint

ENV = make_env()
RWALK = generate("rwalk", 40, seed=3)
GRAPH = generate("graph", 40, seed=4)
NOT_MATCHING = (TacticErrorKind.NO_MATCH, TacticErrorKind.UNKNOWN_RULE, TacticErrorKind.MALFORMED)


def _nodes(p: ProofNode) -> Iterator[ProofNode]:
    yield p
    for c in p.children:
        yield from _nodes(c)


def _starts_with_one(tactic: str, starts: list[tuple[tuple[str, ...], bool]]) -> bool:
    toks = tuple(tactic.split())
    return any(toks == s if complete else toks[: len(s)] == s for s, complete in starts)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RWALK + GRAPH))
def test_every_step_of_a_generated_proof_is_listed(th) -> None:  # type: ignore[no-untyped-def]
    for node in _nodes(th.meta["proof"]):
        assert _starts_with_one(node.tactic, ENV.tactic_prefixes(node.goal)), node.tactic


def _brute_force(env: EquationsEnv, goal) -> set[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    out: set[tuple[str, ...]] = set()
    for r in env.rules:
        if r.kind == "A":
            try:
                assertion(r, goal.conclusion)
            except RuleError:
                continue
            out.add((ASSERT, r.name))
            continue
        for forward in (True, False):
            for app in find_matches(r, goal.conclusion, forward):
                if app.pos <= env.cfg.max_prefix_pos:
                    out.add((TRANSFORM, r.name, "<RULE_FORWARD>" if forward else "<RULE_BACKWARD>",
                             f"<PREFIX_{app.pos}>"))
    return out


def test_starts_are_exactly_the_matches_and_complete_ones_apply() -> None:
    n_complete = n_open = 0
    for th in ENV.theorems("identities")[::8] + RWALK[:10]:
        starts = ENV.tactic_prefixes(th.goal)
        assert {s for s, _ in starts} == _brute_force(ENV, th.goal)
        for s, complete in starts:
            res = ENV.apply(th.goal, " ".join(s))
            if complete:
                n_complete += 1
                assert res.error is None or res.error.kind not in NOT_MATCHING, (s, res.error)
            else:  # the rule matched; only the substitution is missing
                n_open += 1
                assert res.error is not None and res.error.kind == TacticErrorKind.BAD_SUBSTITUTION, (s, res.error)
    assert n_complete > 100 and n_open > 10


def test_expander_decodes_only_listed_starts(tmp_path: Path) -> None:
    expander = load_expander(rigged_checkpoint(tmp_path / "rigged.pth"), ENV)
    goals = [th.goal for th in ENV.theorems("identities")[:24]]
    seeds = list(range(len(goals)))

    def share_listed(applicable_only: bool) -> float:
        params = DecodingConfig(n_samples=16, fixed_temperature=2.0, applicable_only=applicable_only)
        pairs = [(t, ENV.tactic_prefixes(e.goal)) for e in expander.expand(goals, params, seeds) for t in e.tactics]
        assert pairs
        return sum(_starts_with_one(t, starts) for t, starts in pairs) / len(pairs)

    assert share_listed(False) < 0.5  # the rigged model proposes its five rules anywhere
    assert share_listed(True) == 1.0

    class Unlisted:  # an env that cannot list its applicable tactics
        def goal_tokens(self, goal):  # type: ignore[no-untyped-def]
            return ENV.goal_tokens(goal)

    bare = TransformerExpander(expander.model, expander.dico, Unlisted())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="applicable_only"):
        bare.expand(goals, DecodingConfig(applicable_only=True))

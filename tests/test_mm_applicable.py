"""Applicable assertions of a Metamath goal (the conclusion index behind `tactic_prefixes`): exactly the
assertions a brute-force match over the whole database finds, complete ones applying as they are."""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperprover.envs.metamath.env import MetamathEnv, MMGoal, make_env

DATA = os.path.join(os.path.dirname(__file__), "data", "mm")
SET_MM = "/usr/share/metamath/databases/set.mm"


def brute_force(env: MetamathEnv, goal: MMGoal) -> set[tuple[str, bool]]:
    """Every (label, complete) that applies, found by matching the goal against every assertion."""
    out: set[tuple[str, bool]] = set()
    hyp = goal.ctx.hyp_stmts.get(goal.stmt)
    if hyp is not None:
        out.add((hyp, True))
    parser = env.parser(goal.stmt[1:], goal.ctx.limit)
    for a in env.db.assertions.values():
        if a.index >= goal.ctx.limit or a.typecode != goal.stmt[0] or env.grammar.is_syntactic(a.typecode):
            continue
        tvars = {h.stmt[1]: h.stmt[0] for h in a.hyps if h.kind == "f"}
        complete = all(v in a.stmt[1:] for v in tvars)
        if complete:
            if env.apply(goal, a.label).ok:
                out.add((a.label, True))
        elif parser.match(a.stmt[1:], {t: tvars[t] for t in a.stmt[1:] if t in tvars}) is not None:
            out.add((a.label, False))
    return out


def prefixes(env: MetamathEnv, goal: MMGoal) -> set[tuple[str, bool]]:
    """(label, complete) of the applicable assertions, leaving out the complete tactics read off the
    theorem's hypotheses (checked by `test_complete_from_hypotheses_*`)."""
    found = [(w, c) for w, c in env.tactic_prefixes(goal) if not (c and len(w) > 1)]
    for words, complete in found:  # complete: the label alone; else the label and the first `$s VAR $=`
        assert len(words) == 1 if complete else (words[1], words[3]) == ("$s", "$=")
    labels = [words[0] for words, _ in found]
    assert len(labels) == len(set(labels)), "a label listed twice"
    return {(words[0], complete) for words, complete in found}


def from_hyps(env: MetamathEnv, goal: MMGoal) -> list[str]:
    """The complete tactics with substitutions: those read off the theorem's hypotheses."""
    return [" ".join(w) for w, c in env.tactic_prefixes(goal) if c and len(w) > 1]


@pytest.fixture(scope="module")
def small() -> MetamathEnv:
    return make_env(database=os.path.join(DATA, "good.mm"))


def wffs() -> st.SearchStrategy[tuple[str, ...]]:
    leaves = st.sampled_from([("ph",), ("ps",), ("ch",), ("x", "=", "y"), ("y", "=", "y")])
    return st.recursive(leaves, lambda sub: st.one_of(
        st.tuples(sub, sub).map(lambda ab: ("(", *ab[0], "->", *ab[1], ")")),
        st.tuples(st.sampled_from(["x", "y"]), sub).map(lambda vw: ("A.", vw[0], *vw[1]))), max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(stmt=wffs(), hyp=st.one_of(st.none(), wffs()), same=st.booleans())
def test_index_finds_exactly_what_brute_force_finds(small: MetamathEnv, stmt: tuple[str, ...],
                                                     hyp: tuple[str, ...] | None, same: bool) -> None:
    hyps = [("h.1", ("|-", *(stmt if same else hyp)))] if hyp is not None else []
    goal = small.make_goal(("|-", *stmt), hyps, [("x", "ph")])
    assert prefixes(small, goal) == brute_force(small, goal)
    hyp_stmts = {s for _, s in hyps}
    for tactic in from_hyps(small, goal):  # each applies and closes at least one $e with a hypothesis
        res = small.apply(goal, tactic)
        a = small.db.assertions[tactic.split()[0]]
        assert res.ok and len(res.children) < sum(h.kind == "e" for h in a.hyps), tactic
        assert not hyp_stmts & {c.stmt for c in res.children}


@settings(max_examples=40, deadline=None)
@given(a=wffs(), b=wffs())
def test_complete_from_hypotheses_closes_modus_ponens(small: MetamathEnv, a: tuple[str, ...],
                                                      b: tuple[str, ...]) -> None:
    """Hypotheses `|- A` and `|- ( A -> B )`, goal `|- B`: ax-mp with its missing `ph` read off them is
    listed as complete and closes the goal; without the option, or without the hypotheses, it is not."""
    hyps = [("h.1", ("|-", *a)), ("h.2", ("|-", "(", *a, "->", *b, ")"))]
    goal = small.make_goal(("|-", *b), hyps)
    tactic = "ax-mp $s ph $= " + " ".join(a)
    assert tactic in from_hyps(small, goal)
    assert small.apply(goal, tactic).closes
    assert tactic not in from_hyps(small, small.make_goal(("|-", *b)))
    off = make_env(database=os.path.join(DATA, "good.mm"), complete_from_hyps=False)
    assert from_hyps(off, off.make_goal(("|-", *b), hyps)) == []


def test_known_goals(small: MetamathEnv) -> None:
    goal = small.make_goal(("|-", "(", "ph", "->", "(", "ps", "->", "ph", ")", ")"))
    assert prefixes(small, goal) == {("ax-1", True), ("ax-mp", False), ("a1i", True)}
    assert small.apply(goal, "ax-1").closes
    # database order: a theorem may not use itself or what comes after it
    before = {w[0] for w, _ in small.tactic_prefixes(small.theorem_goal("a1i"))}
    assert "ax-mp" in before and "a1i" not in before and "idz" not in before
    # a goal equal to a hypothesis is closed by that hypothesis
    hyp = small.make_goal(("|-", "A.", "x", "ph"), [("g.1", ("|-", "A.", "x", "ph"))])
    assert ("g.1", True) in prefixes(small, hyp)
    # $d: ax-17 matches `( x = y -> A. x x = y )` but x occurs in ph := x = y
    dv = small.make_goal(("|-", "(", "x", "=", "y", "->", "A.", "x", "x", "=", "y", ")"))
    assert "ax-17" not in {w[0] for w, _ in small.tactic_prefixes(dv)}
    assert not small.apply(dv, "ax-17").ok


@pytest.mark.skipif(not os.path.exists(SET_MM), reason="set.mm missing: apt-get install metamath-databases")
def test_set_mm_human_steps_are_listed_and_match_brute_force() -> None:
    from hyperprover.envs.metamath.env import parse_tactic
    from hyperprover.envs.metamath.proofs import human_steps

    env = make_env()
    theorems = random.Random(1).sample(env.theorems("valid"), 12)  # across the database, not its first pages
    steps = [s for t in theorems for s in human_steps(env, t.label[3:])]
    assert len(steps) > 50
    for goal, tactic in steps:  # the step a human took is always among the listed ones, and starts like it
        label, subs = parse_tactic(tactic)
        assert (label, not subs) in prefixes(env, goal), tactic
        assert any(tactic.split()[: len(w)] == list(w) for w, _ in env.tactic_prefixes(goal)), tactic
    for goal, _ in steps[::25]:
        assert prefixes(env, goal) == brute_force(env, goal)


@pytest.mark.skipif(not os.path.exists(SET_MM) or shutil.which("metamath") is None,
                    reason="needs set.mm and the C metamath program (apt-get install metamath metamath-databases)")
def test_floor_proves_set_mm_theorems_the_c_program_accepts(tmp_path) -> None:
    """`--expander uniform` on Metamath: the first valid theorems (early propositional calculus) fall to a
    search over complete applicable assertions, and the C verifier accepts every proof."""
    from hyperprover.cli import main

    assert main(["eval", "--env", "mm", "--expander", "uniform", "--split", "valid", "--n_theorems", "6",
                 "--prover", "bfs", "--search.n_expansions", "100", "--decoding.n_samples", "32",
                 "--dump_path", str(tmp_path), "--exp_id", "floor"]) == 0
    folder = tmp_path / "eval" / "floor"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["proved"] >= 2, summary
    assert main(["check", "--env", "mm", "--results", str(folder / "eval_results.jsonl")]) == 0

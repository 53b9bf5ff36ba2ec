"""Metamath backward env, grammar, human-proof steps, splits and export, on small databases."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hyperprover.envs.base import ProofError, ProofNode, TacticErrorKind, make_env
from hyperprover.envs.metamath.config import MetamathConfig
from hyperprover.envs.metamath.data import seq2seq_examples, split_examples
from hyperprover.envs.metamath.database import read_database
from hyperprover.envs.metamath.env import MetamathEnv, MMGoal, format_tactic
from hyperprover.envs.metamath.proofs import human_steps, replay, snippet, to_metamath
from hyperprover.envs.metamath.verify import Verifier

DATA = os.path.join(os.path.dirname(__file__), "data", "mm")
DEBIAN = "/usr/share/metamath/databases"
needs_debian = pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="metamath-databases is not installed")
needs_c = pytest.mark.skipif(shutil.which("metamath") is None, reason="the C metamath program is not installed")


@pytest.fixture(scope="module")
def env() -> MetamathEnv:
    e = make_env("mm", database=os.path.join(DATA, "good.mm"))
    assert isinstance(e, MetamathEnv)
    return e


def test_apply_modus_ponens_gives_the_hypotheses(env: MetamathEnv) -> None:
    goal = env.make_goal(("|-", "(", "ph", "->", "ph", ")"))
    res = env.apply(goal, "ax-mp $s ph $= ( ph -> ( ph -> ph ) )")
    assert res.ok, res.error
    texts = [" ".join(c.stmt) for c in res.children if isinstance(c, MMGoal)]
    assert texts == ["|- ( ph -> ( ph -> ph ) )", "|- ( ( ph -> ( ph -> ph ) ) -> ( ph -> ph ) )"]
    closes = env.apply(res.children[0], "ax-1")
    assert closes.closes


@pytest.mark.parametrize("tactic, kind", [
    ("ax-mp", TacticErrorKind.BAD_SUBSTITUTION),  # ph is not in the conclusion: required
    ("ax-mp $s ph $= ( ph ->", TacticErrorKind.BAD_SUBSTITUTION),  # not a wff
    ("ax-mp $s ch $= ph", TacticErrorKind.BAD_SUBSTITUTION),  # not a variable of ax-mp
    ("ax-mp $s ph", TacticErrorKind.MALFORMED),
    ("$s ph $= ph", TacticErrorKind.MALFORMED),
    ("", TacticErrorKind.MALFORMED),
    ("nosuch", TacticErrorKind.UNKNOWN_RULE),
    ("ax-17", TacticErrorKind.NO_MATCH),
    ("wi", TacticErrorKind.NO_MATCH),
])
def test_tactic_errors(env: MetamathEnv, tactic: str, kind: TacticErrorKind) -> None:
    goal = env.make_goal(("|-", "(", "ph", "->", "ph", ")"))
    res = env.apply(goal, tactic)
    assert res.error is not None and res.error.kind == kind, res


def test_labels_after_the_theorem_are_unknown(env: MetamathEnv) -> None:
    goal = env.theorem_goal("a1i")
    assert env.apply(goal, "ax-mp $s ph $= ph").ok
    res = env.apply(env.theorem_goal("id"), "idz")  # idz comes after id
    assert res.error is not None and res.error.kind == TacticErrorKind.UNKNOWN_RULE
    res = env.apply(env.theorem_goal("id"), "id")  # the theorem itself
    assert res.error is not None and res.error.kind == TacticErrorKind.UNKNOWN_RULE
    assert env.apply(env.theorem_goal("idz"), "id").closes
    vocab = ["ax-1", "id", "idz", "ph", "$s"]
    assert env.allowed_labels_mask(env.theorems("train")[0] if False else "idz", vocab) == [
        True, True, False, True, True]
    assert env.allowed_labels_mask("id", vocab) == [True, False, False, True, True]


def test_disjoint_variables(env: MetamathEnv) -> None:
    g = env.theorem_goal("ax17eq")  # $d x y
    assert env.apply(g, "ax-17").closes
    bad = env.make_goal(("|-", "(", "y", "=", "y", "->", "A.", "x", "y", "=", "y", ")"))  # no $d
    res = env.apply(bad, "ax-17")
    assert res.error is not None and res.error.kind == TacticErrorKind.DISJOINT
    same = env.make_goal(("|-", "(", "x", "=", "y", "->", "A.", "x", "x", "=", "y", ")"), dvs=[("x", "y")])
    res = env.apply(same, "ax-17")
    assert res.error is not None and res.error.kind == TacticErrorKind.DISJOINT and "both sides" in res.error.message
    # a dummy variable (not in the goal) may get a new $d
    dummy = env.make_goal(("|-", "A.", "x", "(", "y", "=", "y", "->", "A.", "x", "y", "=", "y", ")"))
    res = env.apply(dummy, "ax-gen")
    assert res.ok and len(res.children) == 1


def test_hypotheses_close_goals(env: MetamathEnv) -> None:
    g = env.theorem_goal("a1i")
    res = env.apply(g, "ax-mp $s ph $= ph")
    assert [" ".join(c.stmt) for c in res.children if isinstance(c, MMGoal)] == ["|- ( ph -> ( ps -> ph ) )"]
    hyp = MMGoal(g.ctx, ("|-", "ph"))
    assert env.apply(hyp, "a1i.1").closes


def test_goal_identity_text_and_tokens(env: MetamathEnv) -> None:
    g1, g2 = env.theorem_goal("a1i"), env.theorem_goal("mm:a1i")
    assert g1 == g2 and hash(g1) == hash(g2) and g1.key == g2.key
    assert g1 != env.make_goal(g1.stmt)
    for g in (g1, env.make_goal(("|-", "ph"), hyps=[("h", ("|-", "ph"))], dvs=[("y", "x")])):
        assert env.parse_goal(env.goal_text(g)) == g
    toks = env.goal_tokens(g1)
    assert toks == ["<GOAL>", "<HYP>", "|-", "ph", "</HYP>", "|-", "(", "ps", "->", "ph", ")", "</GOAL>"]
    t = format_tactic("ax-mp", {"ph": ("ph",)})
    assert env.tactic_from_tokens(env.tactic_tokens(t)) == t == "ax-mp $s ph $= ph"
    with pytest.raises(ValueError):
        env.parse_goal("|- ( ph -> zz )")


def test_human_steps_replay_and_check(env: MetamathEnv) -> None:
    for label in ("id", "a1i", "ax17eq", "idz"):
        steps = human_steps(env, label)
        assert steps[0][0] == env.theorem_goal(label)
        proof = replay(env, label, steps)
        env.check_proof(proof)
    assert [t for _, t in human_steps(env, "a1i")] == ["ax-mp $s ph $= ph", "ax-1"]


def test_check_proof_rejects_wrong_trees(env: MetamathEnv) -> None:
    proof = replay(env, "id")
    env.check_proof(proof)
    with pytest.raises(ProofError, match="subgoal"):
        env.check_proof(ProofNode(proof.goal, proof.tactic, proof.children[:1]))
    with pytest.raises(ProofError):
        env.check_proof(ProofNode(proof.goal, "ax-1"))
    child = proof.children[0]
    wrong = ProofNode(child.goal, "ax-2", ())
    with pytest.raises(ProofError):
        env.check_proof(ProofNode(proof.goal, proof.tactic, (wrong,) + proof.children[1:]))


def test_splits_are_fixed_and_disjoint() -> None:
    db = read_database(os.path.join(DATA, "good.mm"))
    e1 = MetamathEnv(MetamathConfig(database=os.path.join(DATA, "good.mm")), db)
    s = e1.splits
    assert sorted(s.train + s.valid + s.test) == sorted(["id", "a1i", "ax17eq", "idz"])
    assert [t.label for t in e1.theorems("train")] == [f"mm:{x}" for x in s.train]
    with pytest.raises(ValueError):
        e1.theorems("nope")


@needs_debian
def test_splits_on_a_larger_database() -> None:
    env = make_env("mm", database=os.path.join(DEBIAN, "ql.mm"), n_valid=100, n_test=100)
    assert isinstance(env, MetamathEnv)
    s = env.splits
    assert (len(s.valid), len(s.test)) == (100, 100)
    assert not set(s.valid) & set(s.test) and not set(s.train) & set(s.valid)
    assert len(s.train) + 200 == sum(a.kind == "p" for a in env.db.assertions.values())
    again = make_env("mm", database=os.path.join(DEBIAN, "ql.mm"), n_valid=100, n_test=100)
    assert again.splits == s  # type: ignore[attr-defined]
    other = make_env("mm", database=os.path.join(DEBIAN, "ql.mm"), n_valid=100, n_test=100, split_seed=1)
    assert other.splits != s  # type: ignore[attr-defined]


@needs_debian
@pytest.mark.parametrize("name", ["demo0.mm", "miu.mm", "big-unifier.mm", "hol.mm"])
def test_replay_every_theorem_of_small_databases(name: str) -> None:
    env = make_env("mm", database=os.path.join(DEBIAN, name))
    assert isinstance(env, MetamathEnv)
    n = 0
    for a in env.db.assertions.values():
        if a.kind == "p":
            env.check_proof(replay(env, a.label))
            n += 1
    assert n == sum(a.kind == "p" for a in env.db.assertions.values())


def test_data_streams(env: MetamathEnv) -> None:
    pairs = split_examples("train", 3, env=env)
    assert len(pairs) == 3 and all(x[0] == "<GOAL>" and y for x, y in pairs)
    stream = seq2seq_examples("train", seed=0, env=env)
    first = [next(stream) for _ in range(20)]  # the stream is infinite (several passes here)
    every = {(tuple(env.goal_tokens(g)), t) for lab in env.splits.train for g, t in human_steps(env, lab)}
    assert len(first) == 20 and all((tuple(x), " ".join(y)) in every for x, y in first)
    assert len({tuple(x) for x, _ in first}) == len({x for x, _ in every})


def _c_verifies(folder: str, name: str) -> str:
    r = subprocess.run(["metamath", f"read {name}", "verify proof *", "exit"], cwd=folder,
                       capture_output=True, text=True, timeout=120)
    return r.stdout


@needs_c
def test_export_is_accepted_by_the_c_program(env: MetamathEnv, tmp_path: object) -> None:
    folder = str(tmp_path)
    for f in ("good.mm", "good_part.mm"):
        shutil.copy(os.path.join(DATA, f), folder)
    parts = []
    for i, label in enumerate(["id", "a1i", "ax17eq", "idz"]):
        mm = to_metamath(env, replay(env, label))
        parts.append(snippet(env, mm, label=f"found{i}"))
    text = "$[ good.mm $]\n" + "\n".join(parts)
    assert "Z" in text  # id's proof reuses a subproof
    with open(os.path.join(folder, "found.mm"), "w") as out:
        out.write(text)
    log = _c_verifies(folder, "found.mm")
    assert "?Error" not in log and "All proofs in the database were verified" in log, log[-800:]
    db = read_database(os.path.join(folder, "found.mm"))  # and our own verifier agrees
    assert Verifier(db).verify_all().n_proofs == 8
    with open(os.path.join(folder, "broken.mm"), "w") as out:  # the check can fail
        out.write(text.replace("ax-1", "ax-2", 1) if " ax-1 " in text else text.replace("( ", "( ax-2 ", 1))
    assert "?Error" in _c_verifies(folder, "broken.mm")


@needs_c
@needs_debian
def test_export_of_a_demo0_proof(tmp_path: object) -> None:
    env = make_env("mm", database=os.path.join(DEBIAN, "demo0.mm"))
    assert isinstance(env, MetamathEnv)
    folder = str(tmp_path)
    shutil.copy(os.path.join(DEBIAN, "demo0.mm"), folder)
    with open(os.path.join(folder, "found.mm"), "w") as f:
        f.write(snippet(env, to_metamath(env, replay(env, "th1")), include="demo0.mm"))
    out = _c_verifies(folder, "found.mm")
    assert "?Error" not in out and "All proofs in the database were verified" in out, out[-800:]

import io

import pytest

from hyperprover.cli import main
from hyperprover.envs.base import ProofError, ProofNode
from hyperprover.envs.equations.splits import make_env
from hyperprover.evaluation.by_hand import run_by_hand

COMMUTE = "<TRANFORM_RULE> T||(A_*_B)|(B_*_A) <RULE_FORWARD> <PREFIX_{}>"
DISTRIB = "<TRANFORM_RULE> T||((A_+_B)_*_C)|((A_*_C)_+_(B_*_C)) <RULE_FORWARD> <PREFIX_1>"
PROOF = [COMMUTE.format(1), DISTRIB, COMMUTE.format(2), COMMUTE.format(5)]
THEOREM = "x0 * (x1 + x2) == x0*x1 + x0*x2"


def test_by_hand_proof_closes_and_rechecks():
    env = make_env()
    out = io.StringIO()
    assert run_by_hand(env, env.parse_goal(THEOREM), PROOF, out)
    text = out.getvalue()
    assert "proved (4 steps, depth 4)" in text and "line 4: closes" in text


def test_errors_leave_the_goal_open():
    env = make_env()
    out = io.StringIO()
    bad = "<TRANFORM_RULE> T||(A_*_B)|(B_*_A) <RULE_FORWARD> <PREFIX_3>"  # x1 is not a product
    assert not run_by_hand(env, env.parse_goal(THEOREM), [bad, COMMUTE.format(1)], out)
    text = out.getvalue()
    assert "line 1: error:" in text and "line 2: 1 subgoal(s)" in text and "1 goal(s) open" in text


def test_tampered_proof_fails_recheck():
    env = make_env()
    goal = env.parse_goal(THEOREM)
    child = env.apply(goal, COMMUTE.format(1)).children[0]
    with pytest.raises(ProofError):
        env.check_proof(ProofNode(goal, COMMUTE.format(1), (ProofNode(child, DISTRIB),)))


def test_cli(tmp_path, capsys):
    f = tmp_path / "tactics.txt"
    f.write_text("\n".join(PROOF) + "\n")
    assert main(["prove", "--env", "eq", "--theorem", THEOREM, "--tactics", str(f)]) == 0
    assert "the proof re-checks" in capsys.readouterr().out
    assert main(["prove", "--env", "eq", "--theorem", "x0 * (x1 + == x0", "--tactics", str(f)]) == 2
    assert "position 11" in capsys.readouterr().err
    assert main(["prove", "--env", "eq", "--theorem", THEOREM, "--tactics", str(tmp_path / "none")]) == 2
    assert "No such file" in capsys.readouterr().err

"""Scored enumeration (`--decoding.score_enumerated`): the model ranks every complete applicable tactic."""

import pytest

from hyperprover.envs.base import make_env
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig, complete_tactics
from online_model import rigged_checkpoint

GOALS = ["x0 + 0 == x0", "(x1 * 1) + x0 == x0 + x1", "exp(x0 - x0) == exp(0)", "x0 == x1"]


@pytest.fixture(scope="module")
def expander(tmp_path_factory):
    env = make_env("eq")
    return load_expander(rigged_checkpoint(tmp_path_factory.mktemp("ckpt") / "rigged.pth"), env, "cpu")


def test_every_known_complete_tactic_is_scored(expander):
    env = expander.env
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=4, score_enumerated=True)
    for goal, e in zip(goals, expander.expand(goals, params, [1, 2, 3, 4])):
        known = [t for t in complete_tactics(env, goal) if all(w in expander.dico.word2id for w in t.split())]
        assert known, goal.key
        assert set(known) <= set(e.tactics), goal.key  # never fewer than the floor proposes
        assert list(e.log_priors) == sorted(e.log_priors, reverse=True) and max(e.log_priors) <= 0
        assert 0.0 <= e.critic <= 1.0


def test_scores_are_the_models_sampling_log_probs(expander):
    """A complete tactic that plain sampling draws gets the same score from enumeration."""
    env = expander.env
    goal = env.parse_goal("(x1 * 1) + x0 == x0 + x1")
    (sampled,) = expander.expand([goal], DecodingConfig(n_samples=64), [9])
    (scored,) = expander.expand([goal], DecodingConfig(n_samples=4, score_enumerated=True), [9])
    scores = dict(zip(scored.tactics, scored.log_priors))
    common = [(t, s) for t, s in zip(sampled.tactics, sampled.log_priors) if t in scores]
    assert len(common) >= 3
    for t, s in common:
        assert scores[t] == pytest.approx(s, abs=1e-4), t


def test_needs_an_env_that_enumerates(tmp_path):
    sr = make_env("sr")
    exp = load_expander(rigged_checkpoint(tmp_path / "rigged.pth"), sr, "cpu")
    with pytest.raises(ValueError, match="--decoding.score_enumerated"):
        exp.expand([], DecodingConfig(score_enumerated=True))

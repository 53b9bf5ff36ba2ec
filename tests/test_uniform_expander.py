"""The model-free floor (`--expander uniform`): what it proposes, its seeding, and the CLI paths."""

import json
import math

import pytest

from hyperprover.cli import main
from hyperprover.config import ConfigError
from hyperprover.envs.base import make_env
from hyperprover.online.config import OnlineConfig, check_online_config
from hyperprover.search.expander import DecodingConfig, complete_tactics
from hyperprover.search.uniform import UniformExpander


@pytest.fixture(scope="module")
def env():
    return make_env("eq")


def test_proposes_every_complete_applicable_tactic(env):
    goal = env.parse_goal("(x0 + 0) * 1 == x0 + x1 * 0")
    tactics = complete_tactics(env, goal)
    assert len(tactics) >= 4 and len(set(tactics)) == len(tactics)
    (e,) = UniformExpander(env).expand([goal], DecodingConfig(n_samples=1000), [7])
    assert sorted(e.tactics) == sorted(tactics) and e.error is None
    assert e.critic == 0.5
    assert math.isclose(sum(math.exp(p) for p in e.log_priors), 1.0)
    assert len(set(e.log_priors)) == 1
    # every complete tactic is accepted by the env's parser and matches the goal (a side condition may fail)
    for t in e.tactics:
        res = env.apply(goal, t)
        assert res.ok or res.error.kind.value in ("invalid_child", "other"), (t, res.error)


def test_at_most_n_samples_seeded_per_goal(env):
    goal = env.parse_goal("(x0 + 0) * 1 == x0 + x1 * 0")
    exp = UniformExpander(env)
    everything = set(complete_tactics(env, goal))
    a = exp.expand([goal], DecodingConfig(n_samples=3), [1])[0]
    again = exp.expand([env.parse_goal("x1 == x1"), goal], DecodingConfig(n_samples=3), [5, 1])[1]
    other = [exp.expand([goal], DecodingConfig(n_samples=3), [s])[0].tactics for s in range(2, 12)]
    assert len(a.tactics) == 3 and set(a.tactics) <= everything
    assert a.tactics == again.tactics  # a goal's draw depends on its seed only, not on the batch
    assert any(set(o) != set(a.tactics) for o in other)
    assert sorted(exp.expand([goal], DecodingConfig(n_samples=0), [1])[0].tactics) == sorted(everything)  # 0: all


class OnlyIncomplete:
    """An env whose only applicable tactic needs a substitution."""

    name = "scripted"

    def tactic_prefixes(self, goal):
        return [(("<ASSERT_RULE>", "rule"), False)]

    def tactic_from_tokens(self, tokens):
        return " ".join(tokens)


def test_goal_without_complete_tactic_is_an_error_expansion(env):
    goal = env.parse_goal("x0 == x1")
    (e,) = UniformExpander(OnlyIncomplete()).expand([goal], DecodingConfig(), [0])
    assert e.error and "no complete tactic" in e.error and not e.tactics


def test_env_that_cannot_enumerate_is_a_one_line_error(capsys):
    with pytest.raises(ValueError, match="cannot list the tactics"):
        UniformExpander(make_env("sr"))
    assert main(["prove", "--env", "sr", "--expander", "uniform", "--theorem", "bench:0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--expander uniform" in err


def test_prove_without_a_model(capsys):
    code = main(["prove", "--expander", "uniform", "--theorem", "(x0 + 0) * 1 == x0", "--search.n_expansions", "50",
                 "--decoding.n_samples", "1000",
                 "--search.early_stop", "true", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "proved" in out and "re-checked" in out


def test_eval_records_the_expander(tmp_path):
    goals = tmp_path / "goals.txt"
    goals.write_text("x0 + 0 == x0\nx1 * 1 == x1\n")
    assert main(["eval", "--expander", "uniform", "--theorems_file", str(goals), "--dump_path", str(tmp_path),
                 "--exp_id", "floor", "--search.n_expansions", "20", "--search.early_stop", "true",
                 "--decoding.n_samples", "1000"]) == 0
    folder = tmp_path / "eval" / "floor"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["expander"] == "uniform" and summary["proved"] == 2
    lines = [json.loads(x) for x in (folder / "eval_results.jsonl").read_text().splitlines()]
    assert {r["params"]["expander"] for r in lines} == {"uniform"}


def test_online_floor_needs_no_trainer_and_no_checkpoint():
    cfg = OnlineConfig()
    cfg.expander, cfg.no_trainer = "uniform", True
    check_online_config(cfg)  # no --reload_model needed
    cfg.no_trainer = False
    with pytest.raises(ConfigError, match="--no_trainer true"):
        check_online_config(cfg)


def test_online_prover_runs_the_floor_without_a_checkpoint(tmp_path):
    """The prover actor's class (no Ray here) with --expander uniform: no checkpoint, critic pairs reported."""
    import time

    from hyperprover.provers.actor import Job, ProverWorker

    cfg = OnlineConfig()
    cfg.expander, cfg.no_trainer, cfg.device = "uniform", True, "cpu"
    cfg.search.n_expansions, cfg.search.early_stop, cfg.decoding.n_samples = 30, True, 1000
    worker = ProverWorker(0, cfg, "", str(tmp_path), keep_samples=False)
    goal = make_env("eq").parse_goal("(x0 + 0) * 1 == x0")
    from hyperprover.envs.base import Theorem

    worker.submit([Job(1, "file:1", "file", theorem=Theorem("file:1", goal, "file"))])
    worker.set_weights(1, {})  # a floor has no weights: the update is taken and ignored
    results = []
    deadline = time.time() + 60
    while not results and time.time() < deadline:
        reply = worker.poll()
        assert reply.error is None, reply.error
        results += reply.results
        time.sleep(0.05)
    (res,) = results
    assert res.proved and res.label == "file:1" and res.critic_pairs
    assert {c for c, _ in res.critic_pairs} == {0.5}

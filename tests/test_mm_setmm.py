"""The Metamath env on the real set.mm (Debian metamath-databases): splits, human-proof replay, export.

Fast: a fixed sample of 150 theorems replayed through the backward env and re-verified (set.mm loads
from the pickle cache in ~2 s after the first run). Slow: the full verifier run, a 3,000-theorem
sample, every theorem, and C-verified exports."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from hyperprover.envs.base import ProofError
from hyperprover.envs.metamath.cli import check_main
from hyperprover.envs.metamath.config import SET_MM
from hyperprover.envs.metamath.env import MetamathEnv, make_env
from hyperprover.envs.metamath.proofs import replay, snippet, to_metamath

pytestmark = pytest.mark.skipif(not os.path.exists(SET_MM), reason="set.mm missing: apt-get install metamath-databases")


@pytest.fixture(scope="module")
def env() -> MetamathEnv:
    return make_env()


def sample(env: MetamathEnv, n: int, seed: int = 7) -> list[str]:
    labels = [a.label for a in env.db.assertions.values() if a.kind == "p"]
    return random.Random(seed).sample(labels, n)


def replay_all(env: MetamathEnv, labels: list[str]) -> list[str]:
    failed = []
    for lab in labels:
        try:
            env.check_proof(replay(env, lab))
        except Exception as e:  # collect every failure for the message
            failed.append(f"{lab}: {e}")
    return failed


def test_splits_of_set_mm(env: MetamathEnv) -> None:
    s = env.splits
    assert (len(s.valid), len(s.test)) == (1000, 1000)
    assert len(s.train) + 2000 == 37759  # every $p of the 2020-12-28 set.mm is proved
    assert not set(s.valid) & set(s.test) and not set(s.train) & (set(s.valid) | set(s.test))
    assert all(env.db.assertions[x].kind == "p" for x in s.valid)
    th = env.theorems("valid")[0]
    mask = env.allowed_labels_mask(th, ["ax-mp", th.label[3:], "pm2.43", "|-"])
    assert mask == [True, False, env.db.assertions["pm2.43"].index < th.meta["index"], True]


def test_the_region_recipe_attempts_one_band_of_set_mm_and_holds_out_its_own_valid_fold(env: MetamathEnv) -> None:
    """sweeps/online_mcts_mm_region_local.json names its theorems by position in the splits: they must be the
    band of set.mm between assertions 1,600 and 4,500 (where the supervised model proves 38 of 70 test
    theorems at 50 s and the floor 23, docs/metamath.md), and the held-out fold must never be attempted."""
    from hyperprover.config import load_config
    from hyperprover.envs.base import split_theorems
    from hyperprover.online.config import OnlineConfig
    from hyperprover.online.label_sampler import parse_split_props
    from hyperprover.sweep import SweepConfig, job_argv, load_sweep

    path = Path(__file__).parents[1] / "sweeps" / "online_mcts_mm_region_local.json"
    cfg = load_config(OnlineConfig, job_argv(load_sweep(path)[0], SweepConfig(), path.stem)[1:])
    attempted = [t for split in parse_split_props(cfg.data_src_props) for t in split_theorems(env, split)]
    held_out = split_theorems(env, cfg.async_eval_split)
    assert (len(attempted), len(held_out)) == (175, 42) and cfg.async_eval_n == len(held_out)
    assert not {t.label for t in attempted} & {t.label for t in held_out}
    assert all(1600 <= t.meta["index"] < 4500 for t in attempted + held_out)
    assert {t.split for t in held_out} == {"valid"}


def test_replay_fixed_sample_of_human_proofs(env: MetamathEnv) -> None:
    assert replay_all(env, sample(env, 150)) == []


def test_syntax_theorems_have_no_human_steps(env: MetamathEnv) -> None:
    """set.mm proves three `wff` statements with `$p`; they sit in the train split, and reading backward steps
    off them stopped an online trainer with a KeyError when its human-step stream reached one (session 33)."""
    from hyperprover.envs.metamath.data import theorem_pairs
    from hyperprover.envs.metamath.proofs import human_steps

    syntax = [x for x in env.splits.train if env.grammar.is_syntactic(env.db.assertions[x].stmt[0])]
    assert sorted(syntax) == ["bj-0", "wel", "weq"]
    assert all(human_steps(env, x) == [] and theorem_pairs(env, x) == [] for x in syntax)
    with pytest.raises(ProofError, match="no step proves 'wff"):
        replay(env, "bj-0")


@pytest.mark.slow
def test_replay_3000_theorems(env: MetamathEnv) -> None:
    assert replay_all(env, sample(env, 3000, seed=11)) == []


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~12 min alone on 2 cores (session 33): more than the suite's 600 s
def test_replay_every_theorem(env: MetamathEnv) -> None:
    labels = [a.label for a in env.db.assertions.values() if a.kind == "p" and not env.grammar.is_syntactic(a.stmt[0])]
    assert replay_all(env, labels) == []


@pytest.mark.slow
def test_check_command_verifies_set_mm() -> None:
    assert check_main([SET_MM, "--quiet"]) == 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("metamath") is None, reason="the C metamath program is not installed")
def test_exported_set_mm_proofs_verify_in_c(env: MetamathEnv, tmp_path: object) -> None:
    folder = str(tmp_path)
    os.symlink(SET_MM, os.path.join(folder, "set.mm"))
    labels = sample(env, 20, seed=3) + ["pm2.43", "19.21v", "sbcied"]
    parts = [snippet(env, to_metamath(env, replay(env, lab)), label=f"hp.{i}") for i, lab in enumerate(labels)]
    with open(os.path.join(folder, "found.mm"), "w") as f:
        f.write("$[ set.mm $]\n" + "\n".join(parts))
    r = subprocess.run(["metamath", "read found.mm", "verify proof hp.*", "exit"], cwd=folder,
                       capture_output=True, text=True, timeout=300)
    assert "?Error" not in r.stdout and "?Warning" not in r.stdout, r.stdout[-2000:]

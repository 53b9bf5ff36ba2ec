"""A formal system outside hyperprover (tests/tiny_system) joins through $HYPERPROVER_SYSTEMS alone: train, eval
and online --no_trainer run on it, with its `--tiny.*` options, and nothing else is changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def hyperprover(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYPERPROVER_SYSTEMS": "tiny_system",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "hyperprover.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_system_from_outside_trains_evaluates_and_runs_online(tmp_path: Path) -> None:
    dump = str(tmp_path)
    hyperprover("train", "--dump_path", dump, "--exp_name", "tiny", "--exp_id", "m", "--tasks",
                "tiny_x2y_goal--tactic_seq2seq", "--tiny.max_n", "48", "--model.emb_dim", "32", "--model.n_layers",
                "1", "--model.n_heads", "2", "--num_workers", "0", "--eval_size", "64", "--batch.size", "16",
                "--optimizer", "adam,lr=0.003", "--cpu_threads", "1", "--epoch_size", "1600", "--max_epoch", "3",
                "--validation_metrics", "valid-tiny_x2y_goal--tactic_seq2seq-tok-acc")
    logs = [json.loads(line.split("__log__:", 1)[1]) for line in (tmp_path / "tiny" / "m" / "train.log").read_text()
            .splitlines() if "__log__:" in line]
    assert logs[-1]["valid-tiny_x2y_goal--tactic_seq2seq-tok-acc"] > 90  # zero, half or dec: learnable at once
    model = str(tmp_path / "tiny" / "m" / "checkpoint.pth")
    common = ["--env", "tiny", "--tiny.max_n", "48", "--reload_model", model, "--dump_path", dump,
              "--prover", "bfs", "--search.n_expansions", "12", "--decoding.n_samples", "4", "--torch_threads", "1"]
    hyperprover("eval", *common, "--split", "valid", "--exp_id", "e")
    evals = records(tmp_path / "eval" / "e" / "eval_results.jsonl")
    assert sorted(r["label"] for r in evals) == [f"tiny:{n}" for n in (16, 24, 32, 40, 48, 8)]
    assert all(r["proved"] for r in evals)  # the model's halving proofs fit in 12 expansions
    hyperprover("online", *common, "--no_trainer", "true", "--data_src_props", "train:1", "--n_provers", "1",
                "--n_simultaneous_proofs", "2", "--max_proofs", "6", "--stats_freq", "1", "--trainer.eval_splits", "",
                "--async_bwd_eval_freq", "0", "--exp_id", "o")
    online = records(tmp_path / "online" / "o" / "mcts_results.jsonl")
    assert len(online) == 6 and all(r["label"].startswith("tiny:") for r in online)
    assert sum(r["proved"] for r in online) >= 5


@pytest.mark.parametrize("bad", ["no_such_package", "json"])
def test_a_package_that_is_no_system_is_named(bad: str) -> None:
    env = {**os.environ, "HYPERPROVER_SYSTEMS": bad}
    done = subprocess.run([sys.executable, "-m", "hyperprover.cli", "eval", "--env", "eq"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode != 0
    assert f"{bad}: not a hyperprover system package" in done.stderr
    assert "Traceback" not in done.stderr

"""Online runs in pieces on Metamath and Coq: a run stopped and started again with the same `--exp_id` goes on
without losing or repeating an attempt, its run time and model versions go on counting, and a prover survives a
coqtop that dies under it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("ray")

from hyperprover.experiment import parse_log_lines  # noqa: E402
from hyperprover.jsonl import read_jsonl  # noqa: E402
from hyperprover.online.main import main  # noqa: E402
from online_model import untrained_checkpoint  # noqa: E402

DATA = Path(__file__).parent / "data"
needs_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make setup does it)")
PIECE = ["--n_provers", "1", "--n_simultaneous_proofs", "2", "--stats_freq", "1", "--min_reload_time", "0",
         "--search.count_threshold", "0", "--rb.min_len", "2", "--trainer.epoch_size", "8",
         "--trainer.batch.tokens", "400", "--trainer.eval_splits", "", "--async_bwd_eval_freq", "0",
         "--exp_id", "r"]


def leave_finished_eval(run: Path, epoch: int, critic_auc: float) -> None:
    """An async evaluation an earlier piece left behind, as `finished_evals` finds it."""
    done = run / "bwd_prover_eval" / "mm" / "train" / str(epoch)
    done.mkdir(parents=True)
    (done / "results.json").write_text(json.dumps({"proved_rate": 0.5, "critic_auc": critic_auc}))
    (done / "done").touch()


def check_pieces(run: Path, first: list[dict], n_total: int) -> list[dict]:
    """The records of the first piece are kept as they were, none is written twice, a theorem's attempts are
    numbered 1, 2, ... across the pieces, and run time never goes back."""
    both = read_jsonl(run / "mcts_results.jsonl")
    assert both[: len(first)] == first and len(both) == n_total
    assert len({r["job_id"] for r in both}) == n_total
    per_label = Counter(r["label"] for r in both)
    assert sorted((r["label"], r["attempt"]) for r in both) == sorted(
        (label, k) for label, n in per_label.items() for k in range(1, n + 1))
    times = [d["time_s"] for d in parse_log_lines(run / "controller.log") if "launcher_stats/n_recorded" in d]
    assert times == sorted(times)
    return both


def test_metamath_online_run_resumes_exactly_once(tmp_path: Path) -> None:
    from hyperprover.envs.base import make_env
    from hyperprover.envs.metamath.data import vocabulary

    good = str(DATA / "mm" / "good.mm")
    ckpt = untrained_checkpoint(tmp_path / "start.pth", vocabulary(make_env("mm", database=good)))
    argv = ["--env", "mm", "--mm.database", good, "--reload_model", str(ckpt), "--dump_path", str(tmp_path),
            "--data_src_props", "train:1", "--prover", "bfs", "--search.n_expansions", "8",
            "--decoding.n_samples", "0", "--decoding.score_enumerated", "true", "--decoding.applicable_only", "true",
            "--trainer.tasks", "mm_mcts_tactic,mm_mcts_critic", "--search.no_critic", "true",
            "--critic_from_auc", "0.7", *PIECE, "--async_bwd_eval_freq", "1000", "--async_eval_split", "train"]
    assert main([*argv, "--max_proofs", "12"]) == 0
    run = tmp_path / "online" / "r"
    first = read_jsonl(run / "mcts_results.jsonl")
    assert len(first) == 12 and any(r["proved"] for r in first)
    assert (run / "trainer" / "checkpoint.pth").is_file(), "the first piece ended before a trainer epoch"
    assert all("no_critic" not in r["params"] for r in first)  # no evaluation yet: the critic stays off
    kinds = Counter(json.loads(line)["type"] for line in (run / "trainer" / "replay.jsonl").read_text().splitlines())
    assert kinds["tactic"] > 0 and kinds["critic"] > 0
    # an async evaluation the first piece left behind found the critic good: the second piece steers with it
    leave_finished_eval(run, 3, 0.8)
    assert main([*argv, "--max_proofs", "24"]) == 0  # --max_proofs counts the whole run
    both = check_pieces(run, first, 24)
    train_log = (run / "trainer" / "train.log").read_text()
    assert "resumed from" in train_log
    # the second piece's trainer starts with the first piece's samples in its buffers, not with empty ones
    assert f"{kinds['tactic']} tactic and {kinds['critic']} critic samples of the earlier pieces" in train_log
    # model versions are trainer epochs: the second piece goes on numbering, and its provers search with the
    # resumed weights from its first attempt on
    resumed_at = int(train_log.split("resumed from")[1].split("epoch ")[1].split(",")[0])
    assert resumed_at >= 1 and min(r["version"] for r in both[12:]) >= resumed_at
    assert all(r["params"].get("no_critic") is False for r in both[12:])
    logs = (run / "controller.log").read_text()
    assert "HTPS steers with the critic from now on: the epoch 3 async evaluation" in logs
    assert "the label sampler goes on from the 12 attempts of the earlier pieces" in logs
    assert "async_eval/train/proved_rate" not in logs  # an earlier piece's evaluation is not logged again
    # a later evaluation finds the critic back at chance: the third piece searches without it
    leave_finished_eval(run, 4, 0.5)
    assert main([*argv, "--max_proofs", "30"]) == 0
    third = check_pieces(run, both, 30)[24:]
    assert third and all("no_critic" not in r["params"] for r in third)
    assert "HTPS steers without the critic again: the epoch 4 async evaluation measured its ROC-AUC at 0.500" in (
        run / "controller.log").read_text()


def test_an_online_trainer_measures_the_human_steps_it_does_not_train_on(tmp_path: Path) -> None:
    """The mix A/B (sweeps/online_mix_ab_mm_local.json) compares its arms on the human steps of held-out theorems,
    also in the arm that trains on search samples only: there they are a `--trainer.no_train` task."""
    from hyperprover.envs.base import make_env
    from hyperprover.envs.metamath.data import vocabulary

    good = str(DATA / "mm" / "good.mm")
    ckpt = untrained_checkpoint(tmp_path / "start.pth", vocabulary(make_env("mm", database=good)))
    human = "mm_x2y_goal--tactic_seq2seq"
    argv = ["--env", "mm", "--mm.database", good, "--reload_model", str(ckpt), "--dump_path", str(tmp_path),
            "--data_src_props", "train:1", "--prover", "bfs", "--search.n_expansions", "8",
            "--decoding.n_samples", "0", "--decoding.score_enumerated", "true", "--decoding.applicable_only", "true",
            "--search.no_critic", "true", *PIECE, "--trainer.tasks", f"mm_mcts_tactic,mm_mcts_critic,{human}",
            "--trainer.tasks_weight", "2,1,1", "--trainer.no_train", human, "--trainer.eval_splits", "train",
            "--trainer.eval_freq", "1", "--max_time", "15"]
    assert main(argv) == 0
    scores = [d for d in parse_log_lines(tmp_path / "online" / "r" / "trainer" / "train.log")
              if f"train-{human}-tok-acc" in d]
    assert scores and scores[0]["epoch"] == 1, "no evaluation of the human steps in train.log"


@pytest.fixture(scope="module")
def coq_library(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The `--coq.*` options of the tests' tiny library (three lemmas: one train, one valid, one test)."""
    from hyperprover.cli import main as cli

    data = tmp_path_factory.mktemp("coq") / "data"
    assert cli(["data", "--env", "coq", "--root", str(DATA), "--dirs", "coq", "--out", str(data)]) == 0
    return ["--coq.library_root", str(DATA), "--coq.library_dirs", "coq", "--coq.data_dir", str(data),
            "--coq.n_valid", "1", "--coq.n_test", "1"]


@needs_coq
def test_coq_online_run_resumes_exactly_once(tmp_path: Path, coq_library: list[str]) -> None:
    from hyperprover.config import load_config
    from hyperprover.envs.coq.data import vocabulary
    from hyperprover.online.config import OnlineConfig

    cfg = load_config(OnlineConfig, ["--env", "coq", *coq_library])
    ckpt = untrained_checkpoint(tmp_path / "start.pth", [*vocabulary(cfg.coq), "intro", "reflexivity", "lia"])
    argv = ["--env", "coq", *coq_library, "--reload_model", str(ckpt), "--dump_path", str(tmp_path),
            "--data_src_props", "train:1,valid:1", "--prover", "bfs", "--search.n_expansions", "4",
            "--decoding.n_samples", "4", "--decoding.max_gen_len", "6", "--trainer.tasks",
            "coq_mcts_tactic,coq_mcts_critic", *PIECE]
    assert main([*argv, "--max_proofs", "6"]) == 0
    run = tmp_path / "online" / "r"
    first = read_jsonl(run / "mcts_results.jsonl")
    assert len(first) == 6
    assert main([*argv, "--max_proofs", "14"]) == 0
    check_pieces(run, first, 14)


@needs_coq
def test_a_prover_survives_coqtops_killed_mid_search(tmp_path: Path, coq_library: list[str]) -> None:
    """Every coqtop is killed every second while the floor's provers search (each tactic is a coqtop call): the
    dead process costs the tactic that was running, coqtop is restarted, the attempts go on and get recorded."""
    stop = threading.Event()
    killed: list[int] = []

    def killer() -> None:
        while not stop.is_set():
            for pid in coqtops():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(1.0)

    argv = ["--env", "coq", *coq_library, "--expander", "uniform", "--no_trainer", "true", "--dump_path",
            str(tmp_path), "--data_src_props", "train:1,valid:1", "--prover", "bfs", "--search.n_expansions", "30",
            "--decoding.n_samples", "64", "--max_proofs", "8", "--max_time", "240", *PIECE]
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        assert main(argv) == 0
    finally:
        stop.set()
        thread.join()
    run = tmp_path / "online" / "r"
    results = read_jsonl(run / "mcts_results.jsonl")
    assert len(results) == 8 and len(killed) >= 3, (len(results), killed)
    logs = parse_log_lines(run / "controller.log")
    assert max(d.get("launcher_stats/n_prover_deaths", 0) for d in logs) == 0  # the prover process never died
    assert any(r["proved"] for r in results)  # coqtop came back between the kills


def coqtops() -> list[int]:
    """Process ids of the coqtop processes of this machine (the test's prover is the only one that runs any)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("coqtop"):
                    out.append(int(pid))
            except OSError:
                continue
    return out

"""Online HTPS training end to end on Ray with a tiny hand-set model (tests/online_model.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("hyperprover.envs.equations.env")

from hyperprover.config import load_config  # noqa: E402
from hyperprover.experiment import parse_log_lines, setup_experiment  # noqa: E402
from hyperprover.jsonl import read_jsonl  # noqa: E402
from hyperprover.online.config import OnlineConfig  # noqa: E402
from hyperprover.online.main import Controller, main  # noqa: E402
from hyperprover.provers.pool import init_ray  # noqa: E402
from online_model import rigged_checkpoint  # noqa: E402

SMALL = ["--search.n_expansions", "12", "--search.succ_expansions", "4", "--search.count_threshold", "0",
         "--search.early_stop", "true", "--decoding.n_samples", "4", "--decoding.max_gen_len", "8",
         "--n_simultaneous_proofs", "2", "--stats_freq", "2", "--data_src_props", "identities:1"]


def test_online_loop_trains_publishes_and_reloads(tmp_path: Path) -> None:
    ckpt = rigged_checkpoint(tmp_path / "start.pth")
    argv = ["--reload_model", str(ckpt), "--dump_path", str(tmp_path), "--exp_id", "run", "--n_provers", "2",
            "--max_time", "60", "--min_reload_time", "0", "--rb.min_len", "8", "--trainer.epoch_size", "24",
            "--trainer.batch.tokens", "400", "--trainer.eval_splits", "", "--trainer.log_network_stats_freq", "5",
            "--async_bwd_eval_freq", "1", "--async_eval_n", "2", *SMALL, "--data_src_props", "identities%4!=3:1"]
    assert main(argv) == 0
    run = tmp_path / "online" / "run"
    for name in ("launcher_params.json", "controller.log", "trainer/train.log", "provers/prover_0.log",
                 "provers/prover_1.log", "mcts_results.jsonl"):
        assert (run / name).is_file(), name
    results = read_jsonl(run / "mcts_results.jsonl")
    assert results, "no attempt recorded"
    ids = [r["job_id"] for r in results]
    assert len(ids) == len(set(ids))
    tries = [(r["label"], r["attempt"]) for r in results]  # attempts of one theorem are numbered (and seeded) apart
    assert len(tries) == len(set(tries))
    assert {"label", "split", "proved", "proof_size", "params", "stats"} <= set(results[0])
    logs = parse_log_lines(run / "controller.log")
    assert logs and max(d.get("data_loader/ingress", 0) for d in logs) > 0, "no sample reached the trainer"
    assert max(d.get("trainer/version", 0) for d in logs) >= 1, "no model version published"
    assert max(r["version"] for r in results) >= 1, "no prover picked up a new model version"
    assert any("launcher_stats/solved_labels_acc_identities%4!=3" in d for d in logs)
    held_out = {f"identities:{i}" for i in range(3, 160, 4)}  # the fold the run must never attempt
    assert not held_out & {r["label"] for r in results}
    times = [d["time_s"] for d in logs if "launcher_stats/n_recorded" in d]  # plotted against run time
    assert times == sorted(times) and times[-1] > 0
    assert any("async_eval/identities/proved_rate" in d and d["time_s"] > 0 for d in logs)  # plotted over time
    assert any(run.glob("tensorboard/events.*"))
    evals = list((run / "bwd_prover_eval" / "eq" / "identities").glob("*/done"))
    assert evals, "no async evaluation finished"
    res = json.loads((evals[0].parent / "results.json").read_text())
    assert res["n_theorems"] == 2 and (evals[0].parent / "checkpoint.pth").is_file()


def test_killed_prover_restarts_and_its_theorems_are_attempted_again(tmp_path: Path) -> None:
    import ray

    ckpt = rigged_checkpoint(tmp_path / "start.pth")
    cfg = load_config(OnlineConfig, ["--reload_model", str(ckpt), "--dump_path", str(tmp_path), "--exp_id", "k",
                                     "--n_provers", "2", "--no_trainer", "true", "--max_proofs", "40",
                                     "--max_time", "80", *SMALL])
    exp = setup_experiment(cfg, "online", log_name="controller.log")
    init_ray("", 4, False)
    ctl = None
    try:
        ctl = Controller(cfg, exp)
        worker = threading.Thread(target=ctl.run)
        worker.start()
        victim = ctl.pool.provers[0]
        pid = ray.get(victim.actor.pid.remote())
        # the controller thread hands out and collects jobs meanwhile: kill only while the victim holds some
        # (CI once read an empty hand between two of its batches)
        held: set[int] = set()
        deadline = time.time() + 40
        while (ctl.n_recorded < 6 or not held) and time.time() < deadline:
            time.sleep(0.05)
            held = set(victim.in_flight)
        os.kill(pid, signal.SIGKILL)
        worker.join(timeout=90)
        assert not worker.is_alive()
        assert ctl.pool.n_prover_deaths >= 1 and ctl.pool.n_requeued >= 1
        assert ray.get(victim.actor.pid.remote()) != pid, "the prover was not restarted"
    finally:
        if ctl is not None:
            ctl.close()
        exp.close()
        ray.shutdown()
    results = read_jsonl(exp.path / "mcts_results.jsonl")
    ids = [r["job_id"] for r in results]
    assert len(results) == 40 and len(ids) == len(set(ids)), "duplicate attempts"
    recorded = set(ids)
    assert held and held & recorded, "the killed prover's theorems were not attempted again"
    # every job the provers were given and that finished is recorded: the ids are 1..max without holes,
    # except jobs still in flight when the run stopped
    holes = set(range(1, max(ids) + 1)) - recorded
    assert len(holes) <= 2 * 2 * cfg.n_simultaneous_proofs


def test_trainer_death_stops_the_run_with_a_clear_message(tmp_path: Path) -> None:
    import ray

    from hyperprover.online.main import TrainerDied

    ckpt = rigged_checkpoint(tmp_path / "start.pth")
    cfg = load_config(OnlineConfig, ["--reload_model", str(ckpt), "--dump_path", str(tmp_path), "--exp_id", "t",
                                     "--n_provers", "1", "--max_time", "60", "--rb.min_len", "100000",
                                     "--rb.max_len", "100000", "--trainer.eval_splits", "", *SMALL])
    exp = setup_experiment(cfg, "online", log_name="controller.log")
    init_ray("", 4, False)
    ctl = None
    try:
        ctl = Controller(cfg, exp)
        ray.kill(ctl.trainer, no_restart=True)
        start = time.time()
        with pytest.raises(TrainerDied, match="trainer actor died"):
            ctl.run()
        assert time.time() - start < 30
    finally:
        if ctl is not None:
            ctl.close()
        exp.close()
        ray.shutdown()


def test_embedded_ray_is_its_own_whatever_runs_on_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --ray.address the run starts its own instance: RAY_ADDRESS (or a `ray start` cluster, which Ray
    finds the same way) must not make it attach elsewhere, where num_cpus is refused."""
    import ray

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # nothing listens there
    init_ray("", 2, False)
    try:
        assert ray.cluster_resources().get("CPU") == 2
    finally:
        ray.shutdown()

"""Data-parallel `hyperprover train` on CPU (gloo): 2 processes match 1, ranks agree on every decision,
rank 0 alone writes the run folder, and a stopped 2-process run resumes on both ranks."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import json
import os
import random
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from hyperprover.config import ConfigError
from hyperprover.experiment import parse_log_lines
from hyperprover.model.checkpoint import load_checkpoint, model_from_state
from hyperprover.sweep import SweepConfig, check_processes, load_sweep, slurm_parameters
from hyperprover.train.batching import Batch, collate, eval_batches
from hyperprover.train.config import BatchConfig, TrainConfig
from hyperprover.train.distributed import SINGLE, Dist, launch_env, setup_ranked_experiment
from hyperprover.train.main import main as train_main
from hyperprover.train.metrics import evaluate_batches, forward_loss
from hyperprover.train.tasks import Record, Seq2SeqRecord, Task, file_task
from hyperprover.train.trainer import Trainer, data_seed

DIGITS = [str(i) for i in range(10)]
K = 3  # optimizer updates compared between 1 and 2 processes
ACCUMULATE = 2
FULL = 8  # sequences of the one-process batch; each rank gets half


def _reverse_task() -> Task:
    def train(seed: int) -> Iterator[Record]:
        rng = random.Random(seed)
        while True:
            x = tuple(rng.choice(DIGITS) for _ in range(rng.randint(2, 6)))
            yield Seq2SeqRecord(x, tuple(reversed(x)))

    return Task("toy_reverse", "seq2seq", train, lambda split, n: [], vocabulary=lambda: DIGITS)


def _fixed_batches(trainer: Trainer) -> list[Batch]:
    """K * ACCUMULATE full batches of FULL sequences, all of the same length: each half then holds as many
    target tokens as the other, and the mean of the halves' mean losses is the full batch's mean loss."""
    rng = random.Random(0)
    out = []
    for _ in range(K * ACCUMULATE):
        recs = [tuple(rng.choice(DIGITS) for _ in range(5)) for _ in range(FULL)]
        items = [(trainer.dico.encode(r).ids, trainer.dico.encode(tuple(reversed(r))).ids) for r in recs]
        out.append(collate("seq2seq", items, trainer.dico))
    return out


def _half(batch: Batch, rank: int) -> Batch:
    rows = slice(rank * FULL // 2, (rank + 1) * FULL // 2)
    assert batch.dec_in is not None and batch.dec_pos is not None and batch.target is not None
    return dataclasses.replace(batch, x=batch.x[rows], dec_in=batch.dec_in[rows], dec_pos=batch.dec_pos[rows],
                               target=batch.target[rows], n_seqs=FULL // 2, n_tokens=batch.n_tokens // 2)


def _trainer(dist: Dist, tmp: Path) -> Trainer:
    cfg = TrainConfig(dump_path=str(tmp), exp_name="t", exp_id="fixed", tasks="toy_reverse", num_workers=0,
                      eval_splits="", optimizer="sgd,lr=0.5", accumulate_gradients=ACCUMULATE, cpu_threads=1,
                      vocab_samples=50)
    cfg.model.emb_dim, cfg.model.n_layers, cfg.model.n_heads = 32, 1, 2
    torch.manual_seed(cfg.seed)
    exp = setup_ranked_experiment(cfg, "train", dist)
    return Trainer(cfg, exp, {"toy_reverse": _reverse_task()}, torch.device("cpu"), dist=dist)


def _train_fixed(dist: Dist, tmp: Path) -> dict[str, Any]:
    """K updates on the fixed batches (a rank trains on its half of each), then the full batches' loss."""
    trainer = _trainer(dist, tmp)
    batches = _fixed_batches(trainer)
    for full in batches:
        trainer._step(_half(full, dist.rank) if dist.enabled else full)
        trainer.counters.n_iter += 1
    with torch.no_grad():
        trainer.model.eval()
        loss = sum(float(forward_loss(trainer.model, b, trainer.dico)[0]) for b in batches) / len(batches)
    return {"trainer": trainer, "loss": loss, "updates": trainer.counters.n_updates,
            "params": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}}


def _poisoned_steps(trainer: Trainer, batch: Batch, rank: int) -> list[int]:
    """Updates after: a non-finite loss on rank 1 only, a non-finite gradient norm on rank 1 only (both must
    skip the update on both ranks), then a clean update."""
    assert batch.target is not None
    done = []

    def micro(b: Batch) -> None:
        trainer._step(b)
        trainer.counters.n_iter += 1

    micro(batch)
    # an all-pad target leaves no token to average over: the loss is NaN
    micro(dataclasses.replace(batch, target=torch.full_like(batch.target, trainer.dico.pad)) if rank else batch)
    done.append(trainer.counters.n_updates)
    real = torch.nn.utils.clip_grad_norm_

    def inf_norm(params: Any, max_norm: float) -> torch.Tensor:
        real(params, max_norm)
        return torch.tensor(float("inf"))

    micro(batch)
    torch.nn.utils.clip_grad_norm_ = inf_norm if rank else real  # type: ignore[assignment]
    try:
        micro(batch)
    finally:
        torch.nn.utils.clip_grad_norm_ = real
    done.append(trainer.counters.n_updates)
    micro(batch)
    micro(batch)
    done.append(trainer.counters.n_updates)
    return done


def _worker(rank: int, world: int, tmp: Path) -> None:
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"file://{tmp / 'rendezvous'}", rank=rank, world_size=world,
                             timeout=datetime.timedelta(seconds=60))  # a hang fails the test in a minute
    try:
        dist = Dist(rank, world, rank)
        got = _train_fixed(dist, tmp)
        trainer = got.pop("trainer")
        got["first_batch"] = next(trainer._loaders()["toy_reverse"]).x
        got["guarded"] = _poisoned_steps(trainer, _half(_fixed_batches(trainer)[0], rank), rank)
        got["params_end"] = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        torch.save(got, tmp / f"rank{rank}.pt")
    finally:
        tdist.destroy_process_group()


def test_two_processes_match_one_and_take_the_same_decisions(tmp_path: Path) -> None:
    (tmp_path / "ddp").mkdir()
    mp.spawn(_worker, args=(2, tmp_path / "ddp"), nprocs=2, join=True)
    one = _train_fixed(SINGLE, tmp_path / "single")
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt") for r in range(2)]
    # same global batch, gradients averaged over the halves: the same weights up to float summation order
    assert one["updates"] == ranks[0]["updates"] == ranks[1]["updates"] == K
    for name, ref in one["params"].items():
        for r in range(2):
            assert torch.allclose(ranks[r]["params"][name], ref, atol=1e-5, rtol=1e-4), (name, r)
    for r in range(2):
        assert abs(ranks[r]["loss"] - one["loss"]) < 1e-5
    assert one["loss"] < _initial_loss(tmp_path / "fresh")  # the updates did change the model
    # a non-finite loss or gradient norm on rank 1 alone skips the update on both ranks, with no hang
    assert ranks[0]["guarded"] == ranks[1]["guarded"] == [K, K, K + 1]
    for name, p0 in ranks[0]["params_end"].items():
        assert torch.equal(p0, ranks[1]["params_end"][name]), name
    # each rank draws its own data
    assert not torch.equal(ranks[0]["first_batch"], ranks[1]["first_batch"])


def _initial_loss(tmp: Path) -> float:
    trainer = _trainer(SINGLE, tmp)
    with torch.no_grad():
        trainer.model.eval()
        return sum(float(forward_loss(trainer.model, b, trainer.dico)[0]) for b in _fixed_batches(trainer)) / (
            K * ACCUMULATE)


def test_data_seed_per_rank() -> None:
    # rank 0 keeps the seed of a single-process run: existing runs resume on the same data streams
    assert data_seed(5, "t", 3) == data_seed(5, "t", 3, rank=0) == zlib.crc32(b"5/t/3") % 2**31
    seeds = {data_seed(5, "t", 3, rank=r) for r in range(8)}
    assert len(seeds) == 8


def test_world_without_master_address(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    for var, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    assert train_main(["--dump_path", str(tmp_path), "--tasks", "latex_mass", "--device", "cpu"]) == 2
    assert "WORLD_SIZE=2 but MASTER_ADDR is not set; launch data-parallel training with `torchrun" in \
        capsys.readouterr().err
    assert not (tmp_path / "default").exists()


def test_launch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert launch_env({}) == SINGLE
    assert launch_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Dist(1, 4, 1)
    with pytest.raises(ConfigError, match="RANK=4 with WORLD_SIZE=4"):
        launch_env({"RANK": "4", "WORLD_SIZE": "4"})
    assert launch_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) == SINGLE  # one task: no process group
    # the second task of a `srun --ntasks 2` step: submitit turns SLURM's variables into torchrun's
    slurm = {"SLURM_JOB_ID": "77", "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NTASKS": "2",
             "SLURM_JOB_NUM_NODES": "1", "SLURM_NODEID": "0", "SLURM_JOB_NODELIST": "node7", "SLURM_STEP_ID": "0"}
    # the batch script of a two-task job is no rank: a bare `hyperprover train` there runs alone
    for batch in ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, {"SLURM_PROCID": "0", "SLURM_NTASKS": "2",
                                                               "SLURM_STEP_ID": "4294967294"}):
        assert launch_env(batch) == SINGLE
    if importlib.util.find_spec("submitit") is not None:
        monkeypatch.setattr(os, "environ", dict(slurm))
        assert launch_env() == Dist(1, 2, 1)
        assert os.environ["MASTER_ADDR"] == "node7" and os.environ["RANK"] == "1"
    # a SLURM step of several tasks without submitit says how to launch instead
    monkeypatch.setitem(sys.modules, "submitit.helpers", None)
    with pytest.raises(ConfigError, match="torchrun --nproc_per_node"):
        launch_env({"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_STEP_ID": "0"})


# ------------------------------------------------------------------------------------- torchrun end to end


def _write_task_data(folder: Path) -> None:
    rng = random.Random(0)
    folder.mkdir()
    for split, n in (("train", 200), ("valid", 24)):
        with open(folder / f"eq_mcts_tactic.{split}.jsonl", "w") as f:
            for _ in range(n):
                x = [rng.choice(DIGITS) for _ in range(rng.randint(2, 6))]
                f.write(json.dumps({"x": x, "y": x[::-1]}) + "\n")


def _torchrun(tmp: Path, *args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "hyperprover.cli", "train", "--dump_path", str(tmp), "--exp_name", "t",
           "--tasks", "eq_mcts_tactic", "--vocab_samples", "100", "--epoch_size", "96", "--batch.tokens", "200",
           "--eval_splits", "valid", "--eval_size", "24", "--validation_metrics", "valid-eq_mcts_tactic-tok-acc",
           "--model.emb_dim", "32", "--model.n_layers", "1", "--model.n_heads", "2", "--num_workers", "0",
           "--cpu_threads", "1", "--optimizer", "adam,lr=0.003", *args]
    env = {**os.environ, "HYPERPROVER_TASK_DATA": str(tmp / "data"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert (done.returncode == 0) == (rc == 0), done.stderr[-3000:]
    return done


def test_torchrun_rank0_writes_the_folder_and_both_ranks_resume(tmp_path: Path) -> None:
    _write_task_data(tmp_path / "data")
    # no --exp_id: rank 0 names the folder for both; a tiny --max_time_min stops after one epoch
    _torchrun(tmp_path, "--max_epoch", "3", "--max_time_min", "0.00001")
    (run,) = (tmp_path / "t").iterdir()
    names = sorted(p.name for p in run.iterdir())
    assert names == ["best-valid-eq_mcts_tactic-tok-acc.pth", "checkpoint.pth", "params.json", "tensorboard",
                     "train.log"]
    assert len(list((run / "tensorboard").iterdir())) == 1
    log = (run / "train.log").read_text()
    assert log.count("hyperprover train in") == 1 and "all 2 ranks start at epoch 0, 0 iterations" in log
    assert log.count("--max_time_min 1e-05 reached") == 1
    state = load_checkpoint(run / "checkpoint.pth")
    c = state["counters"]
    assert c["epoch"] == 1 and c["n_sequences"] >= 96
    # rank 0 evaluated the whole valid set with the epoch's weights: one process gets the same figure
    (scores,) = parse_log_lines(run / "train.log")
    model, dico = model_from_state(state)
    task = file_task("eq_mcts_tactic", "seq2seq", tmp_path / "data")
    valid = eval_batches(task, task.split("valid", 24), dico, BatchConfig())
    mine = evaluate_batches(model, valid, dico, torch.device("cpu"))
    assert scores["valid-eq_mcts_tactic-tok-acc"] == pytest.approx(mine["tok-acc"], abs=1e-9)

    # a second launch resumes both ranks from rank 0's checkpoint and runs one more epoch
    _torchrun(tmp_path, "--exp_id", run.name, "--max_epoch", "2")
    log = (run / "train.log").read_text()
    assert log.count(f"resumed from {run / 'checkpoint.pth'}: epoch 1, {c['n_iter']} iterations") == 1
    assert f"all 2 ranks start at epoch 1, {c['n_iter']} iterations, {c['n_updates']} updates" in log
    assert [d["epoch"] for d in parse_log_lines(run / "train.log")] == [1, 2]
    assert load_checkpoint(run / "checkpoint.pth")["counters"]["epoch"] == 2
    assert len(list((run / "tensorboard").iterdir())) == 2  # one events file per launch, both from rank 0

    # rank 0 refuses a resume with another --seed: every rank stops (none waits for the others)
    done = _torchrun(tmp_path, "--exp_id", run.name, "--max_epoch", "3", "--seed", "1", rc=2)
    assert done.stderr.count("was run with --seed 0; this run has --seed 1") == 2


# ------------------------------------------------------------------------------------- sweeps on SLURM


def test_sweep_slurm_processes(tmp_path: Path) -> None:
    cfg = SweepConfig(launcher="slurm")
    cfg.slurm.nodes, cfg.slurm.tasks_per_node, cfg.slurm.gpus_per_node = 2, 8, 8
    params = slurm_parameters(cfg.slurm)
    assert params["nodes"] == 2 and params["tasks_per_node"] == 8 and params["gpus_per_node"] == 8
    (tmp_path / "s.json").write_text(json.dumps({"command": ["online"], "seed": [0]}))
    with pytest.raises(ConfigError, match="only train jobs run data-parallel, not online"):
        check_processes(cfg, load_sweep(tmp_path / "s.json"))
    with pytest.raises(ConfigError, match="need --launcher slurm"):
        check_processes(SweepConfig(launcher="local", slurm=cfg.slurm), [])
    cfg.slurm.gpus_per_node = 1  # eight tasks would all train on cuda:0
    with pytest.raises(ConfigError, match="one GPU per task"):
        check_processes(cfg, [])
    cfg.slurm.gpus_per_node = 0  # CPU tasks
    check_processes(cfg, [])

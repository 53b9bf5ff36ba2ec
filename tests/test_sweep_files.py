"""Every shipped sweep file expands, and every job's options parse with its command's config."""

from pathlib import Path

import pytest

from hyperprover.config import load_config
from hyperprover.sweep import SweepConfig, job_argv, load_sweep

SWEEPS = sorted((Path(__file__).parent.parent / "sweeps").glob("*.json"))


def schema(command):
    if command == "train":
        from hyperprover.train.config import TrainConfig

        return TrainConfig
    if command == "eval":
        from hyperprover.evaluation.main import EvalConfig

        return EvalConfig
    if command == "online":
        from hyperprover.online.config import OnlineConfig

        return OnlineConfig
    raise AssertionError(f"no schema for {command}")


def test_sweeps_are_shipped():
    names = {p.stem for p in SWEEPS}
    assert {"supervised_eq", "supervised_eq_local", "pretrain_latex", "pretrain_latex_local", "supervised_mm",
            "supervised_mm_local", "supervised_sr", "supervised_sr_local"} <= names


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_job_parses(path):
    jobs = load_sweep(path)
    assert jobs
    for job in jobs:
        argv = job_argv(job, SweepConfig(), path.stem)
        load_config(schema(argv[0]), argv[1:])

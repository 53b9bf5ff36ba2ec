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


def checkpoint_written(command, cfg):
    """Where a train or online job leaves the model another sweep may reload (None: it leaves none)."""
    run = Path(cfg.dump_path) / cfg.exp_name / cfg.exp_id
    return {"train": run / "checkpoint.pth", "online": run / "trainer" / "checkpoint.pth"}.get(command)


def test_reloaded_models_are_those_other_sweeps_write():
    """A sweep that reloads another sweep's model must name a folder that sweep's jobs really write: job ids
    are hashes of the options unless a sweep fixes them, so a path copied from one run goes stale silently."""
    jobs = {p.stem: [job_argv(j, SweepConfig(), p.stem) for j in load_sweep(p)] for p in SWEEPS}
    configs = {name: [(a[0], load_config(schema(a[0]), a[1:])) for a in argvs] for name, argvs in jobs.items()}
    written = {checkpoint_written(c, cfg) for pairs in configs.values() for c, cfg in pairs} - {None}
    checked = 0
    for name, pairs in configs.items():
        for _, cfg in pairs:
            model = getattr(cfg, "reload_model", "")
            parts = Path(model).parts if model else ()
            producer = parts[1] if len(parts) > 2 else None  # dumped/<another sweep's name>/...
            if producer in configs:
                assert Path(model) in written, f"{name}: --reload_model {model} is written by no job of {producer}"
                checked += 1
    assert checked >= 4  # the eval sweeps of the online models and the online sweep of the supervised one


def test_the_equations_online_recipe_starts_from_the_model_make_run_trains():
    """The guide's path: `make run` (the demo, dump_path ./dumped) trains the model the Equations online recipe
    reloads; renaming the demo's model folder must move the recipe with it."""
    from hyperprover.demo import RECIPES, DemoConfig

    recipe = RECIPES["eq"]
    trained = Path(DemoConfig().dump_path) / recipe.folder / "supervised" / recipe.model / "checkpoint.pth"
    path = next(p for p in SWEEPS if p.stem == "online_mcts_eq_local")
    for job in load_sweep(path):
        argv = job_argv(job, SweepConfig(), path.stem)
        assert Path(load_config(schema(argv[0]), argv[1:]).reload_model) == trained

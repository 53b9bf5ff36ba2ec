"""`hyperprover train`: MASS pretraining, supervised and critic tasks.

    hyperprover train --tasks latex_mass --latex.data_dir DIR --validation_metrics _valid-latex_mass-tok-ppl
    hyperprover train --tasks eq_bwd_rwalk_seq2seq,eq_critic_rwalk_seq2seqtok --no_train eq_critic_rwalk_seq2seqtok
    hyperprover train --config sweeps/... (or `hyperprover sweep sweeps/supervised_eq_local.json`)
    torchrun --nproc_per_node 8 -m hyperprover.cli train ...   (data-parallel: train/distributed.py)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from hyperprover.config import ConfigError, help_text, load_config
from hyperprover.envs.systems import systems
from hyperprover.experiment import check_run_names
from hyperprover.model.checkpoint import CheckpointError
from hyperprover.model.dictionary import DictionaryError
from hyperprover.train.config import PRESETS, TrainConfig, task_weights
from hyperprover.train.distributed import (
    SINGLE,
    Dist,
    init_distributed,
    main_first,
    setup_ranked_experiment,
    shutdown,
)
from hyperprover.train.latex import CorpusError
from hyperprover.train.metrics import parse_metric, parse_stopping
from hyperprover.train.optim import parse_optimizer
from hyperprover.train.tasks import TaskError, make_task
from hyperprover.train.trainer import ReloadError, Trainer

DESCRIPTION = "Train the encoder-decoder on tasks (MASS pretraining, supervised tactics, critic)."
# the options a resumed run must share with its folder's params.json: the model, its data and how it learns
# (a resumed run takes the model and optimizer from checkpoint.pth, whatever these say). Not among them: when
# it stops (max_epoch, max_time_min: the demo extends a run), what it evaluates, how fast or where it runs.
TRAIN_DEFINING = ("model", "tasks", "tasks_weight", "no_train", *systems(), "latex", "batch", "optimizer",
                  "clip_grad_norm", "accumulate_gradients", "label_smoothing_eps", "reload_model", "seed",
                  "env_base_seed", "vocab_samples", "debug")


def check_config(cfg: TrainConfig) -> None:
    """Everything that can be checked before any data is generated."""
    task_weights(cfg)
    parse_optimizer(cfg.optimizer)
    parse_stopping(cfg.stopping_criterion)
    for m in cfg.validation_metrics.split(","):
        if m.strip():
            parse_metric(m, "validation_metrics")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(TrainConfig, "train", DESCRIPTION, PRESETS))
        return 0
    dist = SINGLE
    try:
        cfg = load_config(TrainConfig, argv, PRESETS)
        check_run_names(cfg)
        check_config(cfg)
        dist, device = init_distributed(cfg.device)
        return _train(cfg, argv, dist, device)
    except ConfigError as e:
        print(f"hyperprover train: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown(dist)


def _train(cfg: TrainConfig, argv: list[str], dist: Dist, device: torch.device) -> int:
    exp = setup_ranked_experiment(cfg, "train", dist, argv=argv, defining=TRAIN_DEFINING)
    if cfg.cpu_threads > 0:
        torch.set_num_threads(cfg.cpu_threads)
    torch.manual_seed(cfg.seed)
    try:
        tasks = main_first(lambda: {name: make_task(name, cfg) for name in task_weights(cfg)[0]}, dist, "the tasks")
        trainer = Trainer(cfg, exp, tasks, device, dist=dist)
        counters = trainer.run()
    except (ConfigError, TaskError, CheckpointError, ReloadError, CorpusError, DictionaryError) as e:
        exp.logger.error(str(e))
        print(f"hyperprover train: {e}", file=sys.stderr)
        return 2
    finally:
        exp.close()
    exp.logger.info(f"done: {counters.epoch} epochs, {counters.n_iter} iterations, {counters.n_updates} updates")
    return 0

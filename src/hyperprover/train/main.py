"""`hyperprover train`: MASS pretraining, supervised and critic tasks (spec model_and_training 2-3).

    hyperprover train --tasks latex_mass --latex.data_dir DIR --validation_metrics _valid-latex_mass-tok-ppl
    hyperprover train --tasks eq_bwd_rwalk_seq2seq,eq_critic_rwalk_seq2seqtok --no_train eq_critic_rwalk_seq2seqtok
    hyperprover train --config sweeps/... (or `hyperprover sweep sweeps/supervised_eq_local.json`)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from hyperprover.config import ConfigError, help_text, load_config
from hyperprover.experiment import setup_experiment
from hyperprover.model.checkpoint import CheckpointError
from hyperprover.model.dictionary import DictionaryError
from hyperprover.train.config import PRESETS, TrainConfig, task_weights
from hyperprover.train.latex import CorpusError
from hyperprover.train.metrics import parse_metric, parse_stopping
from hyperprover.train.optim import parse_optimizer
from hyperprover.train.tasks import TaskError, make_task
from hyperprover.train.trainer import ReloadError, Trainer

DESCRIPTION = "Train the encoder-decoder on tasks (MASS pretraining, supervised tactics, critic)."


def check_config(cfg: TrainConfig) -> None:
    """Everything that can be checked before any data is generated."""
    task_weights(cfg)
    parse_optimizer(cfg.optimizer)
    parse_stopping(cfg.stopping_criterion)
    for m in cfg.validation_metrics.split(","):
        if m.strip():
            parse_metric(m, "validation_metrics")


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no GPU is visible; use --device cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(TrainConfig, "train", DESCRIPTION, PRESETS))
        return 0
    try:
        cfg = load_config(TrainConfig, argv, PRESETS)
        check_config(cfg)
        device = pick_device(cfg.device)
    except ConfigError as e:
        print(f"hyperprover train: {e}", file=sys.stderr)
        return 2
    if cfg.cpu_threads > 0:
        torch.set_num_threads(cfg.cpu_threads)
    exp = setup_experiment(cfg, "train", argv=argv)
    torch.manual_seed(cfg.seed)
    try:
        tasks = {name: make_task(name, cfg) for name in task_weights(cfg)[0]}
        trainer = Trainer(cfg, exp, tasks, device)
        counters = trainer.run()
    except (ConfigError, TaskError, CheckpointError, ReloadError, CorpusError, DictionaryError) as e:
        exp.logger.error(str(e))
        print(f"hyperprover train: {e}", file=sys.stderr)
        return 2
    finally:
        exp.close()
    exp.logger.info(f"done: {counters.epoch} epochs, {counters.n_iter} iterations, {counters.n_updates} updates")
    return 0

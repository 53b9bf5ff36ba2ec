"""`hyperprover train` options: the root TrainConfig and its sections (model, batch, latex, and one per formal
system: eq, mm, coq, sr, ..., from envs/systems.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyperprover.config import ConfigError, opt, section
from hyperprover.envs.systems import with_system_sections
from hyperprover.experiment import RunConfig
from hyperprover.model.config import ModelConfig


@dataclass
class BatchConfig:
    tokens: int = opt(5000, "padded tokens per training batch: n_seqs * (max len x + max len y)", min=16)
    size: int = opt(32, "sequences per batch: a cap for token batches, the size of valid/test and MASS batches",
                    min=1)
    bptt: int = opt(256, "tokens per MASS chunk of the text stream", min=4)
    max_len: int = opt(1024, "examples with an input or output longer than this are skipped", min=4)
    collate_queue_size: int = opt(10000, "length-sorted pool batches are cut from (500 in debug mode)", min=1)


@dataclass
class LatexConfig:
    data_dir: str = opt("", "folder of text files for latex_* tasks (train/valid/test.txt, or any *.txt split "
                        "by line hash)")
    max_vocab: int = opt(0, "keep the most frequent words only (0: all)", min=0)
    min_count: int = opt(1, "drop words seen fewer times", min=1)
    generate_if_missing: int = opt(0, "write this many lines of generated arithmetic text into data_dir when it "
                                   "does not exist (local runs and the demo)", min=0)
    valid_fraction: float = opt(0.02, "share of lines for valid and for test when no split files exist",
                                min=0.0, max=0.4)


@dataclass
class TrainConfigBase(RunConfig):
    """TrainConfig without the systems' sections (with_system_sections adds them, below)."""

    model: ModelConfig = section(ModelConfig, "transformer sizes and options")
    batch: BatchConfig = section(BatchConfig, "batching")
    latex: LatexConfig = section(LatexConfig, "text corpus for MASS pretraining")
    tasks: str = opt("", "comma list of tasks, e.g. latex_mass or eq_bwd_rwalk_seq2seq,eq_critic_rwalk_seq2seqtok")
    tasks_weight: str = opt("", "comma list of relative weights of the trained tasks (empty: uniform)")
    no_train: str = opt("", "comma list of tasks that are evaluated but never trained on")
    optimizer: str = opt("adam,lr=0.0001", "method,key=value,...: adam, adam_warmup, adam_inverse_sqrt, "
                         "adam_cosine (AdamW), sgd, adagrad, rmsprop, adamax, adadelta")
    clip_grad_norm: float = opt(1.0, "clip the global gradient L2 norm (0: off)", min=0.0)
    accumulate_gradients: int = opt(1, "batches per optimizer step (gradients summed)", min=1)
    label_smoothing_eps: float = opt(0.0, "label smoothing of token losses", min=0.0, max=1.0)
    epoch_size: int = opt(100000, "sequences per epoch (counted over trained batches, of all data-parallel "
                                  "processes)", min=1)
    max_epoch: int = opt(100000, "stop after this many epochs", min=1)
    max_time_min: float = opt(0.0, "stop at the first epoch end after this many minutes of training, resumes "
                                   "included (0: off)", min=0.0)
    eval_freq: int = opt(1, "evaluate every N epochs", min=1)
    eval_splits: str = opt("valid,test", "comma list of splits evaluated")
    eval_size: int = opt(1000, "examples per valid/test set of generated tasks (debug: at most debug.size)", min=1)
    stopping_criterion: str = opt("", "METRIC,N: stop after N evaluations without improvement ('_' prefix: "
                                  "lower is better), e.g. _valid-latex_mass-tok-ppl,10")
    validation_metrics: str = opt("", "comma list of metrics whose best value saves best-<metric>.pth")
    reload_model: str = opt("", "start from the weights of this checkpoint (embeddings copied word by word)")
    num_workers: int = opt(1, "data-generating worker processes per task (0: in the training process)", min=0)
    log_network_stats_freq: int = opt(100, "log throughput, loss and lr every N iterations", min=1)
    n_th_to_prove: int = opt(0, "theorems proved greedily at each evaluation (valid-<env>-greedy-proved)", min=0)
    env_base_seed: int = opt(0, "base seed of the data-generating workers", min=0)
    vocab_samples: int = opt(20000, "training examples read per generated task to build the dictionary", min=0)
    device: str = opt("auto", "auto (cuda when available), cpu or cuda", choices=("auto", "cpu", "cuda"))
    cpu_threads: int = opt(0, "torch threads on CPU (0: torch's default)", min=0)


if TYPE_CHECKING:  # the sections are known at run time only; code outside a system reads them with getattr
    TrainConfig = TrainConfigBase
else:
    TrainConfig = with_system_sections(TrainConfigBase)


def split_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def task_weights(cfg: TrainConfig) -> tuple[list[str], list[str], list[float]]:
    """(all tasks, trained tasks, their normalised weights); raises ConfigError naming the bad option."""
    tasks = split_list(cfg.tasks)
    if not tasks:
        raise ConfigError("--tasks is empty; name at least one task, e.g. --tasks eq_bwd_rwalk_seq2seq")
    if len(set(tasks)) != len(tasks):
        raise ConfigError(f"--tasks lists a task twice: {cfg.tasks}")
    no_train = split_list(cfg.no_train)
    for t in no_train:
        if t not in tasks:
            raise ConfigError(f"--no_train {t} is not in --tasks {cfg.tasks}")
    weights_raw = split_list(cfg.tasks_weight)
    if weights_raw and len(weights_raw) != len(tasks):
        raise ConfigError(f"--tasks_weight has {len(weights_raw)} values for {len(tasks)} tasks")
    try:
        weights = [float(w) for w in weights_raw] if weights_raw else [1.0] * len(tasks)
    except ValueError:
        raise ConfigError(f"--tasks_weight {cfg.tasks_weight!r}: expected comma-separated numbers") from None
    if any(w < 0 for w in weights):
        raise ConfigError("--tasks_weight values must be >= 0")
    trained = [(t, w) for t, w in zip(tasks, weights) if t not in no_train]
    total = sum(w for _, w in trained)
    if trained and total <= 0:
        raise ConfigError("--tasks_weight gives every trained task weight 0")
    return tasks, [t for t, _ in trained], [w / total for _, w in trained]


PRESETS: dict[str, dict[str, Any]] = {
    # the reference sizes of the original's pretraining and Metamath runs
    "model_default": {"model": {"enc_emb_dim": 1600, "dec_emb_dim": 1024, "enc_n_layers": 12,
                                "dec_n_layers": 6, "n_heads": 8, "amp": "bf16"}},
    "model_small": {"model": {"emb_dim": 256, "enc_n_layers": 4, "dec_n_layers": 2, "n_heads": 8}},
}

"""`hyperprover online` options: the controller, the provers, the trainer (a TrainConfig section) and Ray."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprover.config import ConfigError, opt, section
from hyperprover.experiment import RunConfig
from hyperprover.online.label_sampler import LabelSamplerConfig, parse_split_props
from hyperprover.online.replay_buffer import ReplayBufferConfig
from hyperprover.provers.options import ProvingOptions, RayConfig
from hyperprover.train.config import TrainConfig, split_list

BEAM_KINDS = ("automatically_reloading", "increasing_quality", "fixed")
DEFAULT_MCTS_TASKS = "{env}_mcts_tactic,{env}_mcts_critic"


@dataclass
class OnlineConfig(RunConfig, ProvingOptions):
    exp_name: str = opt("online", "experiment name (a folder under dump_path)")
    data_src_props: str = opt("identities:1", "splits the controller draws theorems from, split:weight,...")
    n_provers: int = opt(2, "prover actors, each with its own model copy", min=1)
    prover_gpus: float = opt(0.0, "GPU share requested from Ray by each prover (0: CPU)", min=0.0)
    trainer_gpus: float = opt(0.0, "GPU share requested from Ray by the trainer", min=0.0)
    max_time: float = opt(1800.0, "stop after this many seconds (0: until Ctrl-C)", min=0.0)
    max_proofs: int = opt(0, "stop after this many recorded attempts (0: no limit; tests and debugging)", min=0)
    local: bool = opt(True, "size Ray and torch threads for one machine")
    no_trainer: bool = opt(False, "controller and provers only (no training, weights never change)")
    max_restarts: int = opt(5, "times Ray restarts a prover that died", min=0)
    min_reload_time: float = opt(60.0, "provers load a newer model at most every N seconds", min=0.0)
    beam_kind: str = opt("automatically_reloading", "which model versions provers use: the newest, only those "
                         "whose async eval is at least as good as the best so far, or the starting one",
                         choices=BEAM_KINDS)
    hyperopt: str = opt("fixed", "per-proof search parameters: fixed or random (docs/guide-online.md)",
                        choices=("fixed", "random"))
    hyperopt_param_str: str = opt("", "dict literal of parameter ranges/choices for --hyperopt random")
    unsolved_budget_growth: float = opt(1.0, "each failed attempt on a theorem never solved multiplies the "
                                             "expansion budget of its next attempt by this (1: a fixed budget)",
                                        min=1.0)
    max_expansions: int = opt(0, "cap of the grown budget (0: 8 x search.n_expansions)", min=0)
    label_sampler: LabelSamplerConfig = section(LabelSamplerConfig, "which theorem is attempted next")
    rb: ReplayBufferConfig = section(ReplayBufferConfig, "replay buffer of each MCTS task")
    trainer: TrainConfig = section(TrainConfig, "trainer options (tasks, tasks_weight, epoch_size, optimizer, ...)")
    async_bwd_eval_freq: int = opt(1, "prove the eval split with a snapshot every N trainer epochs (0: never)",
                                   min=0)
    async_eval_split: str = opt("identities", "split of the async evaluations")
    async_eval_n: int = opt(0, "theorems of the async evaluations (0: the whole split)", min=0)
    critic_from_auc: float = opt(0.0, "with --search.no_critic true: HTPS steers with the critic while the latest "
                                      "async evaluation measures its ROC-AUC on held-out goals at least this "
                                      "(0: never; a supervised model's critic is untrained)", min=0.0, max=1.0)
    stats_freq: float = opt(30.0, "seconds between two lines of launcher statistics", min=0.1)
    torch_threads: int = opt(1, "torch threads of each actor with --local 1 (0: torch's default)", min=0)
    ray: RayConfig = section(RayConfig, "Ray")

    def mcts_tasks(self) -> list[str]:
        return [t for t in self.trainer_tasks() if "_mcts_" in t]

    def trainer_tasks(self) -> list[str]:
        return split_list(self.trainer.tasks or DEFAULT_MCTS_TASKS.format(env=self.env))


def check_online_config(cfg: OnlineConfig) -> None:
    """Cross-field checks, each a one-line error naming the option."""
    if cfg.expander == "uniform" and not cfg.no_trainer:
        raise ConfigError("--expander uniform has no model to train: add --no_trainer true (the model-free control)")
    if not cfg.reload_model and cfg.expander == "model":
        raise ConfigError("--reload_model is required: the supervised checkpoint the online run starts from")
    parse_split_props(cfg.data_src_props)
    cfg.ray.check()
    if cfg.rb.min_len > cfg.rb.max_len:
        raise ConfigError(f"--rb.min_len {cfg.rb.min_len} > --rb.max_len {cfg.rb.max_len}")
    if cfg.critic_from_auc and not (cfg.search.no_critic and cfg.async_bwd_eval_freq and not cfg.no_trainer):
        raise ConfigError("--critic_from_auc switches the critic on during the run: it needs --search.no_critic "
                          "true, the trainer and --async_bwd_eval_freq > 0")
    if cfg.beam_kind == "increasing_quality" and (cfg.no_trainer or cfg.async_bwd_eval_freq == 0):
        raise ConfigError("--beam_kind increasing_quality needs the trainer and --async_bwd_eval_freq > 0")
    for t in cfg.mcts_tasks():
        if not t.endswith(("_mcts_tactic", "_mcts_critic")):
            raise ConfigError(f"--trainer.tasks {t}: online MCTS tasks are <env>_mcts_tactic and <env>_mcts_critic")

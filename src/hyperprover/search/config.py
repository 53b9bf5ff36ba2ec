"""Search and prover options: the `search` and `prover` config sections.

Defaults follow the original code's `MCTSParams` (docs/htps.md, "Defaults"), not the paper sweeps; presets set
the paper values (exploration 1, proof_stype size, early_stop on). Where this project differs:
- `only_learn_tactics_from` spells the original empty value "" as `all` ("" is still accepted);
- `timeout_s` stops a search (the original only logged a warning at 3600 s);
- options that have no effect here are left out: `virtual_loss` is a field (the original passed it
  to the constructor), `cycle_handling` (only `kill` existed), `move.*` (MCTS move), Q conditioning,
  `max_in_flight`, `mu_fpu`, `proof_size_alpha` (dead in the original);
- `hard_critic_estimates` (a trainer option in the original) is applied when samples are extracted;
- `bfs_batch` and `greedy_max_depth` configure the two baselines (docs/htps.md, section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperprover.config import ConfigError, opt

# the one prover registry: name -> the Search class (search/prover.py imports it when a prover is built)
PROVERS = {"htps": "hyperprover.search.htps:HTPS", "bfs": "hyperprover.search.bfs:BestFirst",
           "greedy": "hyperprover.search.greedy:Greedy"}
TACTIC_MASKS = ("all", "", "solving", "proof", "minproof", "minproof-solving")


@dataclass
class SearchConfig:
    """HyperTree Proof Search parameters (docs/htps.md)."""

    # policy
    policy: str = opt("other", "alpha_zero (PUCT) or other (regularised policy, Grill et al. 2020)",
                      choices=("alpha_zero", "other"))
    exploration: float = opt(5.0, "exploration constant c of the policy (paper sweeps: 1.0)", min=0.0)
    init_tactic_scores: float = opt(0.5, "first-play urgency: Q of a tactic never visited", min=0.0, max=1.0)
    q_value_solved: int = opt(5, "Q of a solving tactic: 0 1/n, 1 N/n, 2 one, 3 1/(1+V), 4 1/max(1,n), "
                                 "5 max(1,N)/max(1,n), 6 no override", min=0, max=6)
    virtual_loss: int = opt(1, "virtual visits added per selected edge while a batch is in flight", min=1)
    policy_temperature: float = opt(0.0, "0: argmax of the policy; else sample from pi^(1/T)", min=0.0)
    policy_temp_level: str = opt("global", "temperature per search (global), per descent (simutree) or per "
                                           "node (node), the last two scaled by U(0,1)",
                                 choices=("global", "simutree", "node"))
    # budget and batches
    n_expansions: int = opt(1000, "budget: unique goals expanded (the last batch may stop short of it)", min=1)
    succ_expansions: int = opt(50, "simulations (hypertree descents) per batch", min=1)
    max_nodes_in_expansion: int | None = opt(None, "stop a batch once this many goals are queued", min=1)
    early_stop: bool = opt(False, "stop when the root is proved; solved nodes are leaves during selection")
    early_stop_on_solved_if_root_unproved: bool = opt(False, "solved nodes are leaves while the root is unproved")
    timeout_s: float = opt(3600.0, "wall-clock limit of one search in seconds", min=0.0)
    finish_with: str = opt("", "a portfolio's last resort: a tactic tried on the theorem itself, with the time left, "
                               "where the search ends without a proof (Coq: hammer after the learned search)")
    finish_s: float = opt(0.0, "seconds of timeout_s kept for finish_with: the search itself stops this much "
                               "earlier", min=0.0)
    # values and backup
    depth_penalty: float = opt(1.0, "value multiplier per level on backup (gamma)", min=0.0, max=1.0)
    backup_one_for_solved: bool = opt(True, "back up 1 through nodes that are solved")
    backup_once: bool = opt(True, "back up N/W once per distinct simulation (same tactic choices)")
    no_critic: bool = opt(False, "ignore the model's critic: every new goal is worth 0.5")
    # expansion filtering
    only_keep_one_solving: bool = opt(True, "keep only the best closing tactic of a goal")
    add_tactic_fill: bool = opt(False, "a killed 'fill' tactic holds the prior mass the samples missed")
    add_tactic_errors: bool = opt(False, "killed 'parse_error'/'env_error' tactics hold the failed samples' mass")
    # proofs and training samples
    proof_stype: str = opt("depth", "minimal proof by depth, size (paper) or time (sum of tactic durations)",
                           choices=("depth", "size", "time"))
    count_threshold: int = opt(50, "visits a node needs before it yields training samples", min=0)
    use_count_threshold_for_solved: bool = opt(False, "solved nodes also need count_threshold visits")
    only_learn_tactics_from: str = opt("all", "nodes giving tactic samples: all, solving, proof, minproof, "
                                              "minproof-solving (minproof if the root is proved, else solving)",
                                       choices=TACTIC_MASKS)
    only_learn_best_tactics: bool = opt(False, "solved nodes teach only the tactics of their own minimal proof")
    tactic_p_threshold: float = opt(0.05, "unsolved nodes teach tactics with policy >= this", min=0.0, max=1.0)
    critic_subsampling: float = opt(1.0, "probability of keeping each critic sample", min=0.0, max=1.0)
    balance_critic_data: bool = opt(False, "cut solved / unsolved critic samples to the same count")
    hard_critic_estimates: bool = opt(False, "critic targets below 1 become 0")
    max_nodes_for_train: int = opt(-1, "stop after this many tactic samples (-1: no limit)", min=-1)
    # baselines (docs/htps.md, section 6)
    bfs_batch: int = opt(1, "best-first: goals expanded per batch (1 = strict best-first as GPT-f)", min=1)
    greedy_max_depth: int = opt(2000, "greedy: the proof fails past this depth", min=1)
    seed: int = opt(0, "seed of the search's random choices (combined with the theorem label)")


@dataclass
class ProverConfig:
    """How many searches run at once and where tactics are applied."""

    prover: str = opt("htps", "search algorithm: htps, bfs (best-first by cumulative log-prob) or greedy",
                      choices=tuple(PROVERS))
    n_simultaneous_proofs: int = opt(8, "searches kept alive at once; their goals share one model call",
                                     min=1)
    env_workers: int = opt(0, "processes applying tactics (0: in this process)", min=0)


def check_search_config(cfg: SearchConfig, length_penalty: float = 0.0) -> None:
    """Cross-field checks that single-field bounds cannot express (`length_penalty` from decoding)."""
    if cfg.add_tactic_fill and length_penalty != 0:
        raise ConfigError("--search.add_tactic_fill needs --decoding.length_penalty 0 (sequence scores must "
                          "be log-probabilities for the missing mass to mean anything)")
    if cfg.finish_s > 0 and not cfg.finish_with:
        raise ConfigError("--search.finish_s keeps time for a tactic: name it with --search.finish_with")
    if cfg.finish_with and cfg.finish_s >= cfg.timeout_s:
        raise ConfigError(f"--search.finish_s {cfg.finish_s:g} leaves the search no time: it must be below "
                          f"--search.timeout_s {cfg.timeout_s:g}")
    if cfg.only_learn_tactics_from not in TACTIC_MASKS:
        raise ConfigError(f"--search.only_learn_tactics_from: {cfg.only_learn_tactics_from!r} is not one of "
                          f"{', '.join(m for m in TACTIC_MASKS if m)}")


# Named settings of the original (docs/htps.md, "Defaults"): flat `search` field values, for `--cfg`-style presets.
SEARCH_PRESETS: dict[str, dict[str, object]] = {
    "mcts_fast": {"n_expansions": 1000, "early_stop": True},
    "mcts_slow": {"n_expansions": 10000, "early_stop": True},
    # the Equations paper sweep (P-EQ), without its per-proof hyperparameter randomisation
    "paper_eq": {"exploration": 1.0, "policy": "other", "n_expansions": 5000, "early_stop": True,
                 "count_threshold": 500, "only_learn_tactics_from": "minproof-solving",
                 "only_learn_best_tactics": True, "proof_stype": "size"},
    # the Metamath paper sweep (P-MM)
    "paper_mm": {"exploration": 1.0, "policy": "alpha_zero", "n_expansions": 5000, "early_stop": True,
                 "count_threshold": 50, "only_learn_tactics_from": "minproof", "proof_stype": "size"},
    # the reference evaluation sweep (R-EV)
    "eval": {"exploration": 1.0, "policy": "alpha_zero", "n_expansions": 3000, "early_stop": True,
             "depth_penalty": 1.0, "backup_one_for_solved": True},
}

"""The search / prover config sections: defaults of the spec table, flags, presets, proof printing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hyperprover.config import ConfigError, load_config, section
from hyperprover.search.config import SEARCH_PRESETS, ProverConfig, SearchConfig
from hyperprover.search.prover import format_proof, proof_to_dict
from search_fixtures import ToyGoal


@dataclass
class Root:
    search: SearchConfig = section(SearchConfig, "search")
    prover: ProverConfig = section(ProverConfig, "prover")


def test_defaults_follow_the_original_table() -> None:
    c = SearchConfig()
    assert (c.exploration, c.policy, c.n_expansions, c.succ_expansions, c.init_tactic_scores) == (5, "other", 1000,
                                                                                                   50, .5)
    assert (c.q_value_solved, c.depth_penalty, c.backup_one_for_solved, c.backup_once, c.early_stop) == (
        5, 1.0, True, True, False)
    assert (c.count_threshold, c.tactic_p_threshold, c.proof_stype, c.only_learn_tactics_from) == (
        50, .05, "depth", "all")


def test_flags_and_presets() -> None:
    cfg = load_config(Root, ["--search.policy", "alpha_zero", "--search.n_expansions", "64", "--prover.prover",
                             "bfs"])
    assert cfg.search.policy == "alpha_zero" and cfg.search.n_expansions == 64 and cfg.prover.prover == "bfs"
    with pytest.raises(ConfigError, match="not one of"):
        load_config(Root, ["--search.policy", "puct"])
    with pytest.raises(ConfigError, match="q_value_solved"):
        load_config(Root, ["--search.q_value_solved", "9"])
    presets = {k: {"search": v} for k, v in SEARCH_PRESETS.items()}
    cfg = load_config(Root, ["--cfg", "paper_eq"], presets)
    assert cfg.search.proof_stype == "size" and cfg.search.only_learn_tactics_from == "minproof-solving"
    for name in SEARCH_PRESETS:
        load_config(Root, ["--cfg", name], presets)


def test_proof_printing() -> None:
    from hyperprover.envs.base import ProofNode

    p = ProofNode(ToyGoal("R"), "a", (ProofNode(ToyGoal("A"), "x"), ProofNode(ToyGoal("B"), "y")))
    assert format_proof(p) == "R\n  by a\n  A\n    by x\n  B\n    by y"
    two_lines = ProofNode(ToyGoal("R"), "a", (ProofNode(ToyGoal("h : P\n|- Q"), "x"),))
    assert format_proof(two_lines) == "R\n  by a\n  h : P\n  |- Q\n    by x"  # every line of a goal indented
    assert proof_to_dict(p) == {"goal": "R", "tactic": "a", "children": [
        {"goal": "A", "tactic": "x", "children": []}, {"goal": "B", "tactic": "y", "children": []}]}


def test_every_prover_name_resolves_to_its_search_class() -> None:
    from hyperprover.search import HTPS, BestFirst, Greedy
    from hyperprover.search.config import PROVERS
    from hyperprover.search.prover import search_class

    assert {name: search_class(name) for name in PROVERS} == {"htps": HTPS, "bfs": BestFirst, "greedy": Greedy}
    with pytest.raises(ValueError, match="unknown prover 'dfs'; choose one of htps, bfs, greedy"):
        search_class("dfs")

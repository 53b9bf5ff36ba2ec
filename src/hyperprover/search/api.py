"""The interface every search implements, and its typed result.

A search is a state machine driven by the Prover:
    goals = search.to_expand()            # [] means the search is over (search.done is then True)
    expansions = expander.expand(goals)   # one per goal, in order
    results = [[env.apply(e.goal, t) for t in e.tactics] for e in expansions]
    search.receive(expansions, results)
    ... until search.done; then search.result()
The search never calls the model or the env itself, so one Prover can batch many searches.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hyperprover.envs.base import Goal, ProofNode, TacticResult
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.graph import Hypergraph
from hyperprover.search.samples import Samples, Tokenizer, extract_samples


class SearchError(RuntimeError):
    """The driver broke the protocol (wrong goals or result counts handed to `receive`)."""


@dataclass(frozen=True)
class SearchResult:
    label: str
    goal: Goal
    proof: ProofNode | None
    stats: dict[str, float]
    samples: Samples = field(default_factory=Samples)
    stop_reason: str = ""  # proved | budget | dead_root | timeout | failed (greedy) | no_goal_to_expand
    # (a ProofRecord's may also be `finish`: search.finish_with proved the theorem after the search)
    # (model critic, solved in this search) of every goal the model expanded: the critic's calibration
    critic_pairs: tuple[tuple[float, bool], ...] = ()

    @property
    def proved(self) -> bool:
        return self.proof is not None


class Search(Protocol):
    label: str

    @property
    def done(self) -> bool: ...

    def to_expand(self) -> list[Goal]: ...

    def receive(self, expansions: Sequence[Expansion], results: Sequence[Sequence[TacticResult]]) -> None: ...

    def result(self) -> SearchResult: ...


def check_batch(pending: Sequence[Goal], expansions: Sequence[Expansion],
                results: Sequence[Sequence[TacticResult]]) -> None:
    if len(expansions) != len(pending) or len(results) != len(pending):
        raise SearchError(f"receive got {len(expansions)} expansions and {len(results)} result lists for "
                          f"{len(pending)} goals")
    for g, e, r in zip(pending, expansions, results):
        if e.goal.key != g.key:
            raise SearchError(f"expansion for {e.goal.key!r} where {g.key!r} was asked")
        if e.error is None and len(r) != len(e.tactics):
            raise SearchError(f"{len(r)} env results for {len(e.tactics)} tactics of {g.key!r}")


def search_rng(cfg: SearchConfig, label: str) -> random.Random:
    # string seeds are hashed deterministically (not with PYTHONHASHSEED), so runs are reproducible
    return random.Random(f"{cfg.seed}:{label}")


def stop_reason(proved: bool, failure: str, n_expanded: int, cfg: SearchConfig, start: float) -> str:
    """Why a search stops after a batch ("" = it goes on): proved, then `failure` (the search's own reason:
    dead_root, failed), then the expansion budget, then the wall-clock limit."""
    if proved:
        return "proved"
    if failure:
        return failure
    if n_expanded >= cfg.n_expansions:
        return "budget"
    if time.perf_counter() - start > cfg.timeout_s:
        return "timeout"
    return ""


def graph_result(graph: Hypergraph, cfg: SearchConfig, label: str, goal: Goal, stats: dict[str, float],
                 stop_reason: str, tokenizer: Tokenizer | None, rng: random.Random) -> SearchResult:
    """The result shared by every graph-based search: minimal proof, shape statistics, samples."""
    t0 = time.perf_counter()
    proof = graph.proof(cfg.proof_stype)
    samples = extract_samples(graph, cfg, label, tokenizer, rng)
    depths = graph.depths()
    out = dict(stats)
    out.update({
        "proved": float(proof is not None),
        "n_nodes": float(len(graph.nodes)),
        "n_goals": float(len(graph.goals)),
        "killed_tactics": float(graph.n_killed),
        "depth_max": float(max(depths.values(), default=0)),
        "depth_mean": sum(depths.values()) / max(1, len(depths)),
        "n_tac_per_node": sum(len(n.tactics) for n in graph.nodes.values()) / max(1, len(graph.nodes)),
        "train_samples_n_nodes_tactic": float(len(samples.tactic)),
        "train_samples_n_nodes_critic": float(len(samples.critic)),
    })
    if proof is not None:
        out["proof_size"] = float(proof.size())
        out["proof_depth"] = float(proof.depth())
        out[f"minproof_{cfg.proof_stype}"] = graph.minproofs(cfg.proof_stype)[0][graph.root]
    out["time_result_s"] = time.perf_counter() - t0
    pairs = tuple((n.model_critic, n.solved) for n in graph.nodes.values() if n.model_critic is not None)
    return SearchResult(label, goal, proof, out, samples, stop_reason, pairs)

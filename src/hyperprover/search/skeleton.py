"""The lifecycle every search shares (driven through to_expand / receive / result, see search.api).

`GraphSearch` holds the hypergraph, the budget, the timing and the stop reasons once; a search (HTPS,
best-first, greedy) only says which goals to expand next (`_choose`) and what to do with the nodes a batch made
(`_absorb`), and may name its stop when nothing is left to expand (`_nothing_to_expand`).

Tactics the env did not try because the search's time was up (error kind SKIPPED) are dropped before
`_absorb`, and a goal that none of its tried tactics proves outright is not absorbed at all: it stays
unexpanded rather than judged on part of its tactics, so that neither the proof status nor the critic's
training samples take "no time left" for "unprovable". A search finds the goals it asked for that were not
absorbed still missing from the graph.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticErrorKind, TacticResult
from hyperprover.search.api import SearchResult, check_batch, graph_result, search_rng, stop_reason
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import usable
from hyperprover.search.graph import Hypergraph
from hyperprover.search.samples import Tokenizer

Results = Sequence[TacticResult]  # the env's answers to one goal's tactics


class GraphSearch:
    STATS: tuple[str, ...] = ()  # the search's own counters, reported in its result's stats

    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        self.goal, self.cfg, self.label, self.tokenizer = goal, cfg, label or goal.key, tokenizer
        self.rng = rng or search_rng(cfg, self.label)
        self.graph = Hypergraph(goal)
        self.n_expanded = 0
        self.stop_reason = ""
        self.stats: dict[str, float] = dict.fromkeys(("nsteps", "skipped_tactics", *self.STATS), 0.0)
        self._pending: list[Goal] = []
        self._start = time.perf_counter()
        self._search_s = 0.0

    @property
    def done(self) -> bool:
        return bool(self.stop_reason)

    # -- what a search decides -----------------------------------------------------------------------
    def _choose(self, budget: int) -> list[Goal]:
        """At most `budget` goals to expand now (none: the search stops)."""
        raise NotImplementedError

    def _absorb(self, goals: list[Goal], expansions: Sequence[Expansion],
                results: Sequence[Sequence[TacticResult]]) -> str:
        """Add what the model and the env made of `goals`; returns why the search must stop ('' to go on)."""
        raise NotImplementedError

    def _nothing_to_expand(self) -> str:
        return "exhausted"

    def _proved(self) -> bool:
        """Whether a proof of the root stops the search."""
        return self.graph.proved

    def _final_stats(self, stats: dict[str, float]) -> None:
        """Add the search's own figures to its result's stats."""

    # -- the lifecycle -------------------------------------------------------------------------------
    def to_expand(self) -> list[Goal]:
        if self._pending:
            raise RuntimeError("to_expand called twice without receive")
        if self.done:
            return []
        t0 = time.perf_counter()
        self._pending = self._choose(self.cfg.n_expansions - self.n_expanded)
        if not self._pending:
            self.stop_reason = self._nothing_to_expand()
        self._search_s += time.perf_counter() - t0
        return list(self._pending)

    def receive(self, expansions: Sequence[Expansion], results: Sequence[Sequence[TacticResult]]) -> None:
        check_batch(self._pending, expansions, results)
        t0 = time.perf_counter()
        goals, expansions, results = self._tried(self._pending, expansions, results)
        failure = self._absorb(goals, expansions, results)
        self.n_expanded += len(goals)
        self.stats["nsteps"] += 1
        self._pending = []
        self.stop_reason = stop_reason(self._proved(), failure, self.n_expanded, self.cfg, self._start)
        self._search_s += time.perf_counter() - t0

    def _tried(self, goals: list[Goal], expansions: Sequence[Expansion],
               results: Sequence[Sequence[TacticResult]]) -> tuple[list[Goal], list[Expansion], list[Results]]:
        """The batch without the tactics that were skipped, and without the goals they leave undecided: a goal
        with skipped tactics enters the graph only when a tried one proves it (solved goals are never dead;
        an unsolved node made of some of its tactics could die of those alone)."""
        out: tuple[list[Goal], list[Expansion], list[Results]] = ([], [], [])
        for goal, e, rs in zip(goals, expansions, results):
            tried = [i for i, r in enumerate(rs) if r.error is None or r.error.kind != TacticErrorKind.SKIPPED]
            if len(tried) < len(rs):
                self.stats["skipped_tactics"] += len(rs) - len(tried)
                if not any(self._proves(goal, rs[i]) for i in tried):
                    continue
                e = dataclasses.replace(e, tactics=tuple(e.tactics[i] for i in tried),
                                        log_priors=tuple(e.log_priors[i] for i in tried))
                rs = [rs[i] for i in tried]
            out[0].append(goal)
            out[1].append(e)
            out[2].append(rs)
        return out

    def _proves(self, goal: Goal, r: TacticResult) -> bool:
        nodes = self.graph.nodes
        return usable(goal, r) and all((n := nodes.get(c.key)) is not None and n.solved for c in r.children)

    def result(self) -> SearchResult:
        if self._pending:
            raise RuntimeError("result() while a batch is in flight")
        t0 = time.perf_counter()
        stats = dict(self.stats)
        stats.update({"n_expansions": float(self.n_expanded), "time": t0 - self._start,
                      "time_search_s": self._search_s})
        self._final_stats(stats)
        res = graph_result(self.graph, self.cfg, self.label, self.goal, stats, self.stop_reason or "unfinished",
                           self.tokenizer, self.rng)
        res.stats["time_search_s"] += time.perf_counter() - t0
        return res


__all__ = ["GraphSearch"]

"""Best-first search baseline (htps spec 7, as GPT-f / ReProver): expand the open goal with the
highest cumulative tactic log-probability from the root, maximised over paths.

It shares the hypergraph with HTPS (merged goals, kill and solved propagation, minimal proofs,
training samples), so the two differ only in which goals they choose to expand. Tactic scores are
the model's raw sequence log-scores; since they are <= 0 the order is Dijkstra's, so a goal's
priority is final when it is popped (with `bfs_batch` 1). A goal is skipped when no live tactic of
an unsolved parent needs it any more. The search stops at the first proof.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticResult
from hyperprover.search.api import SearchResult, check_batch, graph_result, search_rng, stop_reason
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import build_node
from hyperprover.search.graph import Hypergraph
from hyperprover.search.samples import Tokenizer


class BestFirst:
    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        self.goal, self.cfg, self.label, self.tokenizer = goal, cfg, label or goal.key, tokenizer
        self.rng = rng or search_rng(cfg, self.label)
        self.graph = Hypergraph(goal)
        self.score: dict[str, float] = {goal.key: 0.0}
        self._heap: list[tuple[float, int, str]] = [(0.0, 0, goal.key)]
        self._tick = 1
        self._dropped: set[str] = set()
        self.n_expanded = 0
        self.stop_reason = ""
        self._pending: list[Goal] = []
        self._start = time.perf_counter()
        self._search_s = 0.0
        self.stats: dict[str, float] = {"nsteps": 0.0, "skipped_unneeded": 0.0}

    @property
    def done(self) -> bool:
        return bool(self.stop_reason)

    def _needed(self, key: str) -> bool:
        nodes = self.graph.nodes
        return any(p is None or not nodes[p].solved for p, _ in self.graph.ancestors.get(key, ()))

    def to_expand(self) -> list[Goal]:
        if self._pending:
            raise RuntimeError("to_expand called twice without receive")
        if self.done:
            return []
        t0 = time.perf_counter()
        want = min(self.cfg.bfs_batch, self.cfg.n_expansions - self.n_expanded)
        picked: dict[str, None] = {}
        nodes = self.graph.nodes
        while self._heap and len(picked) < want:
            neg, _, k = heapq.heappop(self._heap)
            if k in nodes or k in picked or -neg < self.score[k]:
                continue  # expanded, already picked, or a stale entry superseded by a better path
            if not self._needed(k):
                self.stats["skipped_unneeded"] += 1
                self._dropped.add(k)  # a parent expanded later may need it again
                continue
            picked[k] = None
        self._pending = [self.graph.goals[k] for k in picked]
        if not self._pending:
            self.stop_reason = "exhausted"
        self._search_s += time.perf_counter() - t0
        return list(self._pending)

    def receive(self, expansions: Sequence[Expansion], results: Sequence[Sequence[TacticResult]]) -> None:
        check_batch(self._pending, expansions, results)
        t0 = time.perf_counter()
        new = [build_node(goal, e, r, self.cfg) for goal, e, r in zip(self._pending, expansions, results)]
        self.graph.add_nodes(new)
        nodes = self.graph.nodes
        for n in new:
            base = self.score[n.key]
            for t, cs in enumerate(n.children):
                if n.killed[t]:
                    continue
                s = base + n.log_priors[t]
                for c in cs:
                    if c in nodes:
                        continue
                    old = self.score.get(c, float("-inf"))
                    if s > old or c in self._dropped:
                        self._dropped.discard(c)
                        self.score[c] = max(s, old)
                        heapq.heappush(self._heap, (-self.score[c], self._tick, c))
                        self._tick += 1
        self.n_expanded += len(self._pending)
        self.stats["nsteps"] += 1
        self._pending = []
        g = self.graph
        self.stop_reason = stop_reason(g.proved, "dead_root" if g.dead else "", self.n_expanded, self.cfg,
                                       self._start)
        self._search_s += time.perf_counter() - t0

    def result(self) -> SearchResult:
        if self._pending:
            raise RuntimeError("result() while a batch is in flight")
        stats = dict(self.stats)
        stats.update({"n_expansions": float(self.n_expanded), "time": time.perf_counter() - self._start,
                      "time_search_s": self._search_s})
        t0 = time.perf_counter()
        res = graph_result(self.graph, self.cfg, self.label, self.goal, stats, self.stop_reason or "unfinished",
                           self.tokenizer, self.rng)
        res.stats["time_search_s"] += time.perf_counter() - t0
        return res

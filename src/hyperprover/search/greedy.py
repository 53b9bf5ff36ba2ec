"""Greedy baseline (htps spec 7, `backward_greedy`): every step expands ALL open goals and commits to
one tactic each: the closing one if any, else the highest-prior valid tactic that closes no cycle.

With `n_samples 1` and greedy decoding this is the original's greedy prover. The proof fails when a
goal has no usable tactic (error, or every tactic closes a cycle) or grows past `greedy_max_depth`.
Identical open goals are merged, so a subgoal shared by two branches is proved once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticResult
from hyperprover.search.api import SearchResult, check_batch, graph_result, search_rng, stop_reason
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import build_node
from hyperprover.search.graph import Hypergraph, Node
from hyperprover.search.samples import Tokenizer


class Greedy:
    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        self.goal, self.cfg, self.label, self.tokenizer = goal, cfg, label or goal.key, tokenizer
        self.rng = rng or search_rng(cfg, self.label)
        self.graph = Hypergraph(goal)
        self.depth: dict[str, int] = {goal.key: 0}
        self.open: dict[str, None] = {goal.key: None}
        self.n_expanded = 0
        self.stop_reason = ""
        self.failure = ""
        self._pending: list[Goal] = []
        self._start = time.perf_counter()
        self._search_s = 0.0
        self.stats: dict[str, float] = {"nsteps": 0.0}

    @property
    def done(self) -> bool:
        return bool(self.stop_reason)

    def to_expand(self) -> list[Goal]:
        if self._pending:
            raise RuntimeError("to_expand called twice without receive")
        if self.done:
            return []
        budget = self.cfg.n_expansions - self.n_expanded
        self._pending = [self.graph.goals[k] for k in list(self.open)[:budget]]
        if not self._pending:
            self.stop_reason = "exhausted"
        return list(self._pending)

    def _reaches(self, start: Sequence[str], target: str) -> bool:
        """Does following the committed tactics from `start` lead back to `target`?"""
        seen: set[str] = set()
        stack = list(start)
        nodes = self.graph.nodes
        while stack:
            k = stack.pop()
            if k == target:
                return True
            if k in seen:
                continue
            seen.add(k)
            n = nodes.get(k)
            if n is not None:
                for t, cs in enumerate(n.children):
                    if not n.killed[t]:
                        stack.extend(cs)
        return False

    def receive(self, expansions: Sequence[Expansion], results: Sequence[Sequence[TacticResult]]) -> None:
        check_batch(self._pending, expansions, results)
        t0 = time.perf_counter()
        g = self.graph
        for goal, e, r in zip(self._pending, expansions, results):
            self.open.pop(goal.key, None)
            full = build_node(goal, e, r, self.cfg)
            node = self._commit(full)
            g.add_nodes([node])
            if node.error is not None:
                self.failure = f"{goal.key}: {node.error}"
                break
            d = self.depth[goal.key] + 1
            for c in node.children[0] if node.tactics else ():
                if c not in g.nodes:
                    self.depth[c] = min(self.depth.get(c, d), d)
                    self.open[c] = None
            if d > self.cfg.greedy_max_depth and node.children and node.children[0]:
                self.failure = f"depth {d} exceeds greedy_max_depth {self.cfg.greedy_max_depth}"
                break
        self.n_expanded += len(self._pending)
        self.stats["nsteps"] += 1
        self._pending = []
        self.stop_reason = stop_reason(g.proved, "failed" if self.failure else "", self.n_expanded, self.cfg,
                                       self._start)
        self._search_s += time.perf_counter() - t0

    def _commit(self, full: Node) -> Node:
        """A node with only the chosen tactic (an error node if none can be chosen)."""
        if full.error is not None:
            return full
        for t in range(len(full.tactics)):
            if full.fake[t]:
                continue
            if full.is_solved_leaf or not self._reaches(full.children[t], full.key):
                return Node(full.goal, [full.tactics[t]], [full.child_goals[t]], [full.log_priors[t]], [1.0],
                            full.critic, durations=[full.durations[t]], is_solved_leaf=full.is_solved_leaf)
        return Node(full.goal, (), (), (), (), 0.0, error="every tactic closes a cycle")

    def result(self) -> SearchResult:
        if self._pending:
            raise RuntimeError("result() while a batch is in flight")
        stats = dict(self.stats)
        stats.update({"n_expansions": float(self.n_expanded), "time": time.perf_counter() - self._start,
                      "time_search_s": self._search_s})
        res = graph_result(self.graph, self.cfg, self.label, self.goal, stats, self.stop_reason or "unfinished",
                           self.tokenizer, self.rng)
        return res

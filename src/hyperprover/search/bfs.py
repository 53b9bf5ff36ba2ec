"""Best-first search baseline (docs/htps.md, section 6; as GPT-f / ReProver): expand the open goal with the
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
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticResult
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import build_node
from hyperprover.search.samples import Tokenizer
from hyperprover.search.skeleton import GraphSearch


class BestFirst(GraphSearch):
    STATS = ("skipped_unneeded",)

    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(goal, cfg, label, tokenizer, rng)
        self.score: dict[str, float] = {goal.key: 0.0}
        self._heap: list[tuple[float, int, str]] = [(0.0, 0, goal.key)]
        self._tick = 1
        self._dropped: set[str] = set()

    def _needed(self, key: str) -> bool:
        nodes = self.graph.nodes
        return any(p is None or not nodes[p].solved for p, _ in self.graph.ancestors.get(key, ()))

    def _choose(self, budget: int) -> list[Goal]:
        want = min(self.cfg.bfs_batch, budget)
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
        return [self.graph.goals[k] for k in picked]

    def _absorb(self, goals: list[Goal], expansions: Sequence[Expansion],
                results: Sequence[Sequence[TacticResult]]) -> str:
        new = [build_node(goal, e, r, self.cfg) for goal, e, r in zip(goals, expansions, results)]
        self.graph.add_nodes(new)
        nodes = self.graph.nodes
        for k in [g.key for g in self._pending if g.key not in nodes]:  # not absorbed (skipped): open again
            heapq.heappush(self._heap, (-self.score[k], self._tick, k))
            self._tick += 1
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
        return "dead_root" if self.graph.dead else ""

"""The search hypergraph (docs/htps.md, section 1): one node per expanded goal, merged by `goal.key`.

Tactics are hyperedges from a goal to its subgoals. Two kinds of status move up the graph: a dead
goal kills every live tactic that leads to it (and a goal whose tactics are all killed is dead in
turn), and a solved goal solves every tactic whose children are all solved, through the permanent
parent links (a killed tactic can still be a solving one). Solved takes precedence over dead: a
solved node whose tactics all get killed (by a cycle) stays solved and does not kill its parents.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from hyperprover.envs.base import Goal, ProofNode

Parent = tuple[str | None, int]  # (parent key, tactic index); the root has (None, 0)
INF = float("inf")


class Node:
    """An expanded goal with its tactics and their statistics; mutable, owned by one Hypergraph."""

    __slots__ = ("goal", "key", "tactics", "children", "child_goals", "log_priors", "priors", "critic",
                 "old_critic", "fake", "durations", "error", "is_solved_leaf", "N", "W", "V", "killed",
                 "n_live", "expandable", "solving", "solved", "depth", "model_critic")

    def __init__(self, goal: Goal, tactics: Sequence[str], child_goals: Sequence[tuple[Goal, ...]],
                 log_priors: Sequence[float], priors: Sequence[float], critic: float, *,
                 fake: Sequence[bool] | None = None, durations: Sequence[float] | None = None,
                 error: str | None = None, is_solved_leaf: bool = False) -> None:
        k = len(tactics)
        self.goal = goal
        self.key = goal.key
        self.tactics = list(tactics)
        self.child_goals = list(child_goals)
        self.children = [tuple(c.key for c in cs) for cs in child_goals]
        self.log_priors = list(log_priors)
        self.priors = list(priors)
        self.critic = critic
        self.old_critic = critic
        self.fake = list(fake) if fake is not None else [False] * k
        self.durations = list(durations) if durations is not None else [0.0] * k
        self.error = error
        self.is_solved_leaf = is_solved_leaf
        self.N = [0] * k
        self.W = [0.0] * k
        self.V = [0] * k
        # fake tactics (fill / errors) only absorb prior mass: killed from the start
        self.killed = list(self.fake)
        self.n_live = k - sum(self.fake)
        self.expandable = [not f for f in self.fake]
        self.solving = [is_solved_leaf and not f for f in self.fake]
        self.solved = is_solved_leaf
        self.depth = 1 << 30
        self.model_critic: float | None = None  # the expander's raw critic (before no_critic / solved overrides)

    @property
    def is_terminal(self) -> bool:
        return self.is_solved_leaf or self.n_live == 0

    @property
    def is_bad(self) -> bool:
        return self.is_terminal and not self.solved

    @property
    def visits(self) -> int:
        return sum(self.N)


class Hypergraph:
    def __init__(self, root: Goal) -> None:
        self.root = root.key
        self.nodes: dict[str, Node] = {}
        self.goals: dict[str, Goal] = {root.key: root}
        self.ancestors: dict[str, set[Parent]] = {root.key: {(None, 0)}}
        self.permanent: dict[str, set[Parent]] = {root.key: {(None, 0)}}
        self.unexplored: set[str] = {root.key}  # rebuilt by refresh_expandable only
        self.n_killed = 0
        self.version = 0  # bumped on every change that can alter proofs
        self._minproofs: dict[str, tuple[int, dict[str, float], dict[str, list[int]]]] = {}

    @property
    def proved(self) -> bool:
        n = self.nodes.get(self.root)
        return n is not None and n.solved

    @property
    def dead(self) -> bool:
        n = self.nodes.get(self.root)
        return n is not None and n.is_bad

    # -- status propagation (docs/htps.md, section 1) -----------------------------------------------------------
    def add_nodes(self, nodes: Iterable[Node]) -> None:
        self.version += 1
        newly_solved: deque[Node] = deque()
        to_check: deque[tuple[Node, int]] = deque()
        for node in nodes:
            if node.key in self.nodes:
                raise ValueError(f"goal {node.key!r} is expanded twice")
            self.nodes[node.key] = node
            self.goals.setdefault(node.key, node.goal)
            self.ancestors.setdefault(node.key, set())
            self.permanent.setdefault(node.key, set())
            if node.is_bad:
                for p, t in list(self.ancestors[node.key]):
                    if p is not None:
                        self.kill(p, t)
                continue
            if node.is_solved_leaf:
                newly_solved.append(node)
                continue
            for t, cs in enumerate(node.child_goals):
                if node.fake[t]:
                    continue
                for c in cs:
                    ck = c.key
                    self.goals.setdefault(ck, c)
                    self.ancestors.setdefault(ck, set()).add((node.key, t))
                    self.permanent.setdefault(ck, set()).add((node.key, t))
                to_check.append((node, t))
            for t, ks in enumerate(node.children):
                if not node.killed[t] and any(self._is_bad(k) for k in ks):
                    self.kill(node.key, t)
        self._propagate_solved(newly_solved, to_check)

    def _is_bad(self, key: str) -> bool:
        n = self.nodes.get(key)
        return n is not None and n.is_bad

    def _propagate_solved(self, newly_solved: deque[Node], to_check: deque[tuple[Node, int]]) -> None:
        nodes = self.nodes
        while newly_solved or to_check:
            while to_check:
                n, t = to_check.popleft()
                if n.solving[t] or n.fake[t]:
                    continue
                if all((c := nodes.get(ck)) is not None and c.solved for ck in n.children[t]):
                    n.solving[t] = True
                    if not n.solved:
                        n.solved = True
                        newly_solved.append(n)
            if newly_solved:
                s = newly_solved.popleft()
                for p, t in self.permanent.get(s.key, ()):
                    if p is not None:
                        to_check.append((nodes[p], t))

    def kill(self, key: str, tactic: int) -> None:
        """Kill a tactic; a node left without live tactics (and not solved) kills its parents' tactics."""
        work = [(key, tactic)]
        while work:
            k, t = work.pop()
            n = self.nodes[k]
            if n.killed[t]:
                continue
            self.version += 1
            for ck in n.children[t]:
                self.ancestors[ck].discard((k, t))
            n.killed[t] = True
            n.n_live -= 1
            self.n_killed += 1
            if n.n_live == 0 and not n.solved:
                n.critic = 0.0  # the model's value stays in old_critic for the training samples
                work.extend((p, pt) for p, pt in self.ancestors[k] if p is not None)

    def check_solved_ok(self) -> None:
        """Invariant: a node is solved iff some real tactic has all its children expanded and solved."""
        for n in self.nodes.values():
            expect = any(not n.fake[t] and all(c in self.nodes and self.nodes[c].solved for c in cs)
                         for t, cs in enumerate(n.children))
            if expect != n.solved:
                raise AssertionError(f"solved status of {n.key!r} is {n.solved}, expected {expect}")

    # -- expandable masks (docs/htps.md, section 3) ---------------------------------------------------------------
    def refresh_expandable(self, stop_at_solved: bool) -> None:
        """Rebuild `unexplored` (unexpanded goals reachable through live tactics) and the masks."""
        nodes = self.nodes
        seen = {self.root}
        unexplored: set[str] = set()
        queue = deque([self.root])
        while queue:
            k = queue.popleft()
            n = nodes.get(k)
            if n is None:
                unexplored.add(k)
                continue
            if stop_at_solved and n.solved:
                continue
            for t, cs in enumerate(n.children):
                if n.killed[t]:
                    continue
                for c in cs:
                    if c not in seen:
                        seen.add(c)
                        queue.append(c)
        self.unexplored = unexplored
        for n in nodes.values():
            n.expandable = [False] * len(n.tactics)
        # walk back from the unexplored goals: every live edge on the way can still reach one
        back = deque(unexplored)
        marked = set(unexplored)
        while back:
            k = back.popleft()
            for p, t in self.ancestors.get(k, ()):
                if p is None:
                    continue
                nodes[p].expandable[t] = True
                if p not in marked:
                    marked.add(p)
                    back.append(p)

    # -- minimal proofs (docs/htps.md, section 1) -----------------------------------------------------------------
    def minproofs(self, stype: str) -> tuple[dict[str, float], dict[str, list[int]]]:
        """Per solved node: the size / depth / time of its minimal proof and the tactics achieving it.

        Knuth's generalisation of Dijkstra to AND/OR graphs: a node's value is final when popped.
        """
        cached = self._minproofs.get(stype)
        if cached is not None and cached[0] == self.version:
            return cached[1], cached[2]
        nodes = self.nodes
        size: dict[str, float] = {}
        best: dict[str, list[int]] = {}
        done_tactic: set[tuple[str, int]] = set()
        heap: list[tuple[float, int, str, int]] = []
        tick = 0  # insertion order breaks ties, so equal values keep the prior order of tactics
        for n in nodes.values():
            if n.is_solved_leaf:
                for t in range(len(n.tactics)):
                    if n.solving[t]:
                        heap.append((self._weight(n, t, stype), tick, n.key, t))
                        tick += 1
        heapq.heapify(heap)
        while heap:
            v, _, k, t = heapq.heappop(heap)
            if (k, t) in done_tactic:
                continue
            done_tactic.add((k, t))
            if v <= size.get(k, INF):
                best.setdefault(k, []).append(t)
            if k in size:
                continue
            size[k] = v
            for p, pt in self.permanent.get(k, ()):
                if p is None or (p, pt) in done_tactic:
                    continue
                pn = nodes[p]
                vals = [size.get(c, INF) for c in pn.children[pt]]
                agg = (max(vals, default=0.0) if stype == "depth" else sum(vals))
                if agg < INF:
                    heapq.heappush(heap, (self._weight(pn, pt, stype) + agg, tick, p, pt))
                    tick += 1
        self._minproofs[stype] = (self.version, size, best)
        return size, best

    @staticmethod
    def _weight(n: Node, t: int, stype: str) -> float:
        # a tiny floor keeps time strictly increasing up the proof, so extraction cannot loop
        return max(n.durations[t], 1e-9) if stype == "time" else 1.0

    def proof(self, stype: str) -> ProofNode | None:
        """The minimal proof of the root (first minimal tactic at each node), or None."""
        if not self.proved:
            return None
        _, best = self.minproofs(stype)

        def build(k: str) -> ProofNode:
            n = self.nodes[k]
            t = best[k][0]
            return ProofNode(n.goal, n.tactics[t], tuple(build(c) for c in n.children[t]))

        return build(self.root)

    def in_minproof(self, stype: str) -> set[str]:
        """Nodes reached from the root following every minimal tactic."""
        if not self.proved:
            return set()
        _, best = self.minproofs(stype)
        return self._walk(lambda n: best.get(n.key, []))

    def in_proof(self) -> set[str]:
        """Nodes in at least one proof of the root (following every solving tactic)."""
        if not self.proved:
            return set()
        return self._walk(lambda n: [t for t, s in enumerate(n.solving) if s])

    def _walk(self, tactics_of: Callable[[Node], Iterable[int]]) -> set[str]:
        seen = {self.root}
        stack = [self.root]
        while stack:
            n = self.nodes[stack.pop()]
            for t in tactics_of(n):
                for c in n.children[t]:
                    if c not in seen:
                        seen.add(c)
                        stack.append(c)
        return seen

    def depths(self) -> dict[str, int]:
        """BFS depth of every goal reachable from the root (statistics)."""
        out = {self.root: 0}
        queue = deque([self.root])
        while queue:
            k = queue.popleft()
            n = self.nodes.get(k)
            if n is None:
                continue
            for cs in n.children:
                for c in cs:
                    if c not in out:
                        out[c] = out[k] + 1
                        queue.append(c)
        return out

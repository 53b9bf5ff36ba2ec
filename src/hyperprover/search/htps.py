"""HyperTree Proof Search (docs/htps.md, sections 3 and 4): batched hypertree selection, expansion, backup.

One batch = up to `succ_expansions` simulations. A simulation descends from the root breadth-first
and, at every expanded goal, picks one tactic with the node policy and continues into ALL of that
tactic's subgoals; its leaves are unexpanded goals (sent to the model) or solved goals (value 1).
Virtual counts added on the way push later simulations of the batch elsewhere; they are all removed
by the backup, which runs once every goal of the batch has been expanded.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticResult
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import build_node
from hyperprover.search.graph import Node
from hyperprover.search.policy import choose, node_policy
from hyperprover.search.samples import Tokenizer
from hyperprover.search.skeleton import GraphSearch


class _Sim:
    """One goal occurrence in a simulation; `tactic` is -1 for a leaf."""

    __slots__ = ("key", "depth", "parent", "tactic", "children", "value")

    def __init__(self, key: str, depth: int, parent: int) -> None:
        self.key, self.depth, self.parent = key, depth, parent
        self.tactic = -1
        self.children: list[int] = []
        self.value = -1.0  # < 0: to be read from the node once expanded


class HTPS(GraphSearch):
    """One HTPS proof attempt, driven through to_expand / receive (see search.api)."""

    STATS = ("n_simulations", "useful_updates", "propagate_expandable", "failed_find_to_expand", "cycle_kills",
             "backup_from_solved", "backup_from_critic", "backup_from_failed", "backup_skipped", "simu_depth_max",
             "n_expansion_goals")

    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(goal, cfg, label, tokenizer, rng)
        self._sims: list[list[_Sim]] = []
        self._backed_up: set[tuple[int, ...]] = set()
        self._propagated = False  # expandable masks refreshed in the current batch

    # -- selection -----------------------------------------------------------------------------------
    def _choose(self, budget: int) -> list[Goal]:
        cfg, g = self.cfg, self.graph
        in_flight: dict[str, None] = {}
        self._sims = []
        self._propagated = False
        for _ in range(cfg.succ_expansions):
            if len(in_flight) >= budget or (cfg.max_nodes_in_expansion and
                                            len(in_flight) >= cfg.max_nodes_in_expansion):
                break
            sim = self._simulate()
            if sim is None and not self._propagated:
                # stale masks: rebuild them once per batch, then stop if nothing is left to expand
                self._propagated = True
                self.stats["propagate_expandable"] += 1
                g.refresh_expandable(self._stop_at_solved())
                if not g.unexplored or g.dead:
                    break
                sim = self._simulate()
            if sim is None:
                self.stats["failed_find_to_expand"] += 1
                break
            sims, leaves = sim
            new = [k for k in leaves if k not in in_flight]
            self.stats["useful_updates"] += bool(new)
            in_flight.update(dict.fromkeys(new))
            self._sims.append(sims)
        self.stats["n_simulations"] += len(self._sims)
        return [g.goals[k] for k in in_flight]

    def _nothing_to_expand(self) -> str:
        g = self.graph
        self._undo_all_virtual()
        self.stats["dead_root"] = float(g.dead)
        return "proved" if g.proved else "dead_root" if g.dead else "exhausted" if not g.unexplored else \
            "no_goal_to_expand"

    def _stop_at_solved(self) -> bool:
        return self.cfg.early_stop or (self.cfg.early_stop_on_solved_if_root_unproved and not self.graph.proved)

    def _simulate(self) -> tuple[list[_Sim], list[str]] | None:
        """One hypertree descent; None when it reaches no unexpanded goal (its virtual counts undone)."""
        cfg, g = self.cfg, self.graph
        nodes = g.nodes
        vl = cfg.virtual_loss
        level = cfg.policy_temp_level
        temp = cfg.policy_temperature
        while True:  # restarted after each cycle kill
            if g.dead:
                return None
            tau = temp * self.rng.random() if temp > 0 and level == "simutree" else temp
            sims = [_Sim(g.root, 0, -1)]
            added: list[tuple[Node, int]] = []
            leaves: list[str] = []
            root_solved = g.proved
            restart = False
            i = 0
            while i < len(sims):
                x = sims[i]
                n = nodes.get(x.key)
                if n is None:
                    leaves.append(x.key)
                    i += 1
                    continue
                if x.depth < n.depth:
                    n.depth = x.depth
                if n.is_terminal or (n.solved and (cfg.early_stop or (
                        not root_solved and cfg.early_stop_on_solved_if_root_unproved))):
                    # through live tactics the only reachable terminal is a solved one
                    x.value = 1.0 if n.solved else 0.0
                    i += 1
                    continue
                pi, allowed = node_policy(n, cfg, selection=True)
                t = choose(pi, allowed, temp * self.rng.random() if temp > 0 and level == "node" else tau, self.rng)
                if self._closes_cycle(sims, i, n.children[t]):
                    self.stats["cycle_kills"] += 1
                    g.kill(n.key, t)
                    for m, mt in added:
                        m.V[mt] -= vl
                    if self._propagated:
                        g.refresh_expandable(self._stop_at_solved())
                    restart = True
                    break
                n.V[t] += vl
                added.append((n, t))
                x.tactic = t
                d = x.depth + 1
                for c in n.children[t]:
                    x.children.append(len(sims))
                    sims.append(_Sim(c, d, i))
                i += 1
            if restart:
                continue
            if not leaves:
                for m, mt in added:
                    m.V[mt] -= vl
                return None
            depth = sims[-1].depth
            if depth > self.stats["simu_depth_max"]:
                self.stats["simu_depth_max"] = depth
            return sims, leaves

    @staticmethod
    def _closes_cycle(sims: list[_Sim], i: int, children: Sequence[str]) -> bool:
        if not children:
            return False
        j = i
        while j >= 0:
            if sims[j].key in children:
                return True
            j = sims[j].parent
        return False

    def _undo_all_virtual(self) -> None:
        for sims in self._sims:
            self._undo_virtual(sims)
        self._sims = []

    def _undo_virtual(self, sims: list[_Sim]) -> None:
        vl = self.cfg.virtual_loss
        for x in sims:
            if x.tactic >= 0:
                self.graph.nodes[x.key].V[x.tactic] -= vl

    # -- expansion and backup ------------------------------------------------------------------------
    def _absorb(self, goals: list[Goal], expansions: Sequence[Expansion],
                results: Sequence[Sequence[TacticResult]]) -> str:
        cfg, g = self.cfg, self.graph
        g.add_nodes([build_node(goal, e, r, cfg) for goal, e, r in zip(goals, expansions, results)])
        for sims in self._sims:
            if all(x.tactic >= 0 or x.key in g.nodes for x in sims):
                self._backup(sims)
            else:  # a leaf was not expanded (its tactics were skipped): nothing learned on this path
                self._undo_virtual(sims)
        for sims in self._sims:  # the invariant the whole batch scheme rests on
            for x in sims:
                if x.tactic >= 0 and g.nodes[x.key].V[x.tactic] != 0:
                    raise AssertionError(f"virtual count of {x.key!r} tactic {x.tactic} is not back to 0")
        self.stats["n_expansion_goals"] += len(goals)
        self._sims = []
        return "dead_root" if g.dead else ""

    def _proved(self) -> bool:
        return self.cfg.early_stop and self.graph.proved  # without early_stop the search goes on after a proof

    def _backup(self, sims: list[_Sim]) -> None:
        cfg, nodes = self.cfg, self.graph.nodes
        vl, gamma = cfg.virtual_loss, cfg.depth_penalty
        skip = False
        if sims[0].tactic < 0:  # the root itself was the leaf: nothing to back up
            return
        if cfg.backup_once:
            h = tuple(x.tactic for x in sims)
            skip = h in self._backed_up
            self._backed_up.add(h)
            self.stats["backup_skipped"] += skip
        for x in reversed(sims):  # children always come after their parent
            n = nodes[x.key]
            if x.tactic < 0:
                if x.value < 0:  # a goal expanded in this batch: 1 solved, 0 failed, else its critic
                    x.value = 1.0 if n.solved else n.critic
                key = "backup_from_solved" if x.value == 1.0 else "backup_from_failed" if n.is_bad \
                    else "backup_from_critic"
                self.stats[key] += 1
                continue
            v = math.prod(sims[c].value for c in x.children)
            if n.solved and cfg.backup_one_for_solved:
                v = 1.0
            if gamma < 1.0:
                v *= gamma
            x.value = v
            n.V[x.tactic] -= vl
            if not skip:
                n.N[x.tactic] += 1
                n.W[x.tactic] += v

    # -- result --------------------------------------------------------------------------------------
    def _final_stats(self, stats: dict[str, float]) -> None:
        stats["simulations_per_s"] = stats["n_simulations"] / max(self._search_s, 1e-9)

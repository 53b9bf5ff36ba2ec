"""The hypergraph: kill and solved propagation, merging, cycles, minimal proofs by size and by depth."""

from __future__ import annotations

import pytest

from hyperprover.search.graph import Hypergraph, Node
from search_fixtures import ToyGoal


def mk(key: str, tactics: dict[str, tuple[str, ...]], critic: float = .5) -> Node:
    names = list(tactics)
    if names and all(not tactics[t] for t in names):
        return Node(ToyGoal(key), names, [()] * len(names), [0.0] * len(names), [1 / len(names)] * len(names),
                    1.0, is_solved_leaf=True)
    return Node(ToyGoal(key), names, [tuple(ToyGoal(c) for c in tactics[t]) for t in names],
                [0.0] * len(names), [1 / len(names)] * len(names), critic)


def failed(key: str) -> Node:
    return Node(ToyGoal(key), (), (), (), (), 0.0, error="failed")


def graph(root: str, *nodes: Node) -> Hypergraph:
    g = Hypergraph(ToyGoal(root))
    g.add_nodes(nodes)
    return g


def test_kills_propagate_up_through_live_parents_only() -> None:
    g = graph("R", mk("R", {"a": ("A",), "b": ("B",)}), mk("A", {"x": ("A1",), "y": ("A2",)}, critic=.7))
    g.add_nodes([failed("A1")])
    assert g.nodes["A"].killed == [True, False] and not g.nodes["A"].is_bad
    g.add_nodes([failed("A2")])
    a = g.nodes["A"]
    assert a.is_bad and a.critic == 0 and a.old_critic == .7
    assert g.nodes["R"].killed == [True, False] and not g.dead
    assert g.ancestors["A"] == set()  # the link through the killed tactic is gone ...
    assert g.permanent["A"] == {("R", 0)}  # ... but the permanent one stays
    g.add_nodes([failed("B")])
    assert g.dead and g.nodes["R"].n_live == 0


def test_a_tactic_leading_to_an_already_dead_goal_is_killed_at_creation() -> None:
    g = graph("R", mk("R", {"a": ("D",), "b": ("E",)}), failed("D"))
    g.add_nodes([mk("E", {"e": ("D",), "f": ("F",)})])
    assert g.nodes["E"].killed == [True, False]


def test_solved_propagates_through_merged_goals() -> None:
    # M is shared by R's tactics a and b; solving M and X solves a (b still waits for Y)
    g = graph("R", mk("R", {"a": ("M", "X"), "b": ("M", "Y")}), mk("X", {"x": ("M",)}))
    assert not g.proved
    g.add_nodes([mk("M", {"close": ()})])
    r = g.nodes["R"]
    assert g.nodes["X"].solved and r.solving == [True, False] and g.proved
    g.check_solved_ok()


def test_solved_reaches_parents_through_killed_tactics() -> None:
    # R -a-> A is killed (as by a cycle); A's later proof still solves R through the permanent link
    g = graph("R", mk("R", {"a": ("A",), "b": ("B",)}), mk("A", {"x": ("C",)}))
    g.kill("R", 0)
    assert g.nodes["R"].killed == [True, False]
    g.add_nodes([mk("C", {"close": ()})])
    assert g.nodes["A"].solved and g.nodes["R"].solving == [True, False] and g.proved


def test_solved_takes_precedence_over_kills() -> None:
    g = graph("R", mk("R", {"a": ("A",)}), mk("A", {"x": ("C",)}), mk("C", {"close": ()}))
    assert g.proved
    g.kill("R", 0)  # a solved node whose tactics all die stays solved and alive
    assert g.nodes["R"].solved and not g.nodes["R"].is_bad and not g.dead


def test_expandable_masks_follow_unexplored_goals() -> None:
    g = graph("R", mk("R", {"a": ("A",), "b": ("B",)}), mk("A", {"x": ("C",)}), mk("C", {"close": ()}))
    g.refresh_expandable(stop_at_solved=False)
    assert g.unexplored == {"B"}
    assert g.nodes["R"].expandable == [False, True] and g.nodes["A"].expandable == [False]
    g.kill("R", 1)
    g.refresh_expandable(stop_at_solved=False)
    assert g.unexplored == set()


def test_cycles_are_allowed_in_the_graph_and_minimal_proofs_avoid_them() -> None:
    # A -u-> R closes a loop; the only proof goes R -t-> A -v-> B
    g = graph("R", mk("R", {"t": ("A",)}), mk("A", {"u": ("R",), "v": ("B",)}), mk("B", {"c": ()}))
    assert g.proved
    p = g.proof("size")
    assert p is not None and [t for _, t in p.steps()] == ["t", "v", "c"]


def minproof_graph() -> Hypergraph:
    # a: three closing children (size 4, depth 2); b: a chain (size 3, depth 3)
    return graph("R", mk("R", {"a": ("A", "B", "C"), "b": ("D",)}), mk("A", {"c": ()}), mk("B", {"c": ()}),
                 mk("C", {"c": ()}), mk("D", {"d": ("E",)}), mk("E", {"c": ()}))


@pytest.mark.parametrize("stype,size,first", [("size", 3.0, "b"), ("depth", 2.0, "a")])
def test_minimal_proof_by_size_and_by_depth(stype: str, size: float, first: str) -> None:
    g = minproof_graph()
    sizes, best = g.minproofs(stype)
    assert sizes["R"] == size and g.nodes["R"].tactics[best["R"][0]] == first
    assert sizes["D"] == 2.0 and sizes["A"] == 1.0
    p = g.proof(stype)
    assert p is not None and p.tactic == first
    assert (p.size() if stype == "size" else p.depth()) == size
    assert g.in_minproof(stype) == ({"R", "D", "E"} if stype == "size" else {"R", "A", "B", "C"})
    assert g.in_proof() == {"R", "A", "B", "C", "D", "E"}


def test_shared_subgoal_counts_once_per_use_in_size() -> None:
    # R -a-> (S, S'): both need M twice over; size counts the unfolded tree
    g = graph("R", mk("R", {"a": ("S", "T")}), mk("S", {"s": ("M",)}), mk("T", {"t": ("M",)}),
              mk("M", {"m": ()}))
    assert g.minproofs("size")[0]["R"] == 5.0 and g.minproofs("depth")[0]["R"] == 3.0


def test_time_proofs_sum_tactic_durations() -> None:
    r = Node(ToyGoal("R"), ["slow", "fast"], [(ToyGoal("A"),), (ToyGoal("B"), ToyGoal("C"))], [0.0, 0.0],
             [.5, .5], .5, durations=[1.0, 2.0])
    leaf = [Node(ToyGoal(k), ["c"], [()], [0.0], [1.0], 1.0, durations=[d], is_solved_leaf=True)
            for k, d in (("A", 5.0), ("B", .5), ("C", .5))]
    g = graph("R", r, *leaf)
    assert g.minproofs("time")[0]["R"] == pytest.approx(3.0)
    assert g.minproofs("size")[0]["R"] == 2.0  # by size, slow wins
    p = g.proof("time")
    assert p is not None and p.tactic == "fast"

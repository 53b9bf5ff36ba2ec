"""The random-graph generator `eq_bwd_graph` (docs/equations.md 4.3).

A graph is a forward derivation DAG. It starts from random hypotheses; each trial draws a rule and
tries to derive a new statement from existing nodes. A transformation rule rewrites an instance of its
source side found in some node, its side conditions being other nodes (matched as a whole) or
trivially true; an assertion rule concludes from nodes matching all its hypotheses. Variables left
open are filled with random expressions. Each new node records the nodes it came from and the backward
tactic that reduces it to them. Theorems are nodes sampled from the graph, proved from the initial
hypotheses their derivation actually uses; the proof tree is replayed through the env as it is built.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from hyperprover.envs.base import ProofNode
from hyperprover.envs.equations.env import EqGoal, assert_tactic, transform_tactic
from hyperprover.envs.equations.gencontext import GenContext, GenerationError, PositionIndex, goal_len, replay
from hyperprover.envs.equations.node import Node, substitute, variables
from hyperprover.envs.equations.numeric import is_valid
from hyperprover.envs.equations.rules import Rule, match
from hyperprover.envs.equations.sampler import SamplerError, random_statement

log = logging.getLogger(__name__)
HYP_OPS = ("==", "!=", "<=", "<")
DERIVED = ("T", "A")  # kinds of nodes that have a tactic (the others: "hyp", "true")


@dataclass(frozen=True)
class GraphNode:
    stmt: Node
    kind: str  # "hyp" | "true" | "T" | "A"
    children: tuple[int, ...] = ()  # the nodes it was derived from
    tactic: str = ""  # the backward tactic reducing it to its children (derived nodes only)
    rule: str = ""  # name of the rule that derived it


@dataclass
class Graph:
    nodes: list[GraphNode] = field(default_factory=list)
    ids: dict[Node, int] = field(default_factory=dict)
    n_true: int = 0
    # node ids containing a subterm with a given root symbol: where a rule's source side may match
    with_root: dict[tuple[str, object], list[int]] = field(default_factory=dict)
    by_cmp: dict[str, list[int]] = field(default_factory=dict)
    _index: dict[int, PositionIndex] = field(default_factory=dict)

    def add(self, node: GraphNode) -> int:
        nid = len(self.nodes)
        self.nodes.append(node)
        self.ids[node.stmt] = nid
        self.n_true += node.kind == "true"
        idx = self._index[nid] = PositionIndex.of(node.stmt)
        for key in idx.by_root:
            self.with_root.setdefault(key, []).append(nid)
        self.by_cmp.setdefault(node.stmt.value, []).append(nid)  # type: ignore[arg-type]
        return nid

    def index(self, nid: int) -> PositionIndex:
        return self._index[nid]


def _rotated(items: list[int], rng: random.Random) -> list[int]:
    # a random starting point instead of a full shuffle: graphs try ~1000 rules over ~500 nodes
    k = rng.randrange(len(items))
    return items[k:] + items[:k]


def _bind_hyps(ctx: GenContext, rng: random.Random, graph: Graph, hyps: tuple[Node, ...],
               binding: dict[str, Node]) -> list[int] | None:
    """Satisfy the rule hypotheses with existing nodes, extending `binding`; the ids of the nodes used.

    The biggest patterns go first (they bind the most variables); a hypothesis already fully bound must
    be a node or trivially true.
    """
    used: list[int] = []
    for h in sorted(hyps, key=lambda n: -n.size):
        if variables(h) <= binding.keys():
            inst = substitute(h, binding)
            nid = graph.ids.get(inst)
            if nid is not None:
                used.append(nid)
            elif ctx.eval_assert(inst) is not True:
                return None
            continue
        cands = graph.by_cmp.get(str(h.value), [])
        if not cands:
            return None
        for nid in _rotated(cands, rng):
            m = match(h, graph.nodes[nid].stmt)
            if m is not None and all(binding.get(k, v) == v for k, v in m.items()):
                binding.update(m)
                used.append(nid)
                break
        else:
            return None
    return used


def _transform_trial(ctx: GenContext, rng: random.Random, graph: Graph, uses: dict[str, int],
                     pairs: list[tuple[Rule, bool]]) -> GraphNode | None:
    rule, fwd = rng.choices(pairs, weights=[1.0 / max(uses.get(r.name, 0), 1) ** ctx.gen.graph_bias_rules
                                            for r, _ in pairs])[0]
    src, _ = rule.sides(fwd)
    if src.kind == "var":
        cands = list(range(len(graph.nodes)))
    else:
        cands = graph.with_root.get((src.kind, src.value), [])
    if not cands:
        return None
    for nid in _rotated(cands, rng):
        apps = graph.index(nid).matches(rule, fwd)
        if apps:
            break
    else:
        return None
    app = rng.choice(apps)
    binding = dict(app.binding)
    hyp_ids = _bind_hyps(ctx, rng, graph, rule.hyps, binding)
    if hyp_ids is None:
        return None
    full = {**binding, **ctx.sampler.fill(rng, app.to_fill - binding.keys())}
    new, _ = app.fill({v: full[v] for v in app.to_fill})
    assert new is not None
    back = not fwd
    tactic = transform_tactic(rule, back, app.pos, {v: full[v] for v in rule.to_fill(back)})
    return GraphNode(new, "T", (nid, *hyp_ids), tactic, rule.name)


def _assert_trial(ctx: GenContext, rng: random.Random, graph: Graph, uses: dict[str, int]) -> GraphNode | None:
    rules = ctx.a_rules
    if graph.n_true >= ctx.gen.graph_max_true_nodes:  # enough trivial facts: only rules that build on nodes
        rules = tuple(r for r in rules if r.hyps)
    rule = rng.choices(rules, weights=[1.0 / max(uses.get(r.name, 0), 1) ** ctx.gen.graph_bias_rules
                                       for r in rules])[0]
    binding: dict[str, Node] = {}
    hyp_ids = _bind_hyps(ctx, rng, graph, rule.hyps, binding)
    if hyp_ids is None:
        return None
    full = {**binding, **ctx.sampler.fill(rng, variables(rule.left) - binding.keys())}
    new = substitute(rule.left, full)
    tactic = assert_tactic(rule, {v: full[v] for v in rule.fill_fwd})
    return GraphNode(new, "A", tuple(hyp_ids), tactic, rule.name)


def _initial_hyps(ctx: GenContext, rng: random.Random) -> list[Node]:
    g = ctx.gen
    n = rng.randint(0, g.graph_max_init_hyps)
    for _ in range(100):
        hyps: list[Node] = []
        for _ in range(n):
            h = random_statement(ctx.sampler, rng, g.graph_hyp_max_ops, HYP_OPS, ctx.eval_assert)
            if h not in hyps:
                hyps.append(h)
        if 2 * sum(h.value == "!=" for h in hyps) <= len(hyps):  # mostly `!=` says little: redraw
            return hyps
    return []


def random_graph(ctx: GenContext, rng: random.Random) -> Graph:
    g = ctx.gen
    graph = Graph()
    for h in _initial_hyps(ctx, rng):
        graph.add(GraphNode(h, "hyp"))
    pairs = [(r, fwd) for r in ctx.t_rules for fwd in (True, False)]
    uses: dict[str, int] = {}
    for _ in range(g.graph_max_trials):
        if len(graph.nodes) >= g.graph_n_nodes:
            break
        if not graph.nodes and rng.random() < g.graph_tf_prob:
            continue  # nothing to rewrite yet
        try:
            if graph.nodes and rng.random() < g.graph_tf_prob:
                node = _transform_trial(ctx, rng, graph, uses, pairs)
            else:
                node = _assert_trial(ctx, rng, graph, uses)
        except SamplerError:
            continue
        if node is None or node.stmt in graph.ids or node.stmt.size > g.max_tokens or not is_valid(node.stmt):
            continue
        truth = ctx.eval_assert(node.stmt)
        if truth is False:
            continue
        if truth is True:
            if graph.n_true >= g.graph_max_true_nodes or not node.stmt.has_var:
                continue
            node = GraphNode(node.stmt, "true", rule=node.rule)
        uses[node.rule] = uses.get(node.rule, 0) + 1
        graph.add(node)
    return graph


def _tree_size(graph: Graph, nid: int, memo: dict[int, int]) -> int:
    """Steps of the proof tree of a node (shared sub-derivations count once per use)."""
    if nid not in memo:
        memo[nid] = 1 + sum(_tree_size(graph, c, memo) for c in graph.nodes[nid].children
                            if graph.nodes[c].kind in DERIVED)
    return memo[nid]


def _used_hyps(graph: Graph, nid: int) -> list[Node]:
    seen, stack, out = {nid}, [nid], []
    while stack:
        node = graph.nodes[stack.pop()]
        if node.kind == "hyp":
            out.append(node.stmt)
        for c in node.children:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return out


def node_proof(ctx: GenContext, graph: Graph, nid: int) -> tuple[EqGoal, ProofNode]:
    """The theorem of node `nid` (given the initial hypotheses it uses) and its replayed proof."""
    root = EqGoal(graph.nodes[nid].stmt, tuple(_used_hyps(graph, nid)))
    memo: dict[int, ProofNode] = {}

    def prove(i: int) -> ProofNode:
        if i not in memo:
            node = graph.nodes[i]
            goal = root.with_conclusion(node.stmt)
            kids = []
            for k in replay(ctx.env, goal, node.tactic):
                c = graph.ids.get(k.conclusion)
                if c is None or c not in node.children or graph.nodes[c].kind not in DERIVED:
                    raise GenerationError(f"node {i}: unexpected subgoal {k.text()} ({node.tactic})")
                kids.append(prove(c))
            memo[i] = ProofNode(goal, node.tactic, tuple(kids))
        return memo[i]

    return root, prove(nid)


def graph_theorems(ctx: GenContext, rng: random.Random) -> list[tuple[int, EqGoal, ProofNode]]:
    """Theorems sampled from one random graph: (node id, goal, proof)."""
    g = ctx.gen
    graph = random_graph(ctx, rng)
    eligible = [i for i, n in enumerate(graph.nodes) if n.kind in DERIVED and n.stmt.value != "!="]
    picked = rng.sample(eligible, min(g.graph_n_samples, len(eligible)))
    sizes: dict[int, int] = {}
    out = []
    for nid in picked:
        if _tree_size(graph, nid, sizes) > g.graph_max_proof_size:
            continue
        try:
            goal, proof = node_proof(ctx, graph, nid)
        except GenerationError as e:  # a generator bug: keep going, but say so
            log.warning("graph theorem dropped: %s", e)
            continue
        if goal_len(goal) <= g.max_tokens:
            out.append((nid, goal, proof))
    return out

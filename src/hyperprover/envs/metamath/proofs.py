"""Proofs between the two worlds: human proofs -> backward (goal, tactic) steps, and proof trees found
by search -> Metamath proofs (normal, compressed, and as a `.mm` snippet the C program can check).

The normal form (`to_metamath`, `MMProof`) is what `MetamathEnv.check_proof` verifies, so it lives in
env.py and is re-exported here; this module builds on the env, never the reverse."""

from __future__ import annotations

from collections import Counter

from hyperprover.envs.base import ProofError, ProofNode
from hyperprover.envs.metamath import compressed
from hyperprover.envs.metamath.database import Assertion, Hyp
from hyperprover.envs.metamath.env import MetamathEnv, MMGoal, MMProof, _Fail, format_tactic
from hyperprover.envs.metamath.env import to_metamath as to_metamath  # re-exported: it is the env's proof check
from hyperprover.envs.metamath.verify import Node

# ---- human proofs -> backward steps ---------------------------------------------------------------

def human_steps(env: MetamathEnv, label: str) -> list[tuple[MMGoal, str]]:
    """(goal, tactic) pairs of the database proof of `label`, root first. Syntax steps are dropped
    (the env closes them); a statement proved twice keeps the derivation that was completed first,
    so the steps never form a cycle. A syntax theorem (set.mm proves three: `weq`, `wel`, `bj-0`) has none: the
    env closes syntax goals itself, so there is no backward step to learn from it."""
    db, syntactic = env.db, env.grammar.is_syntactic
    if syntactic(db.assertions[label].stmt[0]):
        return []
    ctx = env.context(label)
    tree = env.verifier.execute(db.assertions[label])
    chosen: dict[tuple[str, ...], Node] = {}
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:  # post-order over the proof DAG
        node, done = stack.pop()
        if done:
            if node.label in db.assertions and node.stmt not in chosen:
                chosen[node.stmt] = node
            continue
        if id(node) in seen or syntactic(node.stmt[0]):
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.children))
    root = tree.stmt
    if root in ctx.hyp_stmts:
        return [(MMGoal(ctx, root), ctx.hyp_stmts[root])]
    out: list[tuple[MMGoal, str]] = []
    emitted: set[tuple[str, ...]] = set()
    todo = [root]
    while todo:
        stmt = todo.pop()
        if stmt in emitted or stmt in ctx.hyp_stmts:
            continue
        emitted.add(stmt)
        node = chosen[stmt]
        goal = MMGoal(ctx, stmt)
        out.append((goal, step_tactic(env, goal, db.assertions[node.label], node)))
        todo.extend(c.stmt for c in reversed(node.children) if not syntactic(c.stmt[0]))
    return out


def step_tactic(env: MetamathEnv, goal: MMGoal, a: Assertion, node: Node) -> str:
    """The tactic of one proof step: substitutions for the variables outside the conclusion, and for
    all variables when the grammar matches the conclusion differently (ambiguous grammars: miu.mm)."""
    sub = dict(node.subst)
    concl = set(a.stmt[1:])
    short = {v: sub[v] for v in a.variables if v not in concl}
    try:
        if dict(env.instantiate(goal, a.label, short).subst) == sub:
            return format_tactic(a.label, short)
    except _Fail:
        pass
    return format_tactic(a.label, sub)


def replay(env: MetamathEnv, label: str, steps: list[tuple[MMGoal, str]] | None = None) -> ProofNode:
    """Rebuild the proof of `label` through the backward env from its human steps; raises ProofError
    if a step fails or leaves a goal that the steps do not prove."""
    steps = human_steps(env, label) if steps is None else steps
    tactic = {g.stmt: t for g, t in steps}
    built: dict[tuple[str, ...], ProofNode] = {}

    def build(goal: MMGoal, depth: int) -> ProofNode:
        done = built.get(goal.stmt)
        if done is not None:
            return done
        t = tactic.get(goal.stmt)
        if t is None or depth > len(steps):
            raise ProofError(f"{label}: no step proves '{' '.join(goal.stmt)}'")
        res = env.apply(goal, t)
        if res.error is not None:
            raise ProofError(f"{label}: tactic {t!r} on '{' '.join(goal.stmt)}': {res.error}")
        node = ProofNode(goal, t, tuple(build(c, depth + 1) for c in res.children if isinstance(c, MMGoal)))
        built[goal.stmt] = node
        return node

    return build(env.theorem_goal(label), 0)


# ---- compression and .mm export -------------------------------------------------------------------------

def compress(env: MetamathEnv, labels: tuple[str, ...], hyps: tuple[str, ...]) -> tuple[list[str], str]:
    """Compressed form (label list, letters) of a normal proof whose mandatory hypotheses are `hyps`,
    in order. Subproofs that occur more than once are marked with `Z` and reused."""
    db, hypset = env.db, set(hyps)
    arity = {lab: len(db.assertions[lab].hyps) if lab in db.assertions and lab not in hypset else 0
             for lab in set(labels)}
    ids: dict[tuple[str, tuple[int, ...]], int] = {}
    nodes: list[tuple[str, tuple[int, ...]]] = []
    stack: list[int] = []
    for lab in labels:  # hash-cons the proof tree so that equal subproofs get one id
        n = arity[lab]
        if len(stack) < n:
            raise ProofError(f"proof is malformed at {lab}: needs {n} hypotheses on the stack")
        key = (lab, tuple(stack[len(stack) - n :]))
        del stack[len(stack) - n :]
        if key not in ids:
            ids[key] = len(nodes)
            nodes.append(key)
        stack.append(ids[key])
    if len(stack) != 1:
        raise ProofError(f"proof leaves {len(stack)} statements on the stack")
    uses: Counter[int] = Counter()
    walk = [stack[0]]
    while walk:  # how often each subproof is needed in the full tree (counting each parent once)
        i = walk.pop()
        uses[i] += 1
        if uses[i] == 1:
            walk.extend(nodes[i][1])
    freq = Counter(nodes[i][0] for i in uses)
    listed = sorted((lab for lab in freq if lab not in hypset), key=lambda lab: (-freq[lab], lab))
    number = {lab: i for i, lab in enumerate(list(hyps) + listed, 1)}
    saved: dict[int, int] = {}
    out: list[int] = []
    base = len(number)

    def emit(i: int) -> None:
        if i in saved:
            out.append(base + saved[i])
            return
        lab, kids = nodes[i]
        for k in kids:
            emit(k)
        out.append(number[lab])
        if uses[i] > 1 and kids:
            out.append(compressed.SAVE)
            saved[i] = len(saved) + 1

    emit(stack[0])
    return listed, compressed.encode(out)


def snippet(env: MetamathEnv, mm: MMProof, label: str = "hyperprover.proof", include: str | None = None) -> str:
    """A `.mm` text that states and proves `mm` (compressed) after the database; `include` is the name
    used in `$[ $]` (None: no inclusion line, for appending to the database text)."""
    db, ctx = env.db, mm.goal.ctx
    rename: dict[str, str] = {}
    lines = [f"$[ {include} $]"] if include else []
    lines.append("${")
    fresh_vars = sorted({h.stmt[1] for h in mm.hyps + mm.extra_hyps if h.kind == "f"} - db.top_vars)
    if fresh_vars:
        lines.append(f"  $v {' '.join(fresh_vars)} $.")
    top_f: list[Hyp] = []
    declared: list[Hyp] = []
    for h in sorted(mm.hyps + mm.extra_hyps, key=lambda h: h.seq):
        if h.kind != "f":
            continue
        top = db.top_f.get(h.stmt[1])
        if top is None:
            declared.append(h)
            rename[h.label] = f"{label}.f{len(declared)}"
            lines.append(f"  {rename[h.label]} $f {' '.join(h.stmt)} $.")
            continue
        if top.stmt != h.stmt:
            raise ProofError(f"variable {h.stmt[1]} is a {top.stmt[0]} at the end of the database, not a {h.stmt[0]}")
        rename[h.label] = top.label
        if h in mm.hyps:
            top_f.append(top)
    new_f = [h for h in declared if h in mm.hyps]
    lines.extend(f"  $d {x} {y} $." for x, y in sorted(mm.dvs))
    for i, (lab, s) in enumerate(ctx.hyps, 1):
        rename[lab] = f"{label}.h{i}"
        lines.append(f"  {rename[lab]} $e {' '.join(s)} $.")
    top_f.sort(key=lambda h: h.seq)  # the snippet's mandatory order: database $f, new $f, then $e
    order = [h.label for h in top_f] + [rename[h.label] for h in new_f] + [rename[lab] for lab, _ in ctx.hyps]
    listed, letters = compress(env, tuple(rename.get(x, x) for x in mm.labels), tuple(order))
    body = "\n".join("    " + line for line in letters.splitlines())
    lines.append(f"  {label} $p {' '.join(mm.goal.stmt)} $=\n    ( {' '.join(listed)} )\n{body} $.")
    lines.append("$}")
    return "\n".join(lines) + "\n"

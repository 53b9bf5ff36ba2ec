"""Equations environment throughput: tactic applications per second, generator speed, time split.

Workload (fixed, seeded): the proof steps of random-walk theorems (valid tactics) mixed one to one with
invalid ones built from them (the tactic of another goal, a shifted position, a missing substitution,
an unknown rule name). Every figure is for one process on one core.

Baseline, measured in the same run on the same workload: `naive_apply` below, a direct re-implementation
of spec 3.2 without any of the env's speed work (no size/hash short-cuts in matching, positions found by
re-serializing subtrees, constant evaluation and exact folding recomputed for every child, hypotheses
compared as prefix strings, every hypothesis-free assertion rule tried in turn for `eval_assert`). It
gives the same result as the env on every tactic of the mix (checked before timing), so the ratio is
what the env's caches and indexes buy. The original implementation cannot run here (its code is not
part of this project), so this stands in for it.

    python benchmarks/eq_env.py            # ~1 minute
    python benchmarks/eq_env.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from collections.abc import Callable
from fractions import Fraction

from hyperprover.envs.equations.env import EqGoal, EquationsEnv, goal_from_tokens
from hyperprover.envs.equations.expr import INT_VARS, Node, is_valid
from hyperprover.envs.equations.generators import context, generate
from hyperprover.envs.equations.rules import Rule, RuleError, assertion, transform
from hyperprover.envs.equations.tactics import negate, parse_tactic

Item = tuple[EqGoal, str]


# ---------------------------------------------------------------- the workload


def build_mix(n_theorems: int, seed: int = 0) -> tuple[list[Item], int]:
    """(goal, tactic) pairs, valid first then as many invalid ones; returns the mix and the valid count."""
    valid: list[Item] = []
    for th in generate("rwalk", n_theorems, seed=seed, namespace="bench"):
        valid.extend((g, t) for g, t in th.meta["proof"].steps())  # type: ignore[misc]
    rng = random.Random(seed)
    invalid: list[Item] = []
    for i, (goal, tac) in enumerate(valid):
        kind = i % 4
        if kind == 0:  # another goal's tactic: mostly no match at that position
            invalid.append((goal, valid[rng.randrange(len(valid))][1]))
        elif kind == 1:  # the right rule one token further
            head, _, rest = tac.partition("<PREFIX_")
            pos, _, tail = rest.partition(">")
            invalid.append((goal, f"{head}<PREFIX_{int(pos) + 1}>{tail}"))
        elif kind == 2:  # substitutions dropped (an error for rules that need them, else a shuffle)
            invalid.append((goal, tac.split(" <SUBST>")[0] if "<SUBST>" in tac else valid[i - 1][1]))
        else:
            invalid.append((goal, tac.replace("T||", "T||X", 1)))  # unknown rule
    return valid + invalid, len(valid)


def fresh(mix: list[Item]) -> list[Item]:
    """The same goals rebuilt from their tokens: new nodes without any memoized facts.

    The workload's own nodes (hundreds of thousands) are then moved out of the garbage collector's
    view, so that timings do not depend on how many objects the benchmark keeps alive."""
    out = [(goal_from_tokens(g.tokens()), t) for g, t in mix]
    gc.collect()
    gc.freeze()
    return out


# ---------------------------------------------------------------- the naive baseline


def _size(n: Node) -> int:
    return len(n.prefix())


def _subtree(n: Node, pos: int) -> Node | None:
    if pos == 0:
        return n
    p = 1
    for c in n.children:
        s = _size(c)
        if pos < p + s:
            return _subtree(c, pos - p)
        p += s
    return None


def _replace(n: Node, pos: int, new: Node) -> Node:
    if pos == 0:
        return new
    p, kids = 1, list(n.children)
    for i, c in enumerate(kids):
        s = _size(c)
        if pos < p + s:
            kids[i] = _replace(c, pos - p, new)
            return Node(n.kind, n.value, tuple(kids))
        p += s
    raise IndexError(pos)


def _same(a: Node, b: Node) -> bool:
    return a.kind == b.kind and a.value == b.value and len(a.children) == len(b.children) and all(
        _same(x, y) for x, y in zip(a.children, b.children))


def _match(p: Node, e: Node, b: dict[str, Node]) -> bool:
    if p.kind == "var":
        name = str(p.value)
        if e.kind == "cmp" or (name in INT_VARS and e.kind != "int"):
            return False
        if name in b:
            return _same(b[name], e)
        b[name] = e
        return True
    return p.kind == e.kind and p.value == e.value and all(_match(x, y, b) for x, y in zip(p.children, e.children))


def _subst(n: Node, b: dict[str, Node]) -> Node:
    if n.kind == "var":
        return b.get(str(n.value), n)
    return Node(n.kind, n.value, tuple(_subst(c, b) for c in n.children)) if n.children else n


_F1: dict[str, Callable[[float], float]] = {
    "neg": lambda x: -x, "inv": lambda x: 1 / x, "exp": math.exp, "ln": math.log, "pow2": lambda x: x * x,
    "sqrt": math.sqrt, "abs": abs, "cos": math.cos, "sin": math.sin, "tan": math.tan, "cosh": math.cosh,
    "sinh": math.sinh, "tanh": math.tanh}
_F2: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


def _value(n: Node) -> float:
    try:
        if n.kind == "int":
            return float(n.value)
        if n.kind == "const":
            return math.pi
        if n.kind == "unary":
            v = _F1[n.value](_value(n.children[0]))  # type: ignore[index]
        else:
            v = _F2[n.value](_value(n.children[0]), _value(n.children[1]))  # type: ignore[index]
        return v if math.isfinite(v) else math.nan
    except (ValueError, ZeroDivisionError, OverflowError):
        return math.nan


def _has_var(n: Node) -> bool:
    return n.kind == "var" or any(_has_var(c) for c in n.children)


def _valid(n: Node, root: bool = True) -> bool:
    if n.kind == "cmp":
        return root and all(_valid(c, False) for c in n.children)
    if not all(_valid(c, False) for c in n.children):
        return False
    if n.kind == "binary" and n.value == "div" and not _has_var(n.children[1]):
        v = _value(n.children[1])
        return not math.isnan(v) and abs(v) >= 1e-8
    if n.kind == "unary" and not _has_var(n):
        x = _value(n.children[0])
        if math.isnan(x) or math.isnan(_value(n)):
            return False
        op = n.value
        if op == "inv":
            return abs(x) >= 1e-8
        if op == "ln":
            return x >= 1e-8
        if op == "tan":
            r = math.fmod(abs(x) - math.pi / 2, math.pi)
            return min(abs(r), math.pi - abs(r)) > 1e-8
    return True


def _frac(n: Node) -> Fraction | None:
    if n.kind == "int":
        return Fraction(n.value)  # type: ignore[arg-type]
    if n.kind not in ("unary", "binary"):
        return None
    xs = [_frac(c) for c in n.children]
    if any(x is None for x in xs):
        return None
    op = n.value
    if op == "neg":
        return -xs[0]  # type: ignore[operator]
    if op == "pow2":
        return xs[0] * xs[0]  # type: ignore[operator]
    if op == "inv":
        return 1 / xs[0] if xs[0] else None  # type: ignore[operator]
    a, b = (xs + [None])[:2]
    if op == "add":
        return a + b  # type: ignore[operator]
    if op == "sub":
        return a - b  # type: ignore[operator]
    if op == "mul":
        return a * b  # type: ignore[operator]
    if op == "div":
        return a / b if b else None  # type: ignore[operator]
    return None


def _fold(n: Node) -> Node:
    q = _frac(n)
    if q is not None and q.denominator == 1:
        return Node("int", q.numerator)
    return Node(n.kind, n.value, tuple(_fold(c) for c in n.children)) if n.children else n


def _eval_assert(g: Node, trivial: list[Rule]) -> bool | None:
    a, b = (_fold(c) for c in g.children)
    if _same(a, b):
        return g.value in ("==", "<=")
    if any(_match(r.left, g, {}) for r in trivial):
        return True
    ng = negate(g)
    if any(_match(r.left, ng, {}) for r in trivial):
        return False
    qa, qb = _frac(a), _frac(b)
    if qa is None or qb is None:
        return None
    return {"==": qa == qb, "!=": qa != qb, "<=": qa <= qb, "<": qa < qb}[g.value]  # type: ignore[index]


def naive_apply(rules: dict[str, Rule], trivial: list[Rule], goal: EqGoal, text: str) -> list[str] | str:
    """Spec 3.2 done plainly: the kept subgoals' prefix strings, or an error message."""
    try:
        t = parse_tactic(text.split(), rules)
    except RuleError as e:
        return e.message
    concl, b = goal.conclusion, dict[str, Node]()
    if t.rule.kind == "T":
        src, tgt = t.rule.sides(t.forward)
        sub = _subtree(concl, t.pos) if t.pos < _size(concl) else None
        if sub is None or not _match(src, sub, b):
            return "no match"
        need = t.rule.to_fill(t.forward)
    else:
        if not _match(t.rule.left, concl, b):
            return "no match"
        need = t.rule.fill_fwd
    if {k for k, _ in t.subst} != need:
        return "bad substitution"
    b.update(t.subst)
    cands = [_replace(concl, t.pos, _subst(tgt, b))] if t.rule.kind == "T" else []
    cands += [_subst(h, b) for h in t.rule.hyps]
    hyps = [" ".join(h.prefix()) for h in goal.hyps]
    kept: list[str] = []
    for g in cands:
        if not _valid(g):
            return "invalid child"
        s = " ".join(g.prefix())
        if s in hyps or s in kept:
            continue
        truth = _eval_assert(g, trivial)
        if truth is False:
            return "always false"
        if truth is None:
            kept.append(s)
    return kept


# ---------------------------------------------------------------- measurements


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def bench_apply(mix: list[Item], n_valid: int, rounds: int) -> None:
    rules = {r.name: r for r in context().env.rules}
    trivial = [r for r in rules.values() if r.kind == "A" and not r.hyps]
    # same answers first: the baseline must do the same work
    env = EquationsEnv(context().cfg)
    for goal, tac in fresh(mix):
        res, ref = env.apply(goal, tac), naive_apply(rules, trivial, goal, tac)
        mine = [c.conclusion.prefix_str() for c in res.children] if res.ok else "error"  # type: ignore[attr-defined]
        assert (mine == "error") == isinstance(ref, str) and (mine == "error" or mine == ref), (tac, mine, ref)
    n_ok = sum(env.apply(g, t).ok for g, t in mix)
    print(f"mix: {len(mix)} tactics ({n_valid} from walk proofs, {len(mix) - n_valid} broken); "
          f"{n_ok} apply without error")
    cold = warm = naive = 0.0
    for _ in range(rounds):
        goals = fresh(mix)
        env = EquationsEnv(context().cfg)
        t0 = time.perf_counter()
        for g, t in goals:
            env.apply(g, t)
        cold += time.perf_counter() - t0
        t0 = time.perf_counter()
        for g, t in goals:  # same env and nodes again: parse cache and memoized facts are hot
            env.apply(g, t)
        warm += time.perf_counter() - t0
        goals = fresh(mix)
        t0 = time.perf_counter()
        for g, t in goals:
            naive_apply(rules, trivial, g, t)
        naive += time.perf_counter() - t0
    n = len(mix) * rounds
    print(f"tactic applications, env (fresh goals, fresh env):   {rate(n, cold)}")
    print(f"tactic applications, env (same goals again, warm):   {rate(n, warm)}")
    print(f"tactic applications, naive baseline (fresh goals):   {rate(n, naive)}")
    print(f"ratio env / naive baseline: {naive / cold:.2f}x cold, {naive / warm:.2f}x warm")


def bench_split(mix: list[Item]) -> None:
    """Where the time of a cold application goes: parsing, matching, building children, checks."""
    env = EquationsEnv(context().cfg)
    parts = dict.fromkeys(("parse tactic", "locate + match", "build children", "validity", "eval_assert"), 0.0)
    clock = time.perf_counter
    for goal, text in fresh(mix):
        t0 = clock()
        try:
            t = parse_tactic(text.split(), env.rule_map)
        except RuleError:
            parts["parse tactic"] += clock() - t0
            continue
        t1 = clock()
        parts["parse tactic"] += t1 - t0
        try:
            app = transform(t.rule, goal.conclusion, t.forward, t.pos) if t.rule.kind == "T" else \
                assertion(t.rule, goal.conclusion)
        except RuleError:
            parts["locate + match"] += clock() - t1
            continue
        t2 = clock()
        parts["locate + match"] += t2 - t1
        try:
            new, side = app.fill(dict(t.subst))
        except RuleError:
            parts["build children"] += clock() - t2
            continue
        t3 = clock()
        parts["build children"] += t3 - t2
        cands = [c for c in (new, *side) if c is not None]
        ok = all(is_valid(c) for c in cands)
        t4 = clock()
        parts["validity"] += t4 - t3
        if ok:
            for c in cands:
                if c not in goal.hypset:
                    env.checker.eval_assert(c)
            parts["eval_assert"] += clock() - t4
    total = sum(parts.values())
    print("time split of a cold application: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in parts.items()))


def bench_generators(n_walks: int, n_graphs: int) -> None:
    t0 = time.perf_counter()
    walks = generate("rwalk", n_walks, seed=1, namespace="bench")
    dt = time.perf_counter() - t0
    steps = sum(t.meta["proof"].size() for t in walks)
    print(f"rwalk: {rate(len(walks), dt)} theorems ({rate(steps, dt)} proof steps), "
          f"{1000 * dt / len(walks):.1f} ms per walk")
    from hyperprover.envs.equations.generators import unit_theorems

    t0 = time.perf_counter()
    ths = [th for i in range(n_graphs) for th in unit_theorems("graph", 1, i, namespace="bench")]
    dt = time.perf_counter() - t0
    steps = sum(t.meta["proof"].size() for t in ths)
    print(f"graph: {rate(len(ths), dt)} theorems ({rate(steps, dt)} proof steps), "
          f"{dt / n_graphs:.2f} s per graph of {len(ths) / n_graphs:.0f} theorems")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small workload (a few seconds)")
    args = ap.parse_args()
    n_th, rounds, n_walks, n_graphs = (20, 1, 20, 1) if args.quick else (150, 3, 200, 4)
    mix, n_valid = build_mix(n_th)
    bench_apply(mix, n_valid, rounds)
    bench_split(mix)
    bench_generators(n_walks, n_graphs)


if __name__ == "__main__":
    main()

"""Proof verifier: a fast path generated per assertion, and a step-by-step path that explains errors.

Fast path: each assertion becomes a small Python function (generated from its frame, compiled the
first time a proof uses it) that pops its hypotheses from the stack, checks typecodes and `$e`
hypotheses by tuple equality and builds the conclusion with one tuple display. Stack entries are
`(typecode, body)` pairs of interned-token tuples, shared between steps, never copied.
Any failure on the fast path reruns the proof on the slow path (`execute`), which walks it step by
step with explicit substitutions and reports the step number and the reason.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hyperprover.envs.metamath import compressed
from hyperprover.envs.metamath.database import Assertion, Database, MMError, pair

Entry = tuple[str, tuple[str, ...]]
Op = Callable[[list[Entry], Callable[..., None]], Entry]


COMPILE_AFTER = 20  # proofs that use an assertion before its step function is generated


class VerifyError(MMError):
    """A proof does not check; `step` is 1-based in the proof's step order (0: the proof as a whole)."""

    def __init__(self, label: str, step: int, reason: str) -> None:
        self.label, self.step, self.reason = label, step, reason
        where = f"step {step}: " if step else ""
        super().__init__(f"proof of '{label}': {where}{reason}")


class IncompleteProof(MMError):
    """The proof contains `?` steps."""


class _Fail(Exception):
    """Raised by generated code; the slow path then finds and explains the error."""


@dataclass(frozen=True)
class Node:
    """A proof step as a tree node (shared when a step is reused); `subst` for assertion steps."""

    label: str
    stmt: tuple[str, ...]
    children: tuple[Node, ...] = ()
    subst: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Report:
    n_proofs: int
    n_incomplete: int
    incomplete: tuple[str, ...]
    seconds: float


def _expr(stmt: tuple[str, ...], names: dict[str, str], consts: dict[tuple[str, ...], str]) -> str:
    """Source of the entry for `stmt`: constant runs become names bound in the function's globals,
    which keeps the generated source (and its compile time) small."""
    body = stmt[1:]
    if len(body) == 1 and body[0] in names:
        return f"({stmt[0]!r}, {names[body[0]]})"
    parts: list[str] = []
    for p in _pieces(stmt, {v: i for i, v in enumerate(names)}):
        if isinstance(p, int):
            parts.append(f"*v{p}")
        else:
            parts.append(f"*{consts.setdefault(p, f'k{len(consts)}')}")
    if len(parts) == 1 and not parts[0].startswith("*v"):
        return f"({stmt[0]!r}, {parts[0][1:]})"
    return f"({stmt[0]!r}, ({', '.join(parts)}{',' if parts else ''}))"


def compile_assertion(a: Assertion) -> Op | Entry:
    """The fast-path step function of `a` (a constant entry when it has no hypotheses)."""
    if not a.hyps:
        return (a.stmt[0], a.stmt[1:])
    names = {v: f"v{i}" for i, v in enumerate(a.variables)}
    consts: dict[tuple[str, ...], str] = {}
    n = len(a.hyps)
    args = ", ".join(f"a{i}" for i in range(n))
    lines = ["def step(st, dv):", f"    {args}, = st[-{n}:]", f"    del st[-{n}:]"]
    fchecks = [f"a{i}[0] != {h.stmt[0]!r}" for i, h in enumerate(a.hyps) if h.kind == "f"]
    if fchecks:
        lines.append(f"    if {' or '.join(fchecks)}: raise _Fail")
    for i, h in enumerate(a.hyps):
        if h.kind == "f":
            lines.append(f"    {names[h.stmt[1]]} = a{i}[1]")
    for i, h in enumerate(a.hyps):
        if h.kind == "e":
            lines.append(f"    if a{i} != {_expr(h.stmt, names, consts)}: raise _Fail")
    if a.dvs:
        pairs = ", ".join(f"({names[x]}, {names[y]})" for x, y in sorted(a.dvs))
        lines.append(f"    dv(({pairs},))")
    lines.append(f"    return {_expr(a.stmt, names, consts)}")
    scope: dict[str, object] = {"_Fail": _Fail}
    scope.update((name, run) for run, name in consts.items())
    exec(compile("\n".join(lines), f"<mm {a.label}>", "exec"), scope)
    fn: Op = scope["step"]  # type: ignore[assignment]
    return fn


def _pieces(stmt: tuple[str, ...], index: dict[str, int]) -> tuple[tuple[str, ...] | int, ...]:
    """A statement body as runs of constants (tuples) and variable positions (ints)."""
    out: list[tuple[str, ...] | int] = []
    run: list[str] = []
    for t in stmt[1:]:
        if t in index:
            if run:
                out.append(tuple(run))
                run = []
            out.append(index[t])
        else:
            run.append(t)
    if run:
        out.append(tuple(run))
    return tuple(out)


def _build(pieces: tuple[tuple[str, ...] | int, ...], vals: list[tuple[str, ...]]) -> tuple[str, ...]:
    if len(pieces) == 1 and pieces[0].__class__ is int:
        return vals[pieces[0]]  # type: ignore[index]
    out: list[str] = []
    for p in pieces:
        out += vals[p] if isinstance(p, int) else p
    return tuple(out)


def interpret_assertion(a: Assertion) -> Op | Entry:
    """Same contract as compile_assertion, without code generation: for rarely used assertions,
    where compiling (about 0.3 ms each) would cost more than it saves."""
    if not a.hyps:
        return (a.stmt[0], a.stmt[1:])
    index = {v: i for i, v in enumerate(a.variables)}
    n = len(a.hyps)
    plan = tuple((h.kind == "f", h.stmt[0], index[h.stmt[1]] if h.kind == "f" else _pieces(h.stmt, index))
                 for h in a.hyps)
    tc, concl = a.stmt[0], _pieces(a.stmt, index)
    dvs = tuple((index[x], index[y]) for x, y in sorted(a.dvs))
    nv = len(index)

    def step(st: list[Entry], dv: Callable[..., None]) -> Entry:
        args = st[-n:]
        if len(args) != n:
            raise _Fail
        del st[-n:]
        vals: list[tuple[str, ...]] = [()] * nv
        for (is_f, htc, x), arg in zip(plan, args):
            if is_f:
                if arg[0] != htc:
                    raise _Fail
                vals[x] = arg[1]  # type: ignore[index]
        for (is_f, htc, x), arg in zip(plan, args):
            if not is_f and (arg[0] != htc or arg[1] != _build(x, vals)):  # type: ignore[arg-type]
                raise _Fail
        if dvs:
            dv(tuple((vals[i], vals[j]) for i, j in dvs))
        return (tc, _build(concl, vals))

    return step


def make_dv_check(a: Assertion, variables: set[str], dummies: set[tuple[str, str]] | None = None
                  ) -> Callable[[Iterable[tuple[tuple[str, ...], tuple[str, ...]]]], None]:
    """$d check for steps of `a`'s proof: every variable pair of the two substituted expressions must
    be distinct and in `a`'s $d set. With `dummies`, a missing pair that involves a variable which
    is not mandatory in `a` is recorded there instead (for proofs found by search)."""
    allowed = a.all_dvs
    mandatory = set(a.variables)

    def dv(pairs: Iterable[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        for ex, ey in pairs:
            xs = [t for t in ex if t in variables]
            ys = [t for t in ey if t in variables]
            for x in xs:
                for y in ys:
                    if x == y:
                        raise _Fail(f"disjoint variable violation: '{x}' would appear on both sides")
                    p = pair(x, y)
                    if p in allowed:
                        continue
                    if dummies is not None and not (x in mandatory and y in mandatory):
                        dummies.add(p)
                        continue
                    raise _Fail(f"disjoint variable violation: $d {p[0]} {p[1]} is missing")

    return dv


class Verifier:
    """Verifies proofs of one database; generated step functions are cached across proofs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ops: dict[str, Op | Entry] = {}  # generated code
        self._slow_ops: dict[str, Op | Entry] = {}  # interpreted, until used by COMPILE_AFTER proofs
        self._uses: Counter[str] = Counter()

    def count_uses(self, assertions: Iterable[Assertion]) -> None:
        """Count in how many of these proofs each label appears, so that hot assertions are compiled
        at their first use."""
        for a in assertions:
            if a.proof is not None:
                self._uses.update(a.proof.labels if a.proof.compressed else set(a.proof.labels))

    def op(self, label: str) -> Op | Entry:
        """Step function of an assertion: generated code for hot ones, interpreted otherwise."""
        fn = self._ops.get(label)
        if fn is None:
            uses = self._uses[label] = self._uses[label] + 1
            a = self.db.assertions[label]
            if uses <= COMPILE_AFTER:
                fn = self._slow_ops.get(label)
                if fn is None:
                    fn = self._slow_ops[label] = interpret_assertion(a)
                return fn
            fn = self._ops[label] = compile_assertion(a)
        return fn

    def verify(self, a: Assertion, dummies: set[tuple[str, str]] | None = None) -> bool:
        """Check `a`'s proof; True if complete, False if it has `?` steps; raises VerifyError."""
        proof = a.proof
        if proof is None:
            raise VerifyError(a.label, 0, "is not a $p statement")
        if proof.error:
            raise VerifyError(a.label, 0, proof.error)
        try:
            return self._fast(a, dummies)
        except IncompleteProof:
            return False
        except Exception:  # any fast-path failure: explain it slowly
            pass
        self.execute(a, dummies)
        raise VerifyError(a.label, 0, "fails on the fast path but not step by step (verifier bug)")

    def _table(self, a: Assertion, labels: Iterable[str]) -> dict[str, object]:
        """label (or compressed code) -> push entry or step function, checking database order."""
        assertions = self.db.assertions
        table: dict[str, object] = {}
        hyps = {h.label: h for h in a.hyps}
        hyps.update((h.label, h) for h in a.proof.extra_hyps)  # type: ignore[union-attr]
        for lab in labels:
            h = hyps.get(lab)
            if h is not None:
                table[lab] = (h.stmt[0], h.stmt[1:])
            else:
                b = assertions[lab]  # a KeyError sends the proof to the slow path
                if b.index >= a.index:
                    raise _Fail
                table[lab] = self.op(lab)
        return table

    def _fast(self, a: Assertion, dummies: set[tuple[str, str]] | None) -> bool:
        proof = a.proof
        assert proof is not None
        dv = make_dv_check(a, self.db.variables, dummies)
        st: list[Entry] = []
        push = st.append
        if proof.compressed:
            named = [h.label for h in a.hyps] + list(proof.labels)
            by_label = self._table(a, proof.labels)
            by_label.update((h.label, (h.stmt[0], h.stmt[1:])) for h in a.hyps)
            table = {compressed.encode_number(i): by_label[lab] for i, lab in enumerate(named, 1)}
            n_saved = len(named)
            table["Z"] = table["?"] = None
            for code in compressed.split_codes(proof.letters):
                x = table[code]
                if x.__class__ is tuple:
                    push(x)  # type: ignore[arg-type]
                elif x is None:
                    if code == "?":
                        raise IncompleteProof
                    n_saved += 1
                    table[compressed.encode_number(n_saved)] = st[-1]
                else:
                    push(x(st, dv))  # type: ignore[operator]
        else:
            if "?" in proof.labels:
                raise IncompleteProof
            table = self._table(a, set(proof.labels))
            for lab in proof.labels:
                x = table[lab]
                if x.__class__ is tuple:
                    push(x)  # type: ignore[arg-type]
                else:
                    push(x(st, dv))  # type: ignore[operator]
        if len(st) != 1 or st[0] != (a.stmt[0], a.stmt[1:]):
            raise _Fail
        return True

    # ---- slow path -------------------------------------------------------------------------------

    def steps(self, a: Assertion) -> list[str | int | None]:
        """The proof as a flat list: a label, an int k >= 0 (reuse the k-th `Z`-marked step),
        compressed.SAVE for a `Z` mark, None for `?`."""
        proof = a.proof
        assert proof is not None
        if not proof.compressed:
            return [None if lab == "?" else lab for lab in proof.labels]
        named = [h.label for h in a.hyps] + list(proof.labels)
        try:
            nums = compressed.decode(proof.letters)
        except ValueError as e:
            raise VerifyError(a.label, 0, str(e)) from None
        out: list[str | int | None] = []
        for n in nums:
            if n == compressed.SAVE:
                out.append(compressed.SAVE)
            elif n == compressed.UNKNOWN:
                out.append(None)
            elif n <= len(named):
                out.append(named[n - 1])
            else:
                out.append(n - len(named) - 1)
        return out

    def execute(self, a: Assertion, dummies: set[tuple[str, str]] | None = None) -> Node:
        """Run `a`'s proof step by step and return its tree; raises VerifyError naming the step."""
        hyps = {h.label: h for h in a.hyps}
        hyps.update((h.label, h) for h in a.proof.extra_hyps)  # type: ignore[union-attr]
        dv = make_dv_check(a, self.db.variables, dummies)
        stack: list[Node] = []
        saved: list[Node] = []
        for i, s in enumerate(self.steps(a), 1):
            if s is None:
                raise IncompleteProof(f"proof of '{a.label}' is incomplete ('?' at step {i})")
            if isinstance(s, int):
                if s == compressed.SAVE:
                    if not stack:
                        raise VerifyError(a.label, i, "'Z' with an empty stack")
                    saved.append(stack[-1])
                elif s >= len(saved):
                    raise VerifyError(a.label, i, f"reuses step {s + 1} but only {len(saved)} are marked with Z")
                else:
                    stack.append(saved[s])
                continue
            h = hyps.get(s)
            if h is not None:
                stack.append(Node(s, h.stmt))
                continue
            b = self.db.assertions.get(s)
            if b is None:
                what = "an inactive hypothesis" if s in self.db.hyps else "not a label"
                raise VerifyError(a.label, i, f"'{s}' is {what}")
            if b.index >= a.index:
                raise VerifyError(a.label, i, f"'{s}' is not defined before '{a.label}' (or is the theorem itself)")
            try:
                stack.append(apply_assertion(b, stack, dv))
            except _Fail as e:
                raise VerifyError(a.label, i, str(e)) from None
        if len(stack) != 1:
            raise VerifyError(a.label, 0, f"the proof leaves {len(stack)} statements on the stack, not 1")
        if stack[0].stmt != a.stmt:
            raise VerifyError(a.label, 0, f"the proof proves '{' '.join(stack[0].stmt)}', not the statement")
        return stack[0]

    def verify_all(self, labels: Sequence[str] | None = None,
                   on_error: Callable[[VerifyError], None] | None = None) -> Report:
        """Verify every `$p` (or the given labels); the first error is raised unless `on_error` is set."""
        t0 = time.perf_counter()
        todo = [a for a in self.db.assertions.values() if a.kind == "p"] if labels is None else [
            self.db.assertions[lab] for lab in labels]
        incomplete: list[str] = []
        self.count_uses(todo)
        for a in todo:
            try:
                if not self.verify(a):
                    incomplete.append(a.label)
            except VerifyError as e:
                if on_error is None:
                    raise
                on_error(e)
        return Report(len(todo), len(incomplete), tuple(incomplete), time.perf_counter() - t0)


def substitute(stmt: Sequence[str], sub: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    out: list[str] = []
    for t in stmt:
        s = sub.get(t)
        if s is None:
            out.append(t)
        else:
            out.extend(s)
    return tuple(out)


def apply_assertion(b: Assertion, stack: list[Node], dv: Callable[..., None]) -> Node:
    """Pop `b`'s hypotheses from the stack, unify, check $d, return the conclusion node."""
    n = len(b.hyps)
    if len(stack) < n:
        raise _Fail(f"'{b.label}' needs {n} hypotheses but the stack holds {len(stack)}")
    args = stack[len(stack) - n :]
    del stack[len(stack) - n :]
    sub: dict[str, tuple[str, ...]] = {}
    for h, arg in zip(b.hyps, args):
        if h.kind == "f":
            if arg.stmt[0] != h.stmt[0]:
                raise _Fail(f"type mismatch for '{h.label}' of '{b.label}': needs {h.stmt[0]}, "
                            f"got '{' '.join(arg.stmt)}'")
            sub[h.stmt[1]] = arg.stmt[1:]
    for h, arg in zip(b.hyps, args):
        if h.kind == "e":
            want = substitute(h.stmt, sub)
            if want != arg.stmt:
                raise _Fail(f"hypothesis '{h.label}' of '{b.label}' does not match: needs "
                            f"'{' '.join(want)}', got '{' '.join(arg.stmt)}'")
    if b.dvs:
        dv([(sub[x], sub[y]) for x, y in sorted(b.dvs)])
    return Node(b.label, substitute(b.stmt, sub), tuple(args), tuple(sorted(sub.items())))


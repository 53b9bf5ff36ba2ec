"""The Metamath backward environment (issue 7 item 2).

Goal: a statement (typecode + symbols) in the context of a root theorem: its `$e` hypotheses, its
`$d` pairs (including those on dummy variables), its mandatory variables, and the database position
before which assertions may be used.

Tactic text: an assertion label, then one `$s VAR $= EXPR` group per variable that does not occur in
the assertion's conclusion (the others are found by matching the conclusion against the goal with
the database grammar), e.g. `ax-mp $s ph $= ( ph -> ps )`. `$s` and `$=` cannot be math symbols
(no symbol contains `$`), so the text splits unambiguously on whitespace; model tokens are exactly
those words. A goal equal to one of its hypotheses closes with that hypothesis' label as tactic.

Applying it checks the label is allowed (before the theorem in the database), matches, parses every
substituted expression (this closes all `$f` subgoals: wff/class/setvar), checks `$d` conditions
(a pair on two mandatory variables must be one of the theorem's; pairs on dummy variables are
allowed and added to the exported proof) and returns the instantiated `$e` hypotheses that are not
hypotheses of the theorem, without duplicates, in order.

Proof checking (`check_proof`) turns a proof tree into a normal Metamath proof (`to_metamath`, below)
and runs the verifier on it; proofs.py builds on it for human-proof steps, compression and `.mm` export.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hyperprover.envs.base import (
    Goal,
    GoalParseError,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
    env_config,
)
from hyperprover.envs.metamath.applicable import ConclusionIndex
from hyperprover.envs.metamath.config import MetamathConfig
from hyperprover.envs.metamath.database import Assertion, Database, Hyp, Proof, excerpt, pair
from hyperprover.envs.metamath.grammar import Grammar, Parser
from hyperprover.envs.metamath.loader import load_database
from hyperprover.envs.metamath.splits import Splits, make_splits
from hyperprover.envs.metamath.verify import Verifier, VerifyError, substitute

SUBST, EQ = "$s", "$="
GOAL_OPEN, GOAL_CLOSE, HYP_OPEN, HYP_CLOSE, DV_OPEN, DV_CLOSE = (
    "<GOAL>", "</GOAL>", "<HYP>", "</HYP>", "<DV>", "</DV>")

# proof trees of set.mm are a few hundred steps deep and syntax proofs nest inside them
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))


@dataclass(frozen=True, eq=False)
class Context:
    """What every goal of one proof shares. `limit`: assertions with a smaller index may be used."""

    theorem: str  # root label, "" for a goal written by hand
    limit: int
    hyps: tuple[tuple[str, tuple[str, ...]], ...]  # ($e label, statement)
    dvs: frozenset[tuple[str, str]]
    mandatory: frozenset[str]
    fhyps: tuple[tuple[str, str], ...]  # (variable, $f label) of the mandatory variables, in $f order

    @cached_property
    def header(self) -> str:
        if self.theorem:
            return f"mm:{self.theorem}|"
        hyps = ";".join(" ".join(s) for _, s in self.hyps)
        dvs = ";".join(f"{x} {y}" for x, y in sorted(self.dvs))
        return f"|{hyps}|{dvs}|"

    @cached_property
    def hyp_stmts(self) -> dict[tuple[str, ...], str]:
        return {s: lab for lab, s in reversed(self.hyps)}


@dataclass(frozen=True, eq=False)
class MMGoal:
    ctx: Context
    stmt: tuple[str, ...]

    @cached_property
    def key(self) -> str:
        return self.ctx.header + " ".join(self.stmt)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MMGoal) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True)
class Step:
    """A tactic applied: the assertion (or hypothesis) label, the full substitution, the open subgoals
    and the `$d` pairs on dummy variables it needs."""

    label: str
    assertion: Assertion | None
    subst: Mapping[str, tuple[str, ...]]
    children: tuple[MMGoal, ...]
    dummy_dvs: frozenset[tuple[str, str]]


class _Fail(Exception):
    def __init__(self, kind: TacticErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_tactic(text: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    toks = text.split()
    if not toks or toks[0].startswith("$"):
        raise _Fail(TacticErrorKind.MALFORMED, "a tactic starts with an assertion label")
    subs: dict[str, tuple[str, ...]] = {}
    i = 1
    while i < len(toks):
        if toks[i] != SUBST or i + 2 >= len(toks) or toks[i + 2] != EQ:
            raise _Fail(TacticErrorKind.MALFORMED, f"expected '{SUBST} VAR {EQ} EXPR' at word {i + 1}")
        var = toks[i + 1]
        j = i + 3
        while j < len(toks) and toks[j] != SUBST:
            j += 1
        if var in subs:
            raise _Fail(TacticErrorKind.MALFORMED, f"variable {var} is substituted twice")
        if j == i + 3 or EQ in toks[i + 3 : j]:
            raise _Fail(TacticErrorKind.MALFORMED, f"bad substitution for {var}")
        subs[var] = tuple(toks[i + 3 : j])
        i = j
    return toks[0], subs


def format_tactic(label: str, subs: Mapping[str, Sequence[str]] | None = None) -> str:
    parts = [label]
    for v in sorted(subs or {}):
        parts.append(f"{SUBST} {v} {EQ} {' '.join(subs[v])}")  # type: ignore[index]
    return " ".join(parts)


class MetamathEnv:
    name = "mm"

    def __init__(self, cfg: MetamathConfig, db: Database | None = None) -> None:
        self.cfg = cfg
        self.db = db if db is not None else load_database(cfg.database)
        self.grammar = Grammar(self.db)
        self.verifier = Verifier(self.db)
        self._contexts: dict[str, Context] = {}
        self._parsers: OrderedDict[tuple[tuple[str, ...], int], Parser] = OrderedDict()

    # ---- goals -----------------------------------------------------------------------------------

    def context(self, theorem: str) -> Context:
        ctx = self._contexts.get(theorem)
        if ctx is None:
            a = self.db.assertions[theorem]
            fh = [h for h in a.hyps if h.kind == "f"]
            ctx = Context(theorem, a.index, tuple((h.label, h.stmt) for h in a.hyps if h.kind == "e"),
                          a.all_dvs or a.dvs, frozenset(h.stmt[1] for h in fh),
                          tuple((h.stmt[1], h.label) for h in fh))
            self._contexts[theorem] = ctx
        return ctx

    def theorem_goal(self, label: str) -> MMGoal:
        if label.startswith("mm:"):
            label = label[3:]
        if label not in self.db.assertions:
            raise KeyError(f"no assertion labelled {label!r} in {self.db.path}")
        return MMGoal(self.context(label), self.db.assertions[label].stmt)

    def make_goal(self, stmt: Sequence[str], hyps: Sequence[tuple[str, Sequence[str]]] = (),
                  dvs: Sequence[tuple[str, str]] = ()) -> MMGoal:
        """A goal outside the database: any assertion may be used."""
        vs = {t for t in stmt if t in self.db.variables}
        for _, h in hyps:
            vs.update(t for t in h if t in self.db.variables)
        untyped = sorted(v for v in vs if v not in self.db.var_hyps)
        if untyped:
            raise GoalParseError(f"variable {untyped[0]} has no $f hypothesis in {self.db.path}")
        fh = sorted((self.db.var_hyps[v] for v in vs), key=lambda h: h.seq)
        ctx = Context("", len(self.db.assertions), tuple((lab, tuple(s)) for lab, s in hyps),
                      frozenset(pair(x, y) for x, y in dvs), frozenset(vs),
                      tuple((h.stmt[1], h.label) for h in fh))
        return MMGoal(ctx, tuple(stmt))

    def goal_text(self, goal: Goal) -> str:
        g = _as_goal(goal)
        lines = [f"$( theorem {g.ctx.theorem} $)"] if g.ctx.theorem else []
        lines += [f"{lab} $e {' '.join(s)} $." for lab, s in g.ctx.hyps]
        lines += [f"$d {x} {y} $." for x, y in sorted(g.ctx.dvs)]
        lines.append(" ".join(g.stmt))
        return "\n".join(lines)

    def parse_goal(self, text: str) -> Goal:
        """Inverse of goal_text: optional `$( theorem LABEL $)`, `LABEL $e ... $.` and `$d x y $.` lines,
        then the statement."""
        theorem, stmt = "", None
        hyps: list[tuple[str, tuple[str, ...]]] = []
        dvs: list[tuple[str, str]] = []
        for n, line in enumerate(text.strip().splitlines(), 1):
            w = line.split()
            if not w:
                continue
            if w[0] == "$(" and len(w) == 4 and w[1] == "theorem" and w[3] == "$)":
                theorem = w[2]
            elif len(w) >= 4 and w[1] == "$e" and w[-1] == "$.":
                hyps.append((w[0], tuple(w[2:-1])))
            elif w[0] == "$d" and w[-1] == "$." and len(w) >= 4:
                dvs.extend((w[i], w[j]) for i in range(1, len(w) - 1) for j in range(i + 1, len(w) - 1))
            elif stmt is None and not any(t.startswith("$") for t in w):
                stmt = tuple(w)
            else:
                raise GoalParseError(f"line {n}: expected a $e, $d or statement line, got '{excerpt(line.strip())}'")
        if stmt is None:
            raise GoalParseError("no statement line")
        if theorem:
            if theorem not in self.db.assertions:
                raise GoalParseError(f"line 1: no theorem labelled '{excerpt(theorem)}'")
            ctx = self.context(theorem)
            if tuple(hyps) != ctx.hyps or {pair(x, y) for x, y in dvs} != set(ctx.dvs):
                raise GoalParseError(f"the $e/$d lines differ from those of theorem {theorem}")
            self._check_statement("statement", stmt, ctx.limit)
            return MMGoal(ctx, stmt)
        for label, h in hyps:  # the theorem's own hypotheses (above) come from the database
            self._check_statement(f"$e {excerpt(label)}", h, len(self.db.assertions))
        self._check_statement("statement", stmt, len(self.db.assertions))
        return self.make_goal(stmt, hyps, dvs)

    def _check_statement(self, what: str, stmt: tuple[str, ...], limit: int) -> None:
        """GoalParseError unless `stmt` is made of this database's symbols, starts with a constant, and its
        body parses with the database grammar (syntax axioms before `limit`) as the grammar type of the
        typecode's statements: the typecode itself for `wff ...`, what the conclusions parse as for `|- ...`
        (wff in set.mm). A typecode none of whose conclusions parse is not checked."""
        bad = [t for t in stmt if t not in self.db.constants and t not in self.db.variables]
        if bad:
            raise GoalParseError(f"{what}: '{excerpt(bad[0])}' is not a symbol of this database")
        if stmt[0] not in self.db.constants:
            raise GoalParseError(f"{what}: starts with '{excerpt(stmt[0])}', not with a typecode (a constant)")
        tc = stmt[0]
        want = tc if self.grammar.is_syntactic(tc) else self._statement_types.get(tc)
        if want is not None and not self.parser(stmt[1:], limit).parses(want):
            raise GoalParseError(f"{what}: '{excerpt(' '.join(stmt))}' is not a well-formed {tc} statement (its "
                                 f"symbols after {tc} do not parse as a {want} with the database's syntax axioms)")

    @cached_property
    def _statement_types(self) -> dict[str, str]:
        """Typecode -> the grammar type its statements parse as: what ConclusionIndex.body_type finds (the
        first conclusion of the typecode that parses decides), without building the whole index (12 s on
        set.mm) for one goal."""
        out: dict[str, str] = {}
        types = sorted(self.grammar.types)
        for a in self.db.assertions.values():
            if a.typecode in out or self.grammar.is_syntactic(a.typecode):
                continue
            parser = self.grammar.parser(a.stmt[1:])
            found = next((t for t in types if parser.parses(t)), None)
            if found is not None:
                out[a.typecode] = found
        return out

    def goal_tokens(self, goal: Goal) -> list[str]:
        g = _as_goal(goal)
        out = [GOAL_OPEN]
        for _, s in g.ctx.hyps:
            out += [HYP_OPEN, *s, HYP_CLOSE]
        if self.cfg.include_dvs:
            for x, y in sorted(g.ctx.dvs):
                out += [DV_OPEN, x, y, DV_CLOSE]
        out += [*g.stmt, GOAL_CLOSE]
        return out

    def tactic_tokens(self, tactic: str) -> list[str]:
        return tactic.split()

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def tactic_body_words(self) -> list[str]:
        """What can follow a tactic's first word: `$s`, `$=` and math symbols, never a label."""
        return [SUBST, EQ, *sorted(self.db.constants), *sorted(self.db.variables)]

    # ---- splits and the database-order mask ------------------------------------------------------

    @cached_property
    def splits(self) -> Splits:
        return make_splits(self.db, self.cfg.split_seed, self.cfg.n_valid, self.cfg.n_test)

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem(f"mm:{lab}", self.theorem_goal(lab), split, {"index": self.db.assertions[lab].index})
                for lab in self.splits.get(split)]

    def label_limit(self, theorem: Theorem | Goal | str) -> int:
        """Assertions with a database index below this may be used for `theorem`."""
        if isinstance(theorem, Theorem):
            theorem = theorem.goal
        if isinstance(theorem, str):
            return self.db.assertions[theorem.removeprefix("mm:")].index
        return _as_goal(theorem).ctx.limit

    def allowed_labels_mask(self, theorem: Theorem | Goal | str, vocab: Sequence[str]) -> list[bool]:
        """Per vocabulary word: False for labels a proof of `theorem` may not use (itself and every
        later assertion), True otherwise; for the decoder's mask (htps.md 2.5.1)."""
        limit = self.label_limit(theorem)
        assertions = self.db.assertions
        return [w not in assertions or assertions[w].index < limit for w in vocab]

    # ---- tactics ---------------------------------------------------------------------------------

    @cached_property
    def conclusions(self) -> ConclusionIndex:
        return ConclusionIndex(self.db, self.grammar)

    def tactic_prefixes(self, goal: Goal) -> list[tuple[tuple[str, ...], bool]]:
        """How the tactics that apply to `goal` start: each hypothesis equal to the goal and each assertion
        before the theorem whose conclusion matches the goal. Complete (`(label,)`, nothing to substitute):
        hypotheses, and assertions whose variables all occur in their conclusion, kept only when the whole
        tactic applies ($d included). The others start `(label, $s, VAR, $=)` with the first variable that
        needs a substitution; the expressions (and any further `$s` groups) are the model's to write. On a
        theorem with hypotheses, such an assertion is also complete with substitutions read off them
        (`_hyp_bindings`, option `complete_from_hyps`)."""
        g = _as_goal(goal)
        ctx = g.ctx
        out: list[tuple[tuple[str, ...], bool]] = []
        hyp = ctx.hyp_stmts.get(g.stmt)
        if hyp is not None:
            out.append(((hyp,), True))
        if self.grammar.is_syntactic(g.stmt[0]):
            return out
        parser = self.parser(g.stmt[1:], ctx.limit)
        for c in self.conclusions.candidates(g.stmt, parser):
            if c.index >= ctx.limit:
                continue
            if c.complete:
                try:
                    self.instantiate(g, c.label, {})
                except _Fail:
                    continue
                out.append(((c.label,), True))
                continue
            a = self.db.assertions[c.label]
            tvars = {h.stmt[1]: h.stmt[0] for h in a.hyps if h.kind == "f"}
            known = parser.match(a.stmt[1:], {t: tvars[t] for t in a.stmt[1:] if t in tvars})
            if known is None:
                continue
            missing = sorted(v for v in tvars if v not in a.stmt[1:])
            # the tactic must go on with the first missing variable (tactics list them sorted): `LABEL $s VAR $=`
            out.append(((c.label, SUBST, missing[0], EQ), False))
            if self.cfg.complete_from_hyps and ctx.hyps:
                for subs in self._hyp_bindings(ctx, a, tvars, known, missing):
                    try:
                        self.instantiate(g, c.label, subs)
                    except _Fail:
                        continue
                    out.append((tuple(format_tactic(c.label, subs).split()), True))
        return out

    def _hyp_bindings(self, ctx: Context, a: Assertion, tvars: Mapping[str, str],
                      known: Mapping[str, tuple[str, ...]], missing: Sequence[str],
                      cap: int = 2) -> list[dict[str, tuple[str, ...]]]:
        """Substitutions for the `missing` variables of `a` (those outside its conclusion) read off the
        theorem's hypotheses: each `$e` of `a` that holds a missing variable is matched against each
        hypothesis of the theorem (the variables already bound by the goal fixed), so that subgoal is
        closed by that hypothesis. What metamath's `improve` does with the steps it already has; it turns
        `syl`, `mpbi`, `ax-mp`... into complete tactics on theorems with hypotheses. At most `cap`."""
        ehyps = [h for h in a.hyps if h.kind == "e" and any(v in h.stmt for v in missing)]
        # later[k]: the missing variables that ehyps[k:] can still bind (prunes hopeless branches)
        later = [set(missing) & set(h.stmt) for h in ehyps] + [set()]
        for k in range(len(ehyps) - 1, -1, -1):
            later[k] |= later[k + 1]
        found: dict[tuple[tuple[str, ...], ...], dict[str, tuple[str, ...]]] = {}
        budget = [2 * len(ehyps) * len(ctx.hyps)]  # match attempts: twice one pass over every pair

        def go(sub: dict[str, tuple[str, ...]], k: int) -> None:
            unbound = {v for v in missing if v not in sub}
            if not unbound:
                found.setdefault(tuple(sub[v] for v in missing), {v: sub[v] for v in missing})
                return
            if not unbound <= later[k] or len(found) >= cap or budget[0] <= 0:
                return
            h = ehyps[k]
            hvars = {t: tvars[t] for t in h.stmt[1:] if t in tvars}
            fixed = {v: sub[v] for v in hvars if v in sub}
            if unbound & set(hvars):
                for _, s in ctx.hyps:
                    if s[0] == h.stmt[0] and budget[0] > 0:
                        budget[0] -= 1
                        b = self.parser(s[1:], ctx.limit).match(h.stmt[1:], hvars, fixed)
                        if b is not None:
                            go({**sub, **b}, k + 1)
            go(sub, k + 1)  # this hypothesis stays a subgoal

        go(dict(known), 0)
        return list(found.values())

    def parser(self, body: tuple[str, ...], limit: int) -> Parser:
        key = (body, limit)
        p = self._parsers.get(key)
        if p is None:
            p = self._parsers[key] = self.grammar.parser(body, limit)
            if len(self._parsers) > 4096:
                self._parsers.popitem(last=False)
        return p

    def instantiate(self, goal: MMGoal, label: str, subs: Mapping[str, tuple[str, ...]]) -> Step:
        ctx, db = goal.ctx, self.db
        for hl, hs in ctx.hyps:
            if hl == label:
                if subs or hs != goal.stmt:
                    raise _Fail(TacticErrorKind.NO_MATCH, f"hypothesis {label} is not the goal")
                return Step(label, None, {}, (), frozenset())
        a = db.assertions.get(label)
        if a is None:
            raise _Fail(TacticErrorKind.UNKNOWN_RULE, f"no assertion labelled {label}")
        if a.index >= ctx.limit:
            raise _Fail(TacticErrorKind.UNKNOWN_RULE,
                        f"{label} comes after {ctx.theorem or 'the goal'} in the database")
        if a.typecode != goal.stmt[0]:
            raise _Fail(TacticErrorKind.NO_MATCH,
                        f"{label} proves a {a.typecode} statement, the goal is {goal.stmt[0]}")
        tvars = {h.stmt[1]: h.stmt[0] for h in a.hyps if h.kind == "f"}
        in_concl = {t: tvars[t] for t in a.stmt[1:] if t in tvars}
        extra = sorted(set(subs) - tvars.keys())
        if extra:
            raise _Fail(TacticErrorKind.BAD_SUBSTITUTION, f"{extra[0]} is not a variable of {label}")
        missing = [v for v in tvars if v not in in_concl and v not in subs]
        if missing:
            raise _Fail(TacticErrorKind.BAD_SUBSTITUTION, f"{label} needs a substitution for {missing[0]} "
                        f"({tvars[missing[0]]})")
        for v, e in subs.items():
            if not self.parser(e, ctx.limit).parses(tvars[v]):
                raise _Fail(TacticErrorKind.BAD_SUBSTITUTION, f"{v} := '{' '.join(e)}' is not a well-formed {tvars[v]}")
        fixed = {v: e for v, e in subs.items() if v in in_concl}
        found = self.parser(goal.stmt[1:], ctx.limit).match(a.stmt[1:], in_concl, fixed)
        if found is None:
            raise _Fail(TacticErrorKind.NO_MATCH, f"the conclusion of {label} does not match the goal")
        sub = {**subs, **found}
        dummy: set[tuple[str, str]] = set()
        variables = db.variables
        for x, y in sorted(a.dvs):
            for p in (t for t in sub[x] if t in variables):
                for q in (t for t in sub[y] if t in variables):
                    if p == q:
                        raise _Fail(TacticErrorKind.DISJOINT, f"$d {x} {y} of {label}: {p} is on both sides")
                    pq = pair(p, q)
                    if pq in ctx.dvs:
                        continue
                    if p in ctx.mandatory and q in ctx.mandatory:
                        raise _Fail(TacticErrorKind.DISJOINT, f"{label} needs $d {pq[0]} {pq[1]}, which the "
                                    "theorem does not have")
                    dummy.add(pq)
        children: dict[tuple[str, ...], MMGoal] = {}
        for h in a.hyps:
            if h.kind == "e":
                s = substitute(h.stmt, sub)
                if s not in ctx.hyp_stmts and s not in children:
                    children[s] = MMGoal(ctx, s)
        return Step(label, a, sub, tuple(children.values()), frozenset(dummy))

    def apply(self, goal: Goal, tactic: str) -> TacticResult:
        t0 = time.perf_counter()
        if not isinstance(goal, MMGoal):
            err = TacticError(TacticErrorKind.MALFORMED, f"not a Metamath goal: {type(goal).__name__}")
            return TacticResult(tactic, error=err)
        try:
            g = goal
            label, subs = parse_tactic(tactic)
            step = self.instantiate(g, label, subs)
        except _Fail as e:
            return TacticResult(tactic, error=TacticError(e.kind, str(e)), duration_s=time.perf_counter() - t0)
        return TacticResult(tactic, step.children, duration_s=time.perf_counter() - t0)

    def check_proof(self, proof: ProofNode) -> None:
        """Turn the tree into a Metamath proof and run the verifier on it; raises ProofError."""
        to_metamath(self, proof, verify=True)


# ---- proof trees -> Metamath proofs (what check_proof verifies; proofs.py exports them) ----------------

@dataclass(frozen=True)
class MMProof:
    """A found proof in Metamath form: `labels` is the normal (reverse Polish) proof of `goal` under
    the mandatory hypotheses `hyps` (in the order a verifier pops them), with the `$f` hypotheses of
    dummy variables `extra_hyps` and the `$d` pairs `dvs` (the theorem's and those on dummies)."""

    goal: MMGoal
    labels: tuple[str, ...]
    hyps: tuple[Hyp, ...]
    extra_hyps: tuple[Hyp, ...]
    dvs: frozenset[tuple[str, str]]

    def assertion(self, label: str = "") -> Assertion:
        ctx = self.goal.ctx
        proof = Proof(False, self.labels, "", self.extra_hyps)
        return Assertion(label or ctx.theorem or "goal", "p", ctx.limit, self.goal.stmt, self.hyps,
                         frozenset(), self.dvs, proof)


def _mandatory_hyps(env: MetamathEnv, ctx: Context) -> tuple[Hyp, ...]:
    if ctx.theorem:
        return env.db.assertions[ctx.theorem].hyps
    fh = [env.db.hyps[lab] for _, lab in ctx.fhyps]
    big = 1 + max((h.seq for h in env.db.hyps.values()), default=0)
    return tuple(fh) + tuple(Hyp(lab, "e", s, big + i) for i, (lab, s) in enumerate(ctx.hyps))


def to_metamath(env: MetamathEnv, proof: ProofNode, verify: bool = True) -> MMProof:
    """The normal Metamath proof of a proof tree found in `env`; with `verify`, checked by the verifier
    (database order included). Raises ProofError naming the failing step."""
    root = proof.goal
    if not isinstance(root, MMGoal):
        raise ProofError(f"not a Metamath goal: {type(root).__name__}")
    ctx, db = root.ctx, env.db
    fhyp_of = dict(ctx.fhyps)
    extra: dict[str, Hyp] = {}
    dummy_dvs: set[tuple[str, str]] = set()
    out: list[str] = []

    def fhyp(var: str) -> str:
        lab = fhyp_of.get(var)
        if lab is None:
            h = db.var_hyps[var]
            extra[h.label] = h
            lab = h.label
        return lab

    def emit(node: ProofNode, path: str) -> None:
        g = node.goal
        if not isinstance(g, MMGoal) or g.ctx is not ctx and g.ctx.header != ctx.header:
            raise ProofError(f"step {path}: goal is not in the context of the root goal")
        try:
            label, subs = parse_tactic(node.tactic)
            step = env.instantiate(g, label, subs)
        except _Fail as e:
            raise ProofError(f"step {path}: tactic {node.tactic!r}: {e}") from None
        got = {c.key for c in step.children}
        kids = {c.goal.key: c for c in node.children}
        if got != set(kids):
            raise ProofError(f"step {path}: tactic {node.tactic!r} leaves {len(got)} subgoal(s) but the tree "
                             f"has {len(kids)} different one(s)")
        a = step.assertion
        if a is None:
            out.append(label)
            return
        dummy_dvs.update(step.dummy_dvs)
        for h in a.hyps:
            if h.kind == "f":
                env.parser(step.subst[h.stmt[1]], ctx.limit).syntax_proof(h.stmt[0], fhyp, out=out)
                continue
            s = substitute(h.stmt, step.subst)
            hyp = ctx.hyp_stmts.get(s)
            if hyp is not None:
                out.append(hyp)
            else:
                emit(kids[MMGoal(ctx, s).key], f"{path}.{len(out)}")
        out.append(a.label)

    emit(proof, "1")
    mm = MMProof(root, tuple(out), _mandatory_hyps(env, ctx), tuple(extra.values()),
                 frozenset(ctx.dvs | dummy_dvs))
    if verify:
        try:
            if not env.verifier.verify(mm.assertion()):
                raise ProofError("the converted proof is incomplete")
        except VerifyError as e:
            raise ProofError(f"Metamath proof rejected by the verifier: {e}") from None
    return mm


def _as_goal(goal: Goal) -> MMGoal:
    if not isinstance(goal, MMGoal):
        raise TypeError(f"not a Metamath goal: {type(goal).__name__}")
    return goal


def make_env(cfg: MetamathConfig | None = None, db: Database | None = None, **overrides: Any) -> MetamathEnv:
    """The `mm` env; keyword overrides are MetamathConfig fields (`make_env(database="demo0.mm")`)."""
    return MetamathEnv(env_config("mm", cfg or MetamathConfig(), overrides), db)

"""The database's own grammar: syntax axioms (`$a` statements whose typecode is a variable type,
e.g. `wi $a wff ( ph -> ps ) $.`) read as productions, variables as terminals of their `$f` type.

Used to close syntactic goals (`wff ...`, `class ...`, `setvar ...`), to find the substitution of a
tactic by matching a goal against an assertion's conclusion with every variable bound to a
well-formed expression, and to write the syntax sub-proofs of exported proofs.

The parser is a memoised top-down parser that returns every end position for (type, start), so it
accepts any grammar without left recursion (set.mm's grammar is built to be unambiguous and has
none); a left-recursive production is simply not used inside its own recursion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hyperprover.envs.metamath.database import Database

Span = tuple[str, int, int]  # (type, start, end)
Deriv = tuple["Rule", tuple[Span, ...]] | None  # None: a variable standing for itself


@dataclass(frozen=True)
class Rule:
    """A syntax axiom as a production; `vars`/`types` follow the pattern, `hyp_vars` the axiom's
    mandatory `$f` order (the order of a syntax proof)."""

    label: str
    typecode: str
    index: int
    pattern: tuple[str, ...]
    var_types: tuple[tuple[str, str], ...]  # (variable, type) for the variables of the pattern
    hyp_vars: tuple[str, ...]


class Trie:
    """Productions of one type merged by common prefix: `( ph -> ps )`, `( ph /\\ ps )`, ... share
    the walk over `( ph`, so a prefix is parsed once and the next token picks the branch."""

    __slots__ = ("consts", "vars", "rules")

    def __init__(self) -> None:
        self.consts: dict[str, Trie] = {}
        self.vars: dict[str, Trie] = {}  # by the variable's type
        self.rules: list[Rule] = []  # productions that end here


class Grammar:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.types = frozenset(h.stmt[0] for h in db.hyps.values() if h.kind == "f")
        self.var_types = db.var_types
        self.tries: dict[str, Trie] = {}
        for a in db.assertions.values():
            if a.kind != "a" or a.typecode not in self.types or any(h.kind == "e" for h in a.hyps):
                continue
            vtypes = {h.stmt[1]: h.stmt[0] for h in a.hyps}
            body = a.stmt[1:]
            in_pattern = [t for t in body if t in vtypes]
            unit_loop = len(body) == 1 and vtypes.get(body[0]) == a.typecode
            if len(set(in_pattern)) != len(in_pattern) or unit_loop:
                continue  # a non-linear or X -> X pattern is not a useful production
            rule = Rule(a.label, a.typecode, a.index, body, tuple((v, vtypes[v]) for v in in_pattern),
                        tuple(h.stmt[1] for h in a.hyps))
            node = self.tries.setdefault(a.typecode, Trie())
            for t in body:  # empty productions (miu.mm's `we $a wff $.`) end at the root
                branch = node.vars if t in vtypes else node.consts
                node = branch.setdefault(vtypes.get(t, t), Trie())
            node.rules.append(rule)

    def is_syntactic(self, typecode: str) -> bool:
        return typecode in self.types

    def parser(self, tokens: Sequence[str], limit: int | None = None) -> Parser:
        return Parser(self, tuple(tokens), limit)


class Parser:
    """Parses one token sequence; results are memoised per (type, start) for reuse across calls."""

    def __init__(self, grammar: Grammar, tokens: tuple[str, ...], limit: int | None = None) -> None:
        self.g = grammar
        self.toks = tokens
        self.limit = limit  # only syntax axioms with a smaller database index are used
        self.memo: dict[tuple[str, int], dict[int, Deriv]] = {}
        self._active: set[tuple[str, int]] = set()
        self._left: set[tuple[str, int]] = set()
        self._new: list[tuple[str, int]] = []  # memo keys in creation order

    def ends(self, tc: str, i: int) -> dict[int, Deriv]:
        """End positions j such that tokens[i:j] parses as `tc`, each with one derivation.

        Left recursion (ql.mm's postfix `a '`, miu.mm's `wff wff`) is handled by growing the seed:
        a call that meets its own (type, start) in progress gets the ends found so far, and the
        computation is repeated until no new end appears. Derivations of ends found in an earlier
        round are kept, so every derivation refers only to shorter or earlier-found parses."""
        key = (tc, i)
        found = self.memo.get(key)
        if found is not None and key not in self._active:
            return found
        if found is not None:  # a left-recursive call
            self._left.add(key)
            return found
        prev: dict[int, Deriv] = {}
        self._new.append(key)
        trie = self.g.tries.get(tc)
        while True:
            self.memo[key] = prev
            self._active.add(key)
            start = len(self._new)
            res = dict(prev)
            if i < len(self.toks) and self.g.var_types.get(self.toks[i]) == tc:
                res.setdefault(i + 1, None)
            if trie is not None:
                self._walk(trie, i, (), res)
            self._active.discard(key)
            if key not in self._left or len(res) == len(prev):
                self.memo[key] = res
                return res
            for k in self._new[start:]:  # parses at this start that saw the old seed
                if k[1] == i and k != key:
                    self.memo.pop(k, None)
            del self._new[start:]
            prev = res

    def _walk(self, node: Trie, i: int, kids: tuple[Span, ...], res: dict[int, Deriv]) -> None:
        toks, n, limit = self.toks, len(self.toks), self.limit
        while True:
            for rule in node.rules:
                if limit is None or rule.index < limit:
                    res.setdefault(i, (rule, kids))
                    break
            for tc, sub in node.vars.items():
                for j in list(self.ends(tc, i)):
                    self._walk(sub, j, kids + ((tc, i, j),), res)
            nxt = node.consts.get(toks[i]) if i < n else None
            if nxt is None:
                return
            node, i = nxt, i + 1

    def parses(self, tc: str, start: int = 0, end: int | None = None) -> bool:
        return (len(self.toks) if end is None else end) in self.ends(tc, start)

    def syntax_proof(self, tc: str, fhyp: Callable[[str], str], start: int = 0, end: int | None = None,
                     out: list[str] | None = None) -> list[str]:
        """Reverse-Polish syntax proof of tokens[start:end] as `tc`; `fhyp` names a variable's $f."""
        end = len(self.toks) if end is None else end
        out = [] if out is None else out
        ends = self.ends(tc, start)
        if end not in ends:
            raise ValueError(f"'{' '.join(self.toks[start:end])}' is not a well-formed {tc}")
        d = ends[end]
        if d is None:
            out.append(fhyp(self.toks[start]))
            return out
        rule, kids = d
        by_var = {v: span for (v, _), span in zip(rule.var_types, kids)}
        for v in rule.hyp_vars:
            ktc, i, j = by_var[v]
            self.syntax_proof(ktc, fhyp, i, j, out)
        out.append(rule.label)
        return out

    def match(self, template: Sequence[str], tvars: Mapping[str, str],
              fixed: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]] | None:
        """A substitution making `template` (an assertion's body, variables typed by `tvars`) equal to
        the tokens, each variable bound to a well-formed expression of its type; None if there is
        none. `fixed` pins some variables."""
        toks, n = self.toks, len(self.toks)
        binding: dict[str, tuple[str, ...]] = dict(fixed or {})

        def go(k: int, i: int) -> bool:
            while k < len(template):
                t = template[k]
                tc = tvars.get(t)
                if tc is None:
                    if i >= n or toks[i] != t:
                        return False
                    i += 1
                    k += 1
                    continue
                val = binding.get(t)
                if val is not None:
                    if toks[i : i + len(val)] != val or not self.parses(tc, i, i + len(val)):
                        return False
                    i += len(val)
                    k += 1
                    continue
                for j in sorted(self.ends(tc, i)):
                    binding[t] = toks[i:j]
                    if go(k + 1, j):
                        return True
                binding.pop(t, None)
                return False
            return i == n

        return binding if go(0, 0) else None

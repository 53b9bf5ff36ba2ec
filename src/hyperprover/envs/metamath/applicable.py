"""Which assertions can apply to a goal, without matching it against every assertion of the database.

Every assertion's conclusion is parsed once with the database grammar and stored in a discrimination
tree keyed by the pre-order walk of its parse tree: each node is the syntax axiom that built it (e.g.
`wi` for `( ph -> ps )`), each variable of the assertion a wildcard that stands for a whole subtree.
A goal walks the tree the same way, following its own node at each step and also every wildcard
(skipping the goal's subtree there), so the assertions found are those whose conclusion has the same
shape as the goal wherever the conclusion is not a variable. That is a superset of the matches (a
variable used twice must bind the same expression twice, and the database-order limit is not in the
tree): `MetamathEnv.tactic_prefixes` checks each candidate with the real matcher.

On set.mm (37k conclusions) the tree is built once per env, in a few seconds, the first time it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from hyperprover.envs.metamath.database import Assertion, Database
from hyperprover.envs.metamath.grammar import Grammar, Parser, Rule

WILDCARD = "*"  # an assertion variable in a key; a syntax axiom label never is "*" (labels are [A-Za-z0-9._-])
GOAL_VAR = "$v"  # a variable of the goal: matched only by a wildcard


@dataclass(frozen=True)
class Candidate:
    label: str
    index: int  # database position: usable by theorems after it
    complete: bool  # every variable of the assertion occurs in its conclusion: nothing is left to substitute


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    here: list[Candidate] = field(default_factory=list)


def is_complete(a: Assertion) -> bool:
    in_concl = set(a.stmt[1:])
    return all(v in in_concl for v in a.variables)


def walk(parser: Parser, tc: str, wildcard_vars: bool, start: int = 0, end: int | None = None,
         out: list[str] | None = None) -> list[str] | None:
    """The pre-order walk of the parse tree of tokens[start:end] as `tc`: syntax axiom labels, and for each
    variable `WILDCARD` (an assertion's conclusion) or `GOAL_VAR` (a goal). None: it does not parse."""
    end = len(parser.toks) if end is None else end
    out = [] if out is None else out
    ends = parser.ends(tc, start)
    if end not in ends:
        return None
    deriv = ends[end]
    if deriv is None:  # a variable standing for itself
        out.append(WILDCARD if wildcard_vars else GOAL_VAR)
        return out
    rule, kids = deriv
    out.append(rule.label)
    for ktc, i, j in kids:
        if walk(parser, ktc, wildcard_vars, i, j, out) is None:
            return None
    return out


def _subtree_ends(key: list[str], arity: dict[str, int]) -> list[int]:
    """ends[i]: the position just past the subtree that starts at key[i]."""
    ends = [0] * len(key)
    stack: list[list[int]] = []  # [start, children still to close]
    for i, sym in enumerate(key):
        stack.append([i, arity.get(sym, 0)])
        while stack and stack[-1][1] == 0:
            s, _ = stack.pop()
            ends[s] = i + 1
            if stack:
                stack[-1][1] -= 1
    return ends


class ConclusionIndex:
    """Discrimination trees of the conclusions of `db`'s assertions, one per typecode (`|-`, ...)."""

    def __init__(self, db: Database, grammar: Grammar) -> None:
        self.grammar = grammar
        self.arity: dict[str, int] = {}
        for rule in _rules(grammar):
            self.arity[rule.label] = len(rule.var_types)
        self.body_type: dict[str, str] = {}  # typecode -> grammar type its statements parse as (|- -> wff)
        self.roots: dict[str, _Node] = {}
        self.unindexed: dict[str, list[Candidate]] = {}  # conclusions the grammar cannot parse: always tried
        self.size = 0
        for a in db.assertions.values():
            if grammar.is_syntactic(a.typecode):
                continue  # syntax goals are closed by parsing, never by a tactic
            cand = Candidate(a.label, a.index, is_complete(a))
            key = self._key(a.typecode, a.stmt[1:], wildcard_vars=True)
            if key is None:
                self.unindexed.setdefault(a.typecode, []).append(cand)
                continue
            node = self.roots.setdefault(a.typecode, _Node())
            for sym in key:
                node = node.children.setdefault(sym, _Node())
            node.here.append(cand)
            self.size += 1

    def _key(self, typecode: str, body: tuple[str, ...], wildcard_vars: bool,
             parser: Parser | None = None) -> list[str] | None:
        parser = parser or self.grammar.parser(body)
        known = self.body_type.get(typecode)
        for t in [known] if known else sorted(self.grammar.types):
            key = walk(parser, t, wildcard_vars)
            if key is not None:
                self.body_type.setdefault(typecode, t)
                return key
        return None

    def candidates(self, stmt: tuple[str, ...], parser: Parser | None = None) -> Iterator[Candidate]:
        """Assertions whose conclusion has the shape of `stmt` (typecode + body) where it is not a variable;
        every assertion of the typecode that could not be indexed. `parser`: one already over stmt[1:]."""
        typecode = stmt[0]
        yield from self.unindexed.get(typecode, ())
        root = self.roots.get(typecode)
        key = self._key(typecode, stmt[1:], wildcard_vars=False, parser=parser) if root is not None else None
        if root is None or key is None:
            return
        ends = _subtree_ends(key, self.arity)
        todo = [(root, 0)]
        while todo:
            node, i = todo.pop()
            if i == len(key):
                yield from node.here
                continue
            nxt = node.children.get(key[i])
            if nxt is not None:
                todo.append((nxt, i + 1))
            star = node.children.get(WILDCARD)
            if star is not None:
                todo.append((star, ends[i]))


def _rules(grammar: Grammar) -> Iterator[Rule]:
    seen: set[str] = set()
    for trie in grammar.tries.values():
        todo = [trie]
        while todo:
            t = todo.pop()
            for r in t.rules:
                if r.label not in seen:
                    seen.add(r.label)
                    yield r
            todo.extend(t.consts.values())
            todo.extend(t.vars.values())

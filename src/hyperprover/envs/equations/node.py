"""Expression trees of the Equations environment: nodes, prefix tokens, prefix positions, infix printing.

A `Node` is immutable and shares structure freely: rewriting a subterm rebuilds only the path from the
root to it. Each node caches its hash, its prefix length and whether it contains a variable when it is
built, so equality, positions and validity checks never walk whole trees twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

UNARY_OPS: tuple[str, ...] = ("neg", "inv", "exp", "ln", "pow2", "sqrt", "abs", "cos", "sin", "tan", "atan",
                              "acos", "asin", "cosh", "sinh", "tanh", "atanh", "acosh", "asinh")
BINARY_OPS: tuple[str, ...] = ("add", "mul", "sub", "div", "max", "min", "%", "**", "gcd", "lcm")
CMP_OPS: tuple[str, ...] = ("==", "!=", "<=", "<", "∣")
_UNARY = frozenset(UNARY_OPS)
_BINARY = frozenset(BINARY_OPS)
_CMP = frozenset(CMP_OPS)
KINDS = ("int", "var", "const", "unary", "binary", "cmp")
# pattern variables bound only to integer literals (the arith rules); "-a" stands for the literal -a
INT_VARS = frozenset(("a", "b", "c", "d", "e", "f", "-a"))
RULE_VARS = tuple("ABCDEFGHIJ") + tuple("abcdef") + ("-a",)
_MISSING: Any = object()
# Deepest tree accepted from text or tokens, and produced by a tactic. The tree walks (printing,
# evaluation, matching, pickling) recurse at up to 5 Python frames per level and the infix parser at up
# to 6, so 100 levels leave callers ~400 of Python's default 1000 frames (tests/test_bad_input.py checks
# it); generated goals are about 20 levels deep.
MAX_DEPTH = 100


class ExprParseError(ValueError):
    """Text or tokens that do not form an expression; the message says where."""


def depth_error(levels: int | None, where: str = "",
                hint: str = "a sum or product of n terms nests n levels") -> ExprParseError:
    """The one message for a tree deeper than MAX_DEPTH (`levels`: None when parsing stopped early)."""
    at = f" at {where}" if where else ""
    found = f"{levels} nested levels > {MAX_DEPTH}" if levels is not None else f"more than {MAX_DEPTH} nested levels"
    return ExprParseError(f"expression too deep{at}: {found}, the limit of expressions ({hint})")


@dataclass(frozen=True, slots=True, eq=False, init=False, repr=False)
class Node:
    """One expression node. `value`: the int (kind "int"), the name (var/const) or the operator."""

    kind: str
    value: int | str
    children: tuple[Node, ...]
    # caches, filled at construction (never part of equality)
    size: int = field(compare=False)  # prefix length in tokens (an integer counts sign + digits)
    height: int = field(compare=False)  # levels of the tree: 1 for a leaf (kept so depth checks are O(1))
    has_var: bool = field(compare=False)
    _hash: int = field(compare=False)
    _memo: dict[str, Any] | None = field(compare=False)  # lazily computed facts (numeric.py)

    def __init__(self, kind: str, value: int | str, children: tuple[Node, ...] = ()) -> None:
        s = object.__setattr__
        s(self, "kind", kind)
        s(self, "value", value)
        s(self, "children", children)
        s(self, "_memo", None)
        # arity is 0, 1 or 2: spelled out, since every rewrite builds nodes
        if not children:
            s(self, "size", 1 + len(str(abs(value))) if kind == "int" else 1)  # type: ignore[arg-type]
            s(self, "height", 1)
            s(self, "has_var", kind == "var")
            s(self, "_hash", hash((kind, value)))
        elif len(children) == 1:
            c = children[0]
            s(self, "size", 1 + c.size)
            s(self, "height", 1 + c.height)
            s(self, "has_var", c.has_var)
            s(self, "_hash", hash((kind, value, c._hash)))
        else:
            a, b = children
            s(self, "size", 1 + a.size + b.size)
            s(self, "height", 1 + (a.height if a.height > b.height else b.height))
            s(self, "has_var", a.has_var or b.has_var)
            s(self, "_hash", hash((kind, value, a._hash, b._hash)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Node) or self._hash != other._hash:
            return False
        return self.kind == other.kind and self.value == other.value and self.children == other.children

    def __reduce__(self) -> tuple[Any, ...]:
        return (Node, (self.kind, self.value, self.children))

    def __repr__(self) -> str:
        return f"Node<{to_infix(self)}>"

    def memo(self, key: str, compute: Any) -> Any:
        """Cached `compute(self)`; for facts that depend only on this subtree."""
        m = self._memo
        if m is None:
            m = {}
            object.__setattr__(self, "_memo", m)
        v = m.get(key, _MISSING)
        if v is _MISSING:
            v = m[key] = compute(self)
        return v

    def memo_set(self, key: str, value: Any) -> None:
        m = self._memo
        if m is None:
            m = {}
            object.__setattr__(self, "_memo", m)
        m[key] = value

    def prefix(self) -> list[str]:
        out: list[str] = []
        stack = [self]
        while stack:  # iterative: statements get deep and this is on the hot path
            n = stack.pop()
            k = n.kind
            if k == "int":
                v: int = n.value  # type: ignore[assignment]
                out.append("-" if v < 0 else "+")
                out.extend(str(abs(v)))
            else:
                out.append(n.value)  # type: ignore[arg-type]
                kids = n.children
                if kids:
                    if len(kids) == 1:
                        stack.append(kids[0])
                    else:
                        stack.append(kids[1])
                        stack.append(kids[0])
        return out

    def prefix_str(self) -> str:
        """Prefix tokens joined by spaces (cached: goal keys and hypothesis sorting use it)."""
        m = self._memo
        if m is not None:
            s = m.get("prefix_str")
            if s is not None:
                return s  # type: ignore[no-any-return]
        s = " ".join(self.prefix())
        self.memo_set("prefix_str", s)
        return s

    @property
    def is_cmp(self) -> bool:
        return self.kind == "cmp"


# ---------------------------------------------------------------- constructors


def Int(v: int) -> Node:  # noqa: N802 (constructor-style names are the documented API)
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"Int needs an int, got {v!r}")
    return Node("int", v)


def Var(name: str) -> Node:  # noqa: N802
    return Node("var", name)


def Const(name: str) -> Node:  # noqa: N802
    return Node("const", name)


def un(op: str, x: Node) -> Node:
    if op not in _UNARY:
        raise ValueError(f"unknown unary operator {op!r}")
    return Node("unary", op, (x,))


def bin(op: str, a: Node, b: Node) -> Node:  # noqa: A001 (spec name)
    if op not in _BINARY:
        raise ValueError(f"unknown binary operator {op!r}")
    return Node("binary", op, (a, b))


def cmp(op: str, a: Node, b: Node) -> Node:
    """A comparison; `>`/`>=` are stored swapped as `<`/`<=` (the library has no greater-than)."""
    if op == ">":
        op, a, b = "<", b, a
    elif op == ">=":
        op, a, b = "<=", b, a
    elif op == "=":
        op = "=="
    if op not in _CMP:
        raise ValueError(f"unknown comparison {op!r}")
    return Node("cmp", op, (a, b))


PI = Const("PI")
ZERO = Int(0)
ONE = Int(1)

# ---------------------------------------------------------------- prefix tokens


def prefix_len(node: Node) -> int:
    return node.size


def is_op_token(tok: str) -> bool:
    return tok in _UNARY or tok in _BINARY or tok in _CMP


def _leaf_from_token(tok: str) -> Node | None:
    if tok == "PI":
        return PI
    if len(tok) >= 2 and tok[0] == "x" and tok[1:].isdigit():
        return Var(tok)
    if len(tok) >= 2 and tok[0] == "a" and tok[1:].isdigit():
        return Const(tok)
    if tok in RULE_VARS:
        return Var(tok)
    return None


def parse_prefix(tokens: Sequence[str]) -> Node:
    """Inverse of `Node.prefix`; raises ExprParseError naming the token index of the problem."""
    node, end = _parse_at(tokens, 0)
    if end != len(tokens):
        raise ExprParseError(f"unexpected token {tokens[end]!r} at index {end}: the expression ended before")
    return node


def _parse_at(tokens: Sequence[str], i: int) -> tuple[Node, int]:
    # explicit stack instead of recursion: generated statements can be deep
    stack: list[tuple[str, str, list[Node], int]] = []  # (kind, op, children so far, arity)
    n = len(tokens)
    while True:
        if i >= n:
            raise ExprParseError(f"missing token at index {i}: expression is incomplete")
        tok = tokens[i]
        leaf: Node | None = None
        # an operator pushed on `len(stack)` others has a child at level len(stack) + 2; fail early,
        # the input may be huge
        if len(stack) >= MAX_DEPTH - 1 and is_op_token(tok):
            raise depth_error(None, f"token index {i}")
        if tok in _UNARY:
            stack.append(("unary", tok, [], 1))
            i += 1
            continue
        if tok in _BINARY:
            stack.append(("binary", tok, [], 2))
            i += 1
            continue
        if tok in _CMP:
            stack.append(("cmp", tok, [], 2))
            i += 1
            continue
        if tok in ("+", "-"):
            j = i + 1
            while j < n and len(tokens[j]) == 1 and tokens[j].isdigit():
                j += 1
            if j == i + 1:
                raise ExprParseError(f"sign token {tok!r} at index {i} is not followed by digits")
            v = int("".join(tokens[i + 1:j]))
            leaf = Int(-v if tok == "-" else v)
            i = j
        elif len(tok) == 1 and tok.isdigit():
            leaf = Int(int(tok))  # legacy: a bare digit is a one-digit integer
            i += 1
        else:
            leaf = _leaf_from_token(tok)
            if leaf is None:
                raise ExprParseError(f"unknown token {tok!r} at index {i}")
            i += 1
        node = leaf
        while stack:
            kind, op, kids, arity = stack[-1]
            kids.append(node)
            if len(kids) < arity:
                break
            stack.pop()
            node = Node(kind, op, tuple(kids))
        else:
            return node, i


# ---------------------------------------------------------------- positions


def subtree_at(node: Node, pos: int) -> Node | None:
    """The subtree whose serialization starts at token `pos` (None inside an integer or past the end)."""
    if pos < 0 or pos >= node.size:
        return None
    while pos:
        if not node.children:
            return None  # inside an integer's digits
        pos -= 1
        for c in node.children:
            if pos < c.size:
                node = c
                break
            pos -= c.size
    return node


def replace_at(node: Node, pos: int, new: Node) -> Node:
    """`node` with the subtree at token `pos` replaced by `new` (raises IndexError if none is there)."""
    if pos < 0 or pos >= node.size:
        raise IndexError(f"position {pos} is outside the expression ({node.size} tokens)")
    path: list[tuple[Node, int]] = []
    while pos:
        if not node.children:
            raise IndexError("position falls inside an integer literal")
        pos -= 1
        for idx, c in enumerate(node.children):
            if pos < c.size:
                path.append((node, idx))
                node = c
                break
            pos -= c.size
    out = new
    for parent, idx in reversed(path):
        kids = parent.children
        out = Node(parent.kind, parent.value, kids[:idx] + (out,) + kids[idx + 1:])
    return out


def seed_prefix_str(old_root: Node, new_root: Node, pos: int, old_sub: Node, new_sub: Node) -> None:
    """Give `new_root` (= `old_root` with `old_sub` at `pos` replaced by `new_sub`) its prefix string by
    splicing the parent's, instead of walking the whole new tree."""
    m = old_root._memo
    parent = None if m is None else m.get("prefix_str")
    if parent is None:
        return
    toks = parent.split(" ")
    toks[pos:pos + old_sub.size] = [new_sub.prefix_str()]
    new_root.memo_set("prefix_str", " ".join(toks))


def positions(node: Node) -> Iterator[tuple[int, Node]]:
    """Every (prefix position, subtree) in prefix order."""
    stack = [(0, node)]
    while stack:
        pos, n = stack.pop()
        yield pos, n
        if not n.children:
            continue
        p = pos + 1
        items = []
        for c in n.children:
            items.append((p, c))
            p += c.size
        stack.extend(reversed(items))


def variables(node: Node) -> frozenset[str]:
    return node.memo("vars", _compute_vars)  # type: ignore[no-any-return]


def _compute_vars(node: Node) -> frozenset[str]:
    if node.kind == "var":
        return frozenset((node.value,))  # type: ignore[arg-type]
    if not node.has_var:
        return frozenset()
    out: frozenset[str] = frozenset()
    for c in node.children:
        out = out | variables(c)
    return out


def substitute(node: Node, binding: Mapping[str, Node]) -> Node:
    """Replace variables by their bound trees (simultaneously); unbound variables stay."""
    if not node.has_var:
        return node
    if node.kind == "var":
        return binding.get(node.value, node)  # type: ignore[arg-type]
    kids = node.children
    if len(kids) == 1:
        c = substitute(kids[0], binding)
        return node if c is kids[0] else Node(node.kind, node.value, (c,))
    a, b = substitute(kids[0], binding), substitute(kids[1], binding)
    if a is kids[0] and b is kids[1]:
        return node
    return Node(node.kind, node.value, (a, b))


def depth(node: Node) -> int:
    return node.height


def ops(node: Node) -> frozenset[str]:
    """The unary and binary operators used in the tree."""
    return node.memo("ops", _compute_ops)  # type: ignore[no-any-return]


def _compute_ops(node: Node) -> frozenset[str]:
    out: frozenset[str] = frozenset((str(node.value),)) if node.kind in ("unary", "binary") else frozenset()
    for c in node.children:
        out = out | ops(c)
    return out


# ---------------------------------------------------------------- infix (docs/equations.md 1.5)

_BIN_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/", "%": "%", "**": "**"}


def leaf_text(node: Node) -> str | None:
    """An integer, variable or constant as every notation prints it (a negative integer in parentheses);
    None for an operator."""
    if node.kind == "int":
        v: int = node.value  # type: ignore[assignment]
        return str(v) if v >= 0 else f"({v})"
    if node.kind in ("var", "const"):
        return node.value  # type: ignore[return-value]
    return None


def to_infix(node: Node) -> str:
    """Fully parenthesized form of docs/equations.md 1.5 (rule names use it with spaces turned into `_`).

    One deliberate difference: `neg` of a non-negative integer literal prints as `(-(5))`, since the
    spec's `(-5)` is also how the literal -5 prints and the two must stay distinguishable.
    """
    leaf = leaf_text(node)
    if leaf is not None:
        return leaf
    k, op = node.kind, node.value
    if k == "unary":
        (x,) = node.children
        sx = to_infix(x)
        if op == "neg":
            if x.kind == "int" and x.value >= 0:  # type: ignore[operator]
                return f"(-({sx}))"
            return f"(-{sx})"
        if op == "inv":
            return f"({sx} ** -1)"
        if op == "pow2":
            return f"({sx} ** 2)"
        return f"{op}({sx})"
    a, b = (to_infix(c) for c in node.children)
    if k == "binary":
        sym = _BIN_SYM.get(op)  # type: ignore[arg-type]
        if sym is None:
            return f"({op} {a} {b})"
        return f"({a} {sym} {b})"
    return f"({a} {op} {b})"

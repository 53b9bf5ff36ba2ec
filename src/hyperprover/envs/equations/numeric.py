"""Numbers for expressions: float evaluation, exact rational folding and validity (docs/equations.md 6).

Facts about variable-free subtrees (their float value, exact fraction, folded form, validity) are
memoized on the node, so a rewritten goal only pays for the nodes the rewrite created.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

from hyperprover.envs.equations.node import Int, Node

NAN = float("nan")
MAX_BITS = 512  # exact folding gives up on rationals bigger than this (a bound; exact, never a float test)
MAX_EXPONENT = 256
_EPS = 1e-8


def _safe(f: Callable[..., float]) -> Callable[..., float]:
    def g(*x: float) -> float:
        try:
            return f(*x)
        except (ValueError, OverflowError, ZeroDivisionError):
            return NAN
    return g


_UNARY: dict[str, Callable[[float], float]] = {
    "neg": lambda x: -x,
    "inv": _safe(lambda x: 1.0 / x),
    "exp": _safe(math.exp),
    "ln": _safe(lambda x: math.log(x) if x > 0 else NAN),
    "pow2": _safe(lambda x: x * x),
    "sqrt": _safe(lambda x: math.sqrt(x) if x >= 0 else NAN),
    "abs": abs,
    "cos": _safe(math.cos),
    "sin": _safe(math.sin),
    "tan": _safe(math.tan),
    "atan": _safe(math.atan),
    "acos": _safe(math.acos),
    "asin": _safe(math.asin),
    "cosh": _safe(math.cosh),
    "sinh": _safe(math.sinh),
    "tanh": _safe(math.tanh),
    "atanh": _safe(math.atanh),
    "acosh": _safe(math.acosh),
    "asinh": _safe(math.asinh),
}


def _int_op(f: Callable[[int, int], int]) -> Callable[[float, float], float]:
    def g(a: float, b: float) -> float:
        if not (a.is_integer() and b.is_integer()):
            return NAN
        return float(f(int(a), int(b)))
    return g


def _power(a: float, b: float) -> float:
    try:
        r = a ** b
    except (OverflowError, ZeroDivisionError, ValueError):
        return NAN
    return r if isinstance(r, float) else NAN  # a negative base with a fractional exponent is complex


_BINARY: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _safe(lambda a, b: a / b),
    "max": max,
    "min": min,
    "%": _safe(lambda a, b: a % b),
    "**": lambda a, b: _power(a, b),
    "gcd": _int_op(math.gcd),
    "lcm": _int_op(math.lcm),
}
_CONSTS = {"PI": math.pi}


def evaluate(node: Node, values: Mapping[str, float]) -> float:
    """Float value of an expression; nan when undefined (domain, division by zero, overflow, unbound var)."""
    if not node.has_var:
        return node.memo("float", _const_value)  # type: ignore[no-any-return]
    return _eval(node, values)


def _const_value(node: Node) -> float:
    return _eval(node, {})


def _eval(node: Node, values: Mapping[str, float]) -> float:
    k = node.kind
    if k == "int":
        try:
            return float(node.value)
        except OverflowError:
            return NAN
    if k == "var":
        return float(values.get(node.value, NAN))  # type: ignore[arg-type]
    if k == "const":
        v = values.get(node.value)  # type: ignore[arg-type]
        return float(v) if v is not None else _CONSTS.get(node.value, NAN)  # type: ignore[arg-type]
    if k == "unary":
        x = evaluate(node.children[0], values)
        r = _UNARY[node.value](x)  # type: ignore[index]
    elif k == "binary":
        a, b = evaluate(node.children[0], values), evaluate(node.children[1], values)
        r = _BINARY[node.value](a, b)  # type: ignore[index]
    else:
        return NAN  # a comparison has no value: use `holds`
    return r if math.isfinite(r) else NAN


def holds(stmt: Node, values: Mapping[str, float], tol: float = 1e-9, gap: float = 1e-6) -> bool | None:
    """Numerical truth of a comparison: True/False, or None when undefined or too close to call."""
    a, b = evaluate(stmt.children[0], values), evaluate(stmt.children[1], values)
    if math.isnan(a) or math.isnan(b):
        return None
    scale = max(1.0, abs(a), abs(b))
    d = b - a
    op = stmt.value
    if op in ("==", "!="):
        if abs(d) <= tol * scale:
            eq: bool | None = True
        elif abs(d) > gap * scale:
            eq = False
        else:
            eq = None
        return eq if op == "==" or eq is None else not eq
    if op == "<":
        if d > gap * scale:
            return True
        return False if d <= tol * scale else None
    if op == "<=":
        if d >= -tol * scale:
            return True
        return False if d < -gap * scale else None
    return None


# ---------------------------------------------------------------- exact rationals


def fraction(node: Node) -> Fraction | None:
    """Exact value of a rational constant subtree (docs/equations.md 6.4), else None."""
    if node.has_var or node.kind in ("var", "const", "cmp"):
        return None
    if node.kind == "int":
        return Fraction(node.value)  # type: ignore[arg-type]
    return node.memo("frac", _fraction)  # type: ignore[no-any-return]


def _small(q: Fraction) -> Fraction | None:
    if q.numerator.bit_length() > MAX_BITS or q.denominator.bit_length() > MAX_BITS:
        return None
    return q


def _fraction(node: Node) -> Fraction | None:
    op = node.value
    if node.kind == "unary":
        x = fraction(node.children[0])
        if x is None:
            return None
        if op == "neg":
            return -x
        if op == "pow2":
            return _small(x * x)
        if op == "inv":
            return None if x == 0 else 1 / x
        return None
    if node.kind != "binary":
        return None
    a = fraction(node.children[0])
    if a is None:
        return None
    b = fraction(node.children[1])
    if b is None:
        return None
    if op == "add":
        return _small(a + b)
    if op == "sub":
        return _small(a - b)
    if op == "mul":
        return _small(a * b)
    if op == "div":
        return None if b == 0 else _small(a / b)
    if op == "**":
        if b.denominator != 1 or abs(b.numerator) > MAX_EXPONENT or (a == 0 and b < 0):
            return None
        return _small(a ** b.numerator)
    return None


# memo of a node that folding leaves as it is: the node itself there would be a reference cycle (node -> memo
# -> node) that only a full garbage collection frees; those made up most of a prover's collections
_UNCHANGED = "unchanged"


def fold_constants(node: Node) -> Node:
    """Replace every rational subtree whose value is an integer by that literal (top-down, docs/equations.md 6.4)."""
    if not node.children:
        return node
    m = node._memo
    if m is not None:
        done = m.get("fold")
        if done is not None:
            return node if done is _UNCHANGED else done  # type: ignore[no-any-return]
    q = None if node.has_var else fraction(node)
    if q is not None and q.denominator == 1:
        out = Int(q.numerator)
    else:
        changed = False
        kids = []
        for c in node.children:
            f = fold_constants(c)
            changed = changed or f is not c
            kids.append(f)
        out = Node(node.kind, node.value, tuple(kids)) if changed else node
    node.memo_set("fold", _UNCHANGED if out is node else out)
    return out


# ---------------------------------------------------------------- validity (docs/equations.md 6.2)


def is_valid(node: Node) -> bool:
    """A statement or expression is valid: no nested comparison, no constant division by zero, and every
    variable-free unary node inside its domain. Subtrees with variables are not domain-checked."""
    if node.kind == "cmp":
        return _expr_valid(node.children[0]) and _expr_valid(node.children[1])
    return _expr_valid(node)


def _expr_valid(node: Node) -> bool:
    kids = node.children
    if not kids:
        return True
    if node.kind == "cmp":
        return False
    m = node._memo
    if m is not None:
        done = m.get("valid")
        if done is not None:
            return done  # type: ignore[no-any-return]
    ok = _expr_valid(kids[0]) and (len(kids) == 1 or _expr_valid(kids[1])) and _local_ok(node)
    node.memo_set("valid", ok)
    return ok


def invalid_reason(node: Node) -> str | None:
    """Why `node` is not valid (the innermost offending subtree), or None when it is valid."""
    if node.kind == "cmp" and node is not None:
        for c in node.children:
            r = _reason(c)
            if r:
                return r
        return None
    return _reason(node)


def _reason(node: Node) -> str | None:
    from hyperprover.envs.equations.infix import to_pretty

    if node.kind == "cmp":
        return f"comparison {to_pretty(node)} nested inside an expression"
    for c in node.children:
        r = _reason(c)
        if r:
            return r
    if node.kind in ("unary", "binary") and not _local_ok(node):
        return f"{to_pretty(node)} is undefined"
    return None


def _local_ok(node: Node) -> bool:
    op = node.value
    if node.kind == "binary":
        if op != "div":
            return True
        den = node.children[1]
        if den.has_var:
            return True
        q = fraction(den)
        if q is not None:
            return q != 0
        v = evaluate(den, {})
        return not math.isnan(v) and abs(v) >= _EPS
    if node.has_var:
        return True
    arg = node.children[0]
    x = evaluate(arg, {})
    if math.isnan(x) or math.isnan(evaluate(node, {})):
        return False
    q = fraction(arg)
    if op == "inv":
        return q != 0 if q is not None else abs(x) >= _EPS
    if op == "ln":
        return q > 0 if q is not None else x >= _EPS
    if op == "sqrt":
        return q >= 0 if q is not None else x >= -_EPS
    if op == "tan":
        r = math.fmod(abs(x) - math.pi / 2, math.pi)
        return min(abs(r), math.pi - abs(r)) > _EPS
    if op in ("acos", "asin"):
        return -1 <= x <= 1
    if op == "atanh":
        return -1 < x < 1
    if op == "acosh":
        return x >= 1
    return True

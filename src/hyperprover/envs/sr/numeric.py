"""Point sets, vectorised evaluation at the points, and the small pattern simplifier of generated targets.

The Equations evaluator (`equations.numeric.evaluate`) is scalar; a tactic here evaluates a whole point
set at once, so this module evaluates with numpy and keeps the same convention: any value that is not
finite (domain error, division by zero, overflow) is nan. Values of a subtree with a variable are memoised
on the node per point set, so a rewritten expression only pays for the nodes the rewrite created;
variable-free subtrees reuse the Equations scalar evaluator (and its memo).
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hyperprover.envs.equations.expr import Int, Node, bin, evaluate, fold_constants, un

VAR = "x0"
RTOL = 1e-5
ATOL = 1e-8

_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "neg": np.negative, "inv": np.reciprocal, "exp": np.exp, "ln": np.log, "pow2": np.square, "sqrt": np.sqrt,
    "abs": np.abs, "cos": np.cos, "sin": np.sin, "tan": np.tan, "atan": np.arctan, "acos": np.arccos,
    "asin": np.arcsin, "cosh": np.cosh, "sinh": np.sinh, "tanh": np.tanh, "atanh": np.arctanh,
    "acosh": np.arccosh, "asinh": np.arcsinh,
}
_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "max": np.maximum,
    "min": np.minimum, "**": np.power,
}


@dataclass(frozen=True)
class PointSet:
    """Inputs x_i and targets y_i of one regression problem; all finite, same length, at least one."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def __post_init__(self) -> None:
        nx, ny = len(self.xs), len(self.ys)
        if nx == 0:
            raise ValueError("SR points: the point set is empty; give at least one (x, y) pair")
        if nx != ny:
            raise ValueError(f"SR points: {nx} inputs but {ny} targets; give exactly one target per input")
        for name, seq in (("x", self.xs), ("y", self.ys)):
            for i, v in enumerate(seq):
                if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
                    raise ValueError(f"SR points: {name}[{i}] = {v!r} is not a finite number; "
                                     "drop the points where the target is undefined")
        object.__setattr__(self, "xs", tuple(float(v) for v in self.xs))
        object.__setattr__(self, "ys", tuple(float(v) for v in self.ys))

    @classmethod
    def from_target(cls, target: Node, xs: Sequence[float], min_defined: float = 0.0) -> PointSet:
        """The points of `xs` where `target` is finite, with its values as targets."""
        x = np.asarray(xs, dtype=np.float64)
        y = evaluate_array(target, x)
        keep = np.isfinite(y)
        if keep.sum() == 0 or keep.sum() < min_defined * len(x):
            raise ValueError(f"SR target is defined at only {int(keep.sum())} of {len(x)} points")
        return cls(tuple(x[keep].tolist()), tuple(y[keep].tolist()))

    @property
    def n(self) -> int:
        return len(self.xs)

    @cached_property
    def x(self) -> np.ndarray:
        a = np.array(self.xs, dtype=np.float64)
        a.flags.writeable = False
        return a

    @cached_property
    def y(self) -> np.ndarray:
        a = np.array(self.ys, dtype=np.float64)
        a.flags.writeable = False
        return a

    @cached_property
    def xy_tokens(self) -> tuple[tuple[str, ...], ...]:
        """Float tokens of (x_i, y_i) per point: shared by every goal on this point set, so encoded once."""
        from hyperprover.envs.sr.floats import encode_float

        return tuple((*encode_float(x), *encode_float(y)) for x, y in zip(self.xs, self.ys))

    @cached_property
    def digest(self) -> str:
        """Short exact identity of the whole point set (goal keys use it)."""
        return hashlib.blake2b(self.x.tobytes() + b"|" + self.y.tobytes(), digest_size=8).hexdigest()

    @cached_property
    def x_digest(self) -> str:
        return hashlib.blake2b(self.x.tobytes(), digest_size=8).hexdigest()


def evaluate_points(node: Node, points: PointSet) -> np.ndarray:
    """Values of `node` at the points' inputs (read-only; nan wherever undefined)."""
    return _eval(node, points.x, "sr_vals:" + points.x_digest)


def evaluate_array(node: Node, x: np.ndarray) -> np.ndarray:
    """Values of `node` at arbitrary inputs, without memoising."""
    return _eval(node, np.asarray(x, dtype=np.float64), None)


def _eval(node: Node, x: np.ndarray, memo_key: str | None) -> np.ndarray:
    if not node.has_var:
        return np.full(x.shape, evaluate(node, {}))
    if node.kind == "var":
        return x if node.value == VAR else np.full(x.shape, np.nan)
    if memo_key is None:
        return _eval_op(node, x, None)
    out: np.ndarray = node.memo(memo_key, lambda n: _eval_op(n, x, memo_key))
    return out


def _eval_op(node: Node, x: np.ndarray, memo_key: str | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if node.kind == "unary":
            r = _UNARY[node.value](_eval(node.children[0], x, memo_key))  # type: ignore[index]
        elif node.kind == "binary" and node.value in _BINARY:
            a, b = (_eval(c, x, memo_key) for c in node.children)
            r = _BINARY[node.value](a, b)  # type: ignore[index]
        else:  # %, gcd, lcm, comparisons: not real-valued functions of x here
            r = np.full(x.shape, np.nan)
    r = np.where(np.isfinite(r), r, np.nan)
    r.flags.writeable = False
    return r


def has_cmp(node: Node) -> bool:
    """Whether a comparison occurs anywhere in the tree (memoised: rewritten trees share most nodes)."""
    if not node.children:
        return False
    return node.memo("sr_has_cmp", lambda n: n.kind == "cmp" or any(has_cmp(c) for c in n.children))  # type: ignore[no-any-return]


def all_finite(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).all())


def first_undefined(values: np.ndarray, points: PointSet) -> float | None:
    """The first input where `values` is not finite (for error messages)."""
    bad = np.flatnonzero(~np.isfinite(values))
    return float(points.x[bad[0]]) if len(bad) else None


def values_match(values: np.ndarray, targets: np.ndarray) -> bool:
    """Spec 7's closing test: isclose everywhere with rtol 1e-5, atol 1e-8."""
    # np.isclose's formula, written out: it is on the hot path and both arrays are finite here
    with np.errstate(invalid="ignore"):
        return bool((np.abs(values - targets) <= ATOL + RTOL * np.abs(targets)).all())


# ---------------------------------------------------------------- the target simplifier

ZERO, ONE, TWO, MINUS_ONE = Int(0), Int(1), Int(2), Int(-1)


def simplify(node: Node, max_rounds: int = 20) -> Node:
    """Bottom-up pattern rewriting plus exact integer folding, to a fixpoint (sympy is not available).

    The rules only remove redundancy that a random tree sampler creates (x - x, neg(neg(A)), A * 1, ...);
    the generator evaluates the simplified expression, so a rule that changes a value at some point (e.g.
    0 * ln(x) -> 0) changes the target, never the consistency of target and proof.
    """
    for _ in range(max_rounds):
        new = _simp(fold_constants(node))
        if new == node:
            return new
        node = new
    return node


def _simp(node: Node) -> Node:
    if not node.children:
        return node
    kids = tuple(_simp(c) for c in node.children)
    if kids != node.children:
        node = Node(node.kind, node.value, kids)
    return _rewrite(node)


def _rewrite(n: Node) -> Node:  # noqa: C901 - one flat table of patterns reads best
    op = n.value
    if not n.has_var:
        # sqrt(4), |(-3)|, ln(1): constants whose float value is an exact small integer become literals
        v = evaluate(n, {})
        if math.isfinite(v) and v.is_integer() and abs(v) <= 1e6:
            return Int(int(v))
        return n
    if n.kind == "unary":
        (a,) = n.children
        inner = a.value if a.kind == "unary" else None
        if op == "neg" and inner == "neg":
            return a.children[0]
        if op == "inv" and inner == "inv":
            return a.children[0]
        if op == "abs" and inner in ("abs", "neg"):
            return un("abs", a.children[0])
        if op == "abs" and inner == "pow2":
            return a
        if op == "pow2" and inner in ("neg", "abs"):
            return un("pow2", a.children[0])
        if op == "sqrt" and inner == "pow2":
            return un("abs", a.children[0])
        if op == "ln" and inner == "exp":
            return a.children[0]
        if op == "neg" and a.kind == "binary" and a.value == "sub":
            return bin("sub", a.children[1], a.children[0])
        return n
    if n.kind != "binary":
        return n
    a, b = n.children
    if op == "add":
        if b == ZERO:
            return a
        if a == ZERO:
            return b
        if a == b:
            return bin("mul", TWO, a)
        if b.kind == "unary" and b.value == "neg":
            return bin("sub", a, b.children[0])
    elif op == "sub":
        if b == ZERO:
            return a
        if a == ZERO:
            return un("neg", b)
        if a == b:
            return ZERO
        if b.kind == "unary" and b.value == "neg":
            return bin("add", a, b.children[0])
    elif op == "mul":
        if a == ZERO or b == ZERO:
            return ZERO
        if b == ONE:
            return a
        if a == ONE:
            return b
        if b == MINUS_ONE:
            return un("neg", a)
        if a == MINUS_ONE:
            return un("neg", b)
        if a == b:
            return un("pow2", a)
        if b.kind == "unary" and b.value == "inv":
            return bin("div", a, b.children[0])
    elif op == "div":
        if b == ONE:
            return a
        if b == MINUS_ONE:
            return un("neg", a)
        if a == ZERO:
            return ZERO
        if a == b:
            return ONE
        if a == ONE:
            return un("inv", b)
        if b.kind == "unary" and b.value == "inv":
            return bin("mul", a, b.children[0])
    return n

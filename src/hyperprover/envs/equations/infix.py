"""Human notation for expressions: the parser for appendix A/B and command-line goals, and a printer.

Notation: `+ - * / %`, `^` or `**` (exponents 2, -1, 3, 4 and 0.5 are sugar for `pow2`, `inv`,
`pow2(X)*X`, `pow2(pow2(X))` and `sqrt`), unary minus (`-A` is the `neg` node, `-3` directly before
digits is the literal -3), `|X|`, function calls `exp(..)`, `max(a, b)`, comparisons `= == != <= < > >=`.
Goal variables `x0..x99` with `x`, `y`, `z` for x0, x1, x2; rule variables `A..J`, int-typed `a..f`;
constants `PI` and `a0..a99`. The fully parenthesized spec format of `to_infix` is read as well.
"""

from __future__ import annotations

import re

from hyperprover.envs.equations.node import (
    BINARY_OPS,
    MAX_DEPTH,
    PI,
    RULE_VARS,
    UNARY_OPS,
    Const,
    ExprParseError,
    Int,
    Node,
    Var,
    bin,
    cmp,
    depth_error,
    leaf_text,
    un,
)

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|==|!=|<=|>=|[-+*/%^()|,=<>]"
                    r"|≤|≥|≠|∣|−))")
_CMP_SYM = {"=": "==", "==": "==", "!=": "!=", "≠": "!=", "<=": "<=", "≤": "<=", "<": "<", ">": ">",
            ">=": ">=", "≥": ">=", "∣": "∣"}
_ALIASES = {"x": "x0", "y": "x1", "z": "x2"}
_FUNC_ALIASES = {"log": "ln", "sq": "pow2"}
_BIN_FUNCS = frozenset(("max", "min", "gcd", "lcm"))
_UNARY_SET = frozenset(UNARY_OPS)
_RULE_VAR_SET = frozenset(RULE_VARS)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(type, text, character position) triples; type in num/id/op, ending with ("end", "", len)."""
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            raise ExprParseError(f"unexpected character {text[i]!r} at position {i}")
        start = m.start(m.lastindex or 0)
        num, ident, op = m.groups()
        if num is not None:
            out.append(("num", num, start))
        elif ident is not None:
            out.append(("id", ident, start))
        else:
            out.append(("op", "-" if op == "−" else op, start))
        i = m.end()
    out.append(("end", "", n))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.nesting = 0  # open calls of `signed`: parentheses, |..|, calls, signs and powers pass through it

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def error(self, msg: str, tok: tuple[str, str, int] | None = None) -> ExprParseError:
        t = tok or self.peek()
        what = f"{t[1]!r}" if t[0] != "end" else "end of input"
        return ExprParseError(f"{msg} at position {t[2]} (found {what})")

    def take(self, text: str) -> None:
        t = self.peek()
        if t[0] != "op" or t[1] != text:
            raise self.error(f"expected {text!r}")
        self.i += 1

    def at_op(self, *texts: str) -> bool:
        t = self.peek()
        return t[0] == "op" and t[1] in texts

    def statement(self) -> Node:
        if self.at_op("(") and self._closing(0) == len(self.toks) - 2:
            # the spec format wraps the whole comparison in parentheses: `(A == B)`
            self.i = 1
            try:
                left = self.sum()
                t = self.peek()
                if t[0] == "op" and t[1] in _CMP_SYM:
                    self.i += 1
                    node = cmp(_CMP_SYM[t[1]], left, self.sum())
                    self.take(")")
                    return node
            except ExprParseError:
                pass  # not a wrapped comparison: read it again as an expression
            self.i = 0
        left = self.sum()
        t = self.peek()
        if t[0] == "op" and t[1] in _CMP_SYM:
            self.i += 1
            right = self.sum()
            node = cmp(_CMP_SYM[t[1]], left, right)
        else:
            node = left
        if self.peek()[0] != "end":
            raise self.error("unexpected text after the expression")
        return node

    def _closing(self, start: int) -> int:
        """Index of the ')' matching the '(' at token `start` (-1 if unbalanced)."""
        level = 0
        for j in range(start, len(self.toks)):
            kind, text, _ = self.toks[j]
            if kind == "op" and text == "(":
                level += 1
            elif kind == "op" and text == ")":
                level -= 1
                if level == 0:
                    return j
        return -1

    def sum(self) -> Node:
        node = self.term()
        while self.at_op("+", "-"):
            op = "add" if self.peek()[1] == "+" else "sub"
            self.i += 1
            node = bin(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.signed()
        while self.at_op("*", "/", "%"):
            op = {"*": "mul", "/": "div", "%": "%"}[self.peek()[1]]
            self.i += 1
            node = bin(op, node, self.signed())
        return node

    def signed(self) -> Node:
        # every recursion of this parser passes through here, at up to 6 Python frames per level: stop
        # before Python's recursion limit does, naming the position (inline, as a wrapper costs a frame)
        if self.nesting >= MAX_DEPTH:
            raise depth_error(None, f"position {self.peek()[2]}",
                              "parentheses, |..|, function calls, signs and powers each nest a level")
        self.nesting += 1
        try:
            if self.at_op("-"):
                nxt = self.peek(1)
                self.i += 1
                if nxt[0] == "num":  # `-3` is the literal -3, `-(3)` and `-x` are neg nodes
                    self.i += 1
                    if self.at_op("^", "**"):  # but `-3^2` is -(3^2), as in mathematics
                        return un("neg", self.power_suffix(Int(self.integer(nxt))))
                    return Int(-self.integer(nxt))
                return un("neg", self.signed())
            return self.power_suffix(self.primary())
        finally:
            self.nesting -= 1

    def integer(self, tok: tuple[str, str, int]) -> int:
        if not tok[1].isdigit():
            raise self.error("only integer literals are allowed here (0.5 only as an exponent)", tok)
        return int(tok[1])

    def power_suffix(self, base: Node) -> Node:
        if not self.at_op("^", "**"):
            return base
        self.i += 1
        t = self.peek()
        if t[0] == "num" and t[1] == "0.5":
            self.i += 1
            return un("sqrt", base)
        expo = self.signed()
        if expo.kind == "int":
            if expo.value == 2:
                return un("pow2", base)
            if expo.value == -1:
                return un("inv", base)
            if expo.value == 3:
                return bin("mul", un("pow2", base), base)
            if expo.value == 4:
                return un("pow2", un("pow2", base))
        return bin("**", base, expo)

    def primary(self) -> Node:
        t = self.peek()
        if t[0] == "num":
            self.i += 1
            return Int(self.integer(t))
        if t[0] == "id":
            self.i += 1
            return self.identifier(t)
        if self.at_op("("):
            self.i += 1
            nxt, after = self.peek(), self.peek(1)
            if nxt[0] == "id" and nxt[1] in _BIN_FUNCS and not (after[0] == "op" and after[1] == "("):
                self.i += 1  # old format `(max X Y)`
                a = self.signed()
                b = self.signed()
                self.take(")")
                return bin(nxt[1], a, b)
            node = self.sum()
            self.take(")")
            return node
        if self.at_op("|"):
            self.i += 1
            node = self.sum()
            self.take("|")
            return un("abs", node)
        raise self.error("expected a number, a variable, '(' or '|'")

    def identifier(self, t: tuple[str, str, int]) -> Node:
        name = t[1]
        if self.at_op("("):
            fname = _FUNC_ALIASES.get(name, name)
            if fname in _UNARY_SET:
                self.i += 1
                arg = self.sum()
                self.take(")")
                return un(fname, arg)
            if fname in _BIN_FUNCS or fname in BINARY_OPS:
                self.i += 1
                a = self.sum()
                self.take(",")
                b = self.sum()
                self.take(")")
                return bin(fname, a, b)
            raise self.error(f"unknown function {name!r}", t)
        name = _ALIASES.get(name, name)
        if name in ("PI", "pi"):
            return PI
        if re.fullmatch(r"x\d+", name):
            return Var(name)
        if re.fullmatch(r"a\d+", name):
            return Const(name)
        if name in _RULE_VAR_SET:
            return Var(name)
        if name in _UNARY_SET:
            raise self.error(f"function {name!r} needs parentheses", t)
        raise self.error(f"unknown name {name!r} (variables are x0..x9, x, y, A..J, a..f; constant PI)", t)


def parse_infix(text: str) -> Node:
    """Parse human notation (see the module docstring); raises ExprParseError with the character position."""
    if not text.strip():
        raise ExprParseError("empty expression at position 0")
    node = _Parser(text).statement()
    if node.height > MAX_DEPTH:  # long sums and products nest without recursing in the parser
        raise depth_error(node.height)
    return node


# ---------------------------------------------------------------- printing with few parentheses

_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "%": 2}
_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/", "%": "%"}
_CMP_TEXT = {"==": "=", "!=": "!=", "<=": "<=", "<": "<", "∣": "∣"}


def _prec(node: Node) -> int:
    if node.kind == "binary":
        return _PREC.get(node.value, 5)  # type: ignore[arg-type]
    if node.kind == "unary" and node.value == "neg":
        return 3
    if node.kind == "unary" and node.value in ("pow2", "inv"):
        return 4
    if node.kind == "cmp":
        return 0
    return 5


def to_pretty(node: Node) -> str:
    """Appendix notation with few parentheses; `parse_infix(to_pretty(n)) == n` (except binary `**`, and
    except trees near MAX_DEPTH whose text nests deeper than the parser allows: each `-(..)` is two levels).
    """
    leaf = leaf_text(node)
    if leaf is not None:
        return leaf
    k, op = node.kind, node.value
    if k == "cmp":
        return f"{to_pretty(node.children[0])} {_CMP_TEXT[op]} {to_pretty(node.children[1])}"  # type: ignore[index]
    if k == "unary":
        x = node.children[0]
        sx = to_pretty(x)
        if op == "neg":
            # `-3` would read back as a literal, `-A + B` as a sum: parenthesize those operands
            return f"-({sx})" if _prec(x) < 4 or sx[0].isdigit() else f"-{sx}"
        if op in ("pow2", "inv"):
            if _prec(x) < 5 or (x.kind == "int" and x.value < 0):  # type: ignore[operator]
                sx = sx if sx.startswith("(") and x.kind == "int" else f"({sx})"
            return f"{sx}^2" if op == "pow2" else f"{sx}^-1"
        if op == "abs":
            return f"|{sx}|"
        return f"{op}({sx})"
    a, b = node.children
    if op in _PREC:
        p = _PREC[op]  # type: ignore[index]
        sa, sb = to_pretty(a), to_pretty(b)
        if _prec(a) < p or _prec(a) == 3:
            sa = f"({sa})"
        if _prec(b) <= p or _prec(b) == 3:
            sb = f"({sb})"
        return f"{sa} {_SYM[op]} {sb}"  # type: ignore[index]
    if op == "**":
        return f"({to_pretty(a)}) ** ({to_pretty(b)})"
    return f"{op}({to_pretty(a)}, {to_pretty(b)})"

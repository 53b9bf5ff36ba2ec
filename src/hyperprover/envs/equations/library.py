"""The default rule library (docs/equations.md 2.6: 242 rules) and the dataset rule subsets (docs/equations.md 2.6).

The rules are kept below in the appendix's own notation and parsed at import with `parse_infix`, so
the table stays readable and every rule is checked by the parser (and numerically by the tests).
Line format: `L  <->  R  if H1, H2` (transformation) or `C  if H1, H2` (assertion); `# group` lines
set the rule type. The four integer-literal (arith) rules need an int-typed variable for the literal
-a and are built in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hyperprover.envs.equations.infix import parse_infix
from hyperprover.envs.equations.node import Var, bin, un
from hyperprover.envs.equations.rules import Rule, make_rule

APPENDIX_A = """
# basic
A  <->  B  if A = B
1^2  <->  1
0^2  <->  0
1^-1  <->  1
sqrt(0)  <->  0
sqrt(1)  <->  1
A + B  <->  B + A
A * B  <->  B * A
A + B + C  <->  A + (B + C)
A * B * C  <->  A * (B * C)
(A + B) * C  <->  A * C + B * C
A + 0  <->  A
A * 0  <->  0
A * 1  <->  A
A - A  <->  0
A / A  <->  1  if A != 0
A - B  <->  A + (-B)
-(A * B)  <->  (-A) * B
(-A) * (-B)  <->  A * B
-(-A)  <->  A
(-1) * A  <->  -A
-(A + B)  <->  (-A) - B
-(A - B)  <->  (-A) + B
A^2  <->  A * A
(-A)^2  <->  A^2
(A * B)^2  <->  A^2 * B^2
(A^-1)^-1  <->  A  if A != 0
A^-1  <->  1 / A  if A != 0
(A / B)^-1  <->  B / A  if A != 0, B != 0
A / B  <->  A * B^-1  if B != 0
(A * B)^-1  <->  A^-1 * B^-1  if A != 0, B != 0
1 / (A * B)  <->  1 / A * (1 / B)  if A != 0, B != 0
(-A) / (-B)  <->  A / B  if A != 0, B != 0
(A^-1)^2  <->  (A^2)^-1  if A != 0
sqrt(|A|)^2  <->  |A|
sqrt(A^2)  <->  |A|
sqrt(A * B)  <->  sqrt(A) * sqrt(B)  if 0 <= A, 0 <= B
sqrt(A^-1)  <->  sqrt(A)^-1  if 0 < A
|-A|  <->  |A|
A = B  <->  B = A
0 < A  <->  0 <= A  if A != 0
A < 0  <->  A <= 0  if A != 0
A - B = C  <->  A = B + C
A / B = C  <->  A = B * C  if B != 0
A + C = B + C  <->  A = B
A * C = B * C  <->  A = B  if C != 0
A / C = B / C  <->  A = B  if C != 0
A * C <= B * C  <->  A <= B  if 0 < C
A * C < B * C  <->  A < B  if 0 < C
-B <= -A  <->  A <= B
-B < -A  <->  A < B
A != B  <->  B != A
A - B != C  <->  A != B + C
A / B != C  <->  A != B * C  if B != 0
A + C != B + C  <->  A != B
A * C != B * C  <->  A != B  if C != 0
A * B != 0  <->  A != 0  if B != 0
A / C != B / C  <->  A != B  if C != 0
A^-1 < B^-1  <->  B < A  if 0 < A, 0 < B
A^-1 < B^-1  <->  B < A  if A < 0, B < 0
A^-1 <= B^-1  <->  B <= A  if 0 < A, 0 < B
A^-1 <= B^-1  <->  B <= A  if A < 0, B < 0
A^2 = B^2  <->  A = B  if 0 <= A * B
A^2 != B^2  <->  A != B  if 0 <= A * B
A^2 < B^2  <->  A < B  if 0 <= A, 0 <= B
A^2 <= B^2  <->  A <= B  if 0 <= A, 0 <= B
A^2 < B^2  <->  B < A  if A <= 0, B <= 0
A^2 <= B^2  <->  B <= A  if A <= 0, B <= 0
|A + B| = |A| + |B|  <->  0 <= A * B
|A + B| != |A| + |B|  <->  A * B < 0
sqrt(A) < sqrt(B)  <->  A < B  if 0 <= A, 0 <= B
sqrt(A) <= sqrt(B)  <->  A <= B  if 0 <= A, 0 <= B
sqrt(A) = sqrt(B)  <->  A = B  if 0 <= A, 0 <= B
sqrt(A) != sqrt(B)  <->  A != B  if 0 <= A, 0 <= B
A = A
A != B  if A < B
A != B  if B < A
A <= A
A = B  if B = A
A != B  if B != A
A = B  if A <= B, B <= A
0 <= A  if 0 < A
A <= 0  if A < 0
0 < A  if 0 <= A, A != 0
A < 0  if A <= 0, A != 0
A - B = C  if A = B + C
A - B != C  if A != B + C
A / B = C  if A = B * C, B != 0
A / B != C  if A != B * C, B != 0
A - B <= C  if A <= B + C
A / B <= C  if A <= B * C, 0 < B
A - B < C  if A < B + C
A / B < C  if A < B * C, 0 < B
A <= B  if A < B
B <= A  if B < A
A <= B  if A = B
B <= A  if A = B
A < A + B  if 0 < B
B <= 0  if A + B <= A
A <= A + B  if 0 <= B
B < 0  if A + B < A
A < C  if A < B, B <= C
A < C  if A <= B, B < C
A <= C  if A <= B, B <= C
A + C = B + C  if A = B
A + C != B + C  if A != B
A * C = B * C  if A = B
A != B  if A * C != B * C
A != 0  if A * B != 0
A * B != 0  if A != 0, B != 0
A / C = B / C  if A = B, C != 0
A / C != B / C  if A != B, C != 0
A + C < B + D  if A <= B, C < D
A + C <= B + D  if A <= B, C <= D
A * C <= B * C  if 0 <= C, A <= B
A * B <= 0  if 0 <= A, B <= 0
0 <= A * B  if 0 <= A, 0 <= B
0 <= A * B  if A <= 0, B <= 0
C < 0  if B * C < A * C, A <= B
A * C < B * C  if 0 < C, A < B
A * B < 0  if 0 < A, B < 0
0 < A * B  if 0 < A, 0 < B
0 < A * B  if A < 0, B < 0
C <= 0  if B * C <= A * C, A < B
-B <= -A  if A <= B
-B < -A  if A < B
0 < A^-1  if 0 < A
A^-1 < 0  if A < 0
A^-1 != 0  if A != 0
B <= 0  if B^-1 <= A^-1, A != 0, B != 0, B < A
B < 0  if B^-1 < A^-1, A != 0, B != 0, B <= A
A^-1 < B^-1  if 0 < B, B < A
A^-1 < B^-1  if A < 0, B < A
A^-1 <= B^-1  if 0 < B, B <= A
A^-1 <= B^-1  if A < 0, B <= A
0 < A^2  if A != 0
0 <= A^2
A^2 = B^2  if A = B
A != B  if A^2 != B^2
A^2 < B^2  if 0 <= A, A < B
A^2 < B^2  if A <= 0, B < A
A^2 <= B^2  if 0 <= A, A <= B
A^2 <= B^2  if A <= 0, B <= A
A < 0  if B^2 <= A^2, A < B
A < 0  if B^2 < A^2, A <= B
0 < A  if B^2 <= A^2, B < A
0 < A  if B^2 < A^2, B <= A
0 < |A|  if A != 0
A = 0  if |A| <= 0
0 <= |A|
A <= |A|
|A| = A  if 0 <= A
A < 0  if |A| != A
|A + B| <= |A| + |B|
|A + B| = |A| + |B|  if 0 <= A * B
A * B < 0  if |A + B| != |A| + |B|
|A| <= B  if A <= B, -A <= B
|A| < B  if A < B, -A < B
0 < sqrt(A)  if 0 < A
0 <= sqrt(A)  if 0 <= A
sqrt(A) < sqrt(B)  if 0 <= A, A < B
sqrt(A) <= sqrt(B)  if 0 <= A, A <= B
sqrt(A) = sqrt(B)  if 0 <= A, A = B
A != B  if 0 <= A, 0 <= B, sqrt(A) != sqrt(B)
A < max(B, C)  if A < C, B < C
A <= max(B, C)  if A <= C, B <= C
A <= max(A, B)
B <= max(A, B)
A + B <= 2 * max(A, B)
max(A, B) <= max(|A|, |B|)
|max(A, B)| <= max(|A|, |B|)
# exp
exp(ln(A))  <->  A  if 0 < A
ln(exp(A))  <->  A
exp(0)  <->  1
ln(1)  <->  0
exp(A + B)  <->  exp(A) * exp(B)
ln(A * B)  <->  ln(A) + ln(B)  if 0 < A, 0 < B
exp(-A)  <->  exp(A)^-1
ln(A^-1)  <->  -ln(A)  if 0 < A
ln(sqrt(A))  <->  ln(A) / 2  if 0 < A
ln(A^2)  <->  2 * ln(|A|)  if A != 0
exp(A) = exp(B)  <->  A = B
exp(A) != exp(B)  <->  A != B
exp(A) <= exp(B)  <->  A <= B
exp(A) < exp(B)  <->  A < B
ln(A) = ln(B)  <->  A = B  if 0 < A, 0 < B
ln(A) != ln(B)  <->  A != B  if 0 < A, 0 < B
ln(A) <= ln(B)  <->  A <= B  if 0 < A, 0 < B
ln(A) < ln(B)  <->  A < B  if 0 < A, 0 < B
0 < exp(A)
0 <= exp(A)
exp(A) != 0
exp(A) < exp(B)  if A < B
exp(A) <= exp(B)  if A <= B
exp(A) = exp(B)  if A = B
exp(A) != exp(B)  if A != B
ln(A) < ln(B)  if 0 < A, A < B
ln(A) <= ln(B)  if 0 < A, A <= B
ln(A) = ln(B)  if 0 < A, A = B
ln(A) != ln(B)  if 0 < A, 0 < B, A != B
# trigo
sin(0)  <->  0
cos(0)  <->  1
sin(PI / 2)  <->  1
cos(PI / 2)  <->  0
sin(-A)  <->  -sin(A)
cos(-A)  <->  cos(A)
tan(A)  <->  sin(A) / cos(A)  if cos(A) != 0
sin(A + B)  <->  sin(B) * cos(A) + sin(A) * cos(B)
cos(A + B)  <->  cos(A) * cos(B) - sin(A) * sin(B)
sin(asin(A))  <->  A  if |A| <= 1
cos(acos(A))  <->  A  if |A| <= 1
tan(atan(A))  <->  A
asin(sin(A))  <->  A  if |A| <= PI / 2
acos(cos(A))  <->  A  if 0 <= A, A <= PI
atan(tan(A))  <->  A  if |A| < PI / 2
|cos(A)| <= 1
|sin(A)| <= 1
|sin(A)| <= |A|
sin(A) = sin(B)  if A = B
A != B  if sin(A) != sin(B)
cos(A) = cos(B)  if A = B
A != B  if cos(A) != cos(B)
tan(A) = tan(B)  if A = B, cos(A) != 0
A != B  if tan(A) != tan(B), cos(A) != 0, cos(B) != 0
# hyper
sinh(A)  <->  (exp(A) - exp(-A)) / 2
cosh(A)  <->  (exp(A) + exp(-A)) / 2
tanh(A)  <->  sinh(A) / cosh(A)
sinh(asinh(A))  <->  A
cosh(acosh(A))  <->  A  if 1 <= A
tanh(atanh(A))  <->  A  if |A| < 1
asinh(sinh(A))  <->  A
acosh(cosh(A))  <->  A  if 0 <= A
atanh(tanh(A))  <->  A
cosh(A) = cosh(B)  <->  A = B  if 0 <= A * B
cosh(A) != cosh(B)  <->  A != B  if 0 <= A * B
sinh(A) != sinh(B)  <->  A != B
tanh(A) = tanh(B)  <->  A = B
tanh(A) != tanh(B)  <->  A != B
"""


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (`max(B, C)` keeps its comma)."""
    parts: list[str] = []
    cur: list[str] = []
    level = 0
    for ch in text:
        if ch == "(":
            level += 1
        elif ch == ")":
            level -= 1
        if ch == "," and level == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _parse_line(line: str, rule_type: str) -> Rule:
    body, _, cond = line.partition("  if ")
    hyps = tuple(parse_infix(h) for h in _split_top(cond)) if cond else ()
    if "<->" in body:
        left, right = (parse_infix(s) for s in body.split("<->"))
        return make_rule("T", left, right, hyps, rule_type)
    return make_rule("A", parse_infix(body), None, hyps, rule_type)


def _arith_rules() -> list[Rule]:
    a, b, c, d = (Var(v) for v in "abcd")
    return [
        make_rule("T", bin("add", a, b), c, (), "arith", arith="add"),
        make_rule("T", bin("mul", a, b), c, (), "arith", arith="mul"),
        make_rule("T", bin("div", a, b), bin("div", c, d), (), "arith", arith="frac"),
        make_rule("T", un("neg", a), Var("-a"), (), "arith", arith="neg"),
    ]


@cache
def default_rules() -> tuple[Rule, ...]:
    """All 242 rules: 77 T_E, 48 T_C and 117 A, in appendix order (arith last)."""
    rules: list[Rule] = []
    rule_type = ""
    for line in APPENDIX_A.strip().splitlines():
        if line.startswith("# "):
            rule_type = line[2:].strip()
        elif line.strip():
            rules.append(_parse_line(line.strip(), rule_type))
    rules.extend(_arith_rules())
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise AssertionError("duplicate rule names in the library")
    return tuple(rules)


@dataclass(frozen=True)
class Dataset:
    name: str
    unary: frozenset[str]
    binary: frozenset[str]
    rule_types: frozenset[str]


_REAL_BINARY = frozenset(("add", "sub", "mul", "div"))
_EXP_TRIGO = frozenset("neg inv exp ln pow2 sqrt abs cos sin tan".split())
_HYPER = frozenset(("cosh", "sinh", "tanh"))
_ALL_UNARY = frozenset(("neg inv exp ln pow2 sqrt abs cos sin tan atan acos asin cosh sinh tanh atanh acosh "
                        "asinh").split())
_TYPES = frozenset(("basic", "exp", "trigo", "hyper"))
DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("eq_dataset_basic", frozenset(("neg", "inv")), _REAL_BINARY, frozenset(("basic",))),
    Dataset("eq_dataset_exp_trigo", _EXP_TRIGO, _REAL_BINARY, frozenset(("basic", "exp", "trigo"))),
    Dataset("eq_dataset_exp_trigo_hyper", _EXP_TRIGO | _HYPER, _REAL_BINARY, _TYPES),
    Dataset("eq_dataset_exp_trigo_hyper_50_nobi", _EXP_TRIGO | _HYPER, _REAL_BINARY, _TYPES),
    Dataset("eq_dataset_all", _ALL_UNARY, _REAL_BINARY, _TYPES),
)}
DEFAULT_DATASET = "eq_dataset_exp_trigo_hyper"


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"unknown equations dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


@cache
def rules_for_dataset(name: str = DEFAULT_DATASET) -> tuple[Rule, ...]:
    """Rules of the dataset's types whose side / conclusion operators are all enabled (hypotheses are not
    checked, as in the original filter)."""
    ds = dataset(name)
    allowed = ds.unary | ds.binary
    return tuple(r for r in default_rules() if r.rule_type in ds.rule_types and r.ops <= allowed)


@cache
def _by_name() -> dict[str, Rule]:
    return {r.name: r for r in default_rules()}


def rule_by_name(name: str) -> Rule:
    """Any rule of the default library by its name token (raises KeyError naming it)."""
    try:
        return _by_name()[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}") from None


def parse_rule(text: str, rule_type: str = "basic") -> Rule:
    """A rule written in the appendix notation (for tests and hand-made rule sets)."""
    return _parse_line(text.strip(), rule_type)


def find_rule(text: str) -> Rule:
    """The library rule written as `text` in the appendix notation (e.g. `A * B  <->  B * A`)."""
    return rule_by_name(parse_rule(text).name)


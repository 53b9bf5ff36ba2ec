"""The identities benchmark (docs/equations.md section 5): 160 textbook identities, 20 more behind a flag.

The appendix text is kept verbatim below and parsed at load time with `expr.parse_infix`, so what is
proved is exactly what a person reads here. `x` and `y` are the goal variables x0 and x1. A line
starting with `X` is an identity the default dataset drops because it uses an inverse function
(asin, acos, asinh, acosh, atanh); a line starting with spaces continues the one above.

Labels are `identities:<i>` and never change: the 160 kept identities are numbered 0..159 in
appendix order, the dropped ones 160..179, so asking for the dropped ones does not renumber the rest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hyperprover.envs.base import Theorem
from hyperprover.envs.equations.env import EqGoal
from hyperprover.envs.equations.expr import ExprParseError, parse_infix

SPLIT = "identities"

_APPENDIX_B = """\
[EXP]
(ln(x) - ln(x / y)) / ln(y) = 1   given 0 < x, 0 < y, y != 1
((-ln(x)) + ln(x / y)) / ln(y) = -1   given 0 < x, 0 < y, y != 1
(-((-ln(x)) + ln(x / y))) / ln(y) = 1   given 0 < x, 0 < y, y != 1
(-ln(x)) + ln(x * y) = ln(y)   given 0 < x, 0 < y
(-ln(x)) + ln(y * x) = ln(y)   given 0 < x, 0 < y
(-ln(x)) + ln(x / y) = -ln(y)   given 0 < x, 0 < y
(-ln(x)) + ln(y) + ln(x / y) = 0   given 0 < x, 0 < y
(-ln(x)) - ln(y) + ln(x * y) = 0   given 0 < x, 0 < y
ln(x) + ln(y) = ln(x * y)   given 0 < x, 0 < y
ln(x) + ln(y / x) = ln(y)   given 0 < x, 0 < y
ln(x) - ln(x / y) = ln(y)   given 0 < x, 0 < y
ln(x) - ln(y) = ln(x / y)   given 0 < x, 0 < y
(-ln(x / y)) + ln(x / y) = 0   given 0 < x, 0 < y
2 * ln(sqrt(x)) = ln(x)   given 0 < x
ln(sqrt(x)) = ln(x) / 2   given 0 < x
2 * ln(sqrt(x)) / ln(x) = 1   given 0 < x, ln(x) != 0
ln(sqrt(x)) / ln(x) = 1 / 2   given 0 < x, ln(x) != 0
ln(exp(x)) = x   given 0 < x
exp(-x) * exp(-y) * exp(x + y) = 1
exp(-x) * exp(x + y) = exp(y)
exp(-x) * exp(y + x) = exp(y)
exp(-x) * exp(x - y) = exp(-y)
exp(-x) * exp(y) * exp(x - y) = 1
exp(x) * exp(y) = exp(x + y)
exp(x) * exp(-y) = exp(x - y)
exp(x) * exp(y - x) = exp(y)
exp(x) / exp(y) = exp(x - y)
sqrt(exp(x)) = exp(x / 2)
[TRIGO]
cos(2 * PI + x) = cos(x)
sin(2 * PI + x) = sin(x)
cos(PI + x) = -cos(x)
sin(PI + x) = -sin(x)
sin(PI - x) = sin(x)
cos(PI - x) = -cos(x)
sin(PI / 2 - x) = cos(x)
cos(PI / 2 - x) = sin(x)
sin(PI / 2 + x) = cos(x)
cos(PI / 2 + x) = -sin(x)
cos(PI / 4) = sin(PI / 4)
cos(PI / 3) = sin(PI / 6)
cos(PI / 6) = sin(PI / 3)
cos(PI / 4) = sqrt(2) / 2   given 0 < cos(PI / 4)
cos(x)^2 + sin(x)^2 = 1
cos(x + y) = cos(x) * cos(y) - sin(x) * sin(y)
sin(x + y) = sin(x) * cos(y) + sin(y) * cos(x)
sin(x + y) - sin(x - y) = 2 * sin(y) * cos(x)
sin(x - y) + sin(x + y) = 2 * sin(x) * cos(y)
cos(x - y) + cos(x + y) = 2 * cos(x) * cos(y)
cos(x - y) - cos(x + y) = 2 * sin(x) * sin(y)
2 * cos((x + y) / 2) * cos((x - y) / 2) = cos(x) + cos(y)
2 * sin((x + y) / 2) * sin((x - y) / 2) = cos(y) - cos(x)
2 * sin((x + y) / 2) * cos((x - y) / 2) = sin(x) + sin(y)
2 * cos((x + y) / 2) * sin((x - y) / 2) = sin(x) - sin(y)
cos(x) * tan(x) = sin(x)   given cos(x) != 0
sin(-x) = -sin(x)
cos(-x) = cos(x)
tan(-x) = -tan(x)   given cos(x) != 0
sin(x - y) = sin(x) * cos(y) - cos(x) * sin(y)
cos(x - y) = cos(x) * cos(y) + sin(x) * sin(y)
tan(x + y) * (1 - tan(x) * tan(y)) = tan(x) + tan(y)
    given cos(x) != 0, cos(y) != 0, cos(x + y) != 0
tan(x - y) * (1 + tan(x) * tan(y)) = tan(x) - tan(y)
    given cos(x) != 0, cos(y) != 0, cos(x - y) != 0
sin(2 * x) = 2 * sin(x) * cos(x)
cos(2 * x) = cos(x)^2 - sin(x)^2
cos(2 * x) = 2 * cos(x)^2 - 1
cos(2 * x) = 1 - 2 * sin(x)^2
tan(2 * x) * (1 - tan(x)^2) = 2 * tan(x)   given cos(x) != 0, cos(2 * x) != 0
sin(3 * x) = 3 * sin(x) - 4 * (sin(x)^2 * sin(x))
cos(3 * x) = 4 * (cos(x)^2 * cos(x)) - 3 * cos(x)
tan(3 * x) * (1 - 3 * tan(x)^2) = 3 * tan(x) - tan(x)^2 * tan(x)
    given cos(x) != 0, cos(3 * x) != 0
sin(4 * x) = cos(x) * (4 * sin(x) - 8 * sin(x) * sin(x)^2)
cos(4 * x) = 8 * (cos(x)^2)^2 - 8 * cos(x)^2 + 1
tan(4 * x) * (1 - 6 * tan(x)^2 + (tan(x)^2)^2) = 4 * tan(x) - 4 * (tan(x)^2 * tan(x))
    given cos(x) != 0, cos(4 * x) != 0
tan(x / 2) = sin(x) / (1 + cos(x))   given cos(x / 2) != 0
tan(x / 2) = (1 - cos(x)) / sin(x)   given cos(x / 2) != 0, sin(x) != 0
X asin(x) = acos(sqrt(1 - x^2))   given 0 <= x, x <= 1
X sin(acos(x)) = sqrt(1 - x^2)   given 0 <= x, x <= 1
X cos(asin(x)) = sqrt(1 - x^2)   given 0 <= x, x <= 1
1 - tan(x)^2 = cos(2 * x) / cos(x)^2   given cos(x) != 0
1 - 3 * tan(x)^2 = cos(3 * x) / (cos(x)^2 * cos(x))   given cos(x) != 0
2 / tan(x) = sin(2 * x) / sin(x)^2   given sin(x) != 0, cos(x) != 0
sin(x)^2 = (1 - cos(2 * x)) / 2
cos(x)^2 = (1 + cos(2 * x)) / 2
tan(x)^2 = (1 - cos(2 * x)) / (1 + cos(2 * x))   given cos(x) != 0
sin(x)^2 * sin(x) = (3 * sin(x) - sin(3 * x)) / 4
cos(x)^2 * cos(x) = (3 * cos(x) + cos(3 * x)) / 4
tan(x)^2 * tan(x) = (3 * sin(x) - sin(3 * x)) / (3 * cos(x) + cos(3 * x))   given cos(x) != 0
(sin(x)^2)^2 = (3 - 4 * cos(2 * x) + cos(4 * x)) / 8
(cos(x)^2)^2 = (3 + 4 * cos(2 * x) + cos(4 * x)) / 8
(tan(x)^2)^2 * (3 + 4 * cos(2 * x) + cos(4 * x)) = 3 - 4 * cos(2 * x) + cos(4 * x)
    given cos(x) != 0
sqrt(1 - cos(x)^2) = |sin(x)|
sqrt(1 - sin(x)^2) = |cos(x)|
sin(x + y) * sin(x - y) = sin(x)^2 - sin(y)^2
sin(x + y) * sin(y - x) = cos(x)^2 - cos(y)^2
cos(x + y) * cos(x - y) = cos(x)^2 - sin(y)^2
sqrt((1 - cos(x)) / 2) = |sin(x / 2)|
sqrt((1 + cos(x)) / 2) = |cos(x / 2)|
sin(x) = 2 * sin(x / 2) * cos(x / 2)
cos(x) = cos(x / 2)^2 - sin(x / 2)^2
tan(x) = 2 * tan(x / 2) / (1 - tan(x / 2)^2)   given cos(x) != 0, cos(x / 2) != 0
tan(x) + tan(y) = sin(x + y) / (cos(x) * cos(y))   given cos(x) != 0, cos(y) != 0
tan(x) - tan(y) = sin(x - y) / (cos(x) * cos(y))   given cos(x) != 0, cos(y) != 0
[HYPER]
sinh(x) = (exp(x) - exp(-x)) / 2
cosh(x) = (exp(x) + exp(-x)) / 2
tanh(x) = sinh(x) / cosh(x)
cosh(x) * tanh(x) = sinh(x)
X x = sinh(asinh(x))
X x = cosh(acosh(x))   given 1 <= x
X x = tanh(atanh(x))   given |x| < 1
sinh(-x) = -sinh(x)
cosh(-x) = cosh(x)
tanh(-x) = -tanh(x)
cosh(x)^2 - sinh(x)^2 = 1
sinh(x) = (1 - exp((-2) * x)) / (2 * exp(-x))
cosh(x) = (1 + exp((-2) * x)) / (2 * exp(-x))
sinh(x) = (exp(2 * x) - 1) / (2 * exp(x))
cosh(x) = (exp(2 * x) + 1) / (2 * exp(x))
tanh(x) = (exp(2 * x) - 1) / (exp(2 * x) + 1)
tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))
cosh(x) + sinh(x) = exp(x)
cosh(x) - sinh(x) = exp(-x)
sinh(x + y) - sinh(x - y) = 2 * sinh(y) * cosh(x)
sinh(x - y) + sinh(x + y) = 2 * sinh(x) * cosh(y)
cosh(x + y) - cosh(x - y) = 2 * sinh(x) * sinh(y)
cosh(x - y) + cosh(x + y) = 2 * cosh(x) * cosh(y)
cosh(x) + cosh(y) = 2 * cosh((x + y) / 2) * cosh((x - y) / 2)
cosh(x) - cosh(y) = 2 * sinh((x + y) / 2) * sinh((x - y) / 2)
sinh(x) + sinh(y) = 2 * sinh((x + y) / 2) * cosh((x - y) / 2)
sinh(x) - sinh(y) = 2 * cosh((x + y) / 2) * sinh((x - y) / 2)
sinh(x + y) = sinh(x) * cosh(y) + cosh(x) * sinh(y)
cosh(x + y) = cosh(x) * cosh(y) + sinh(x) * sinh(y)
sinh(x - y) = sinh(x) * cosh(y) - cosh(x) * sinh(y)
cosh(x - y) = cosh(x) * cosh(y) - sinh(x) * sinh(y)
tanh(x + y) = (tanh(x) + tanh(y)) / (1 + tanh(x) * tanh(y))
tanh(x - y) = (tanh(x) - tanh(y)) / (1 - tanh(x) * tanh(y))
sinh(2 * x) = 2 * sinh(x) * cosh(x)
cosh(2 * x) = cosh(x)^2 + sinh(x)^2
cosh(2 * x) = 2 * cosh(x)^2 - 1
cosh(2 * x) = 1 + 2 * sinh(x)^2
tanh(2 * x) = 2 * tanh(x) / (1 + tanh(x)^2)
sinh(3 * x) = 3 * sinh(x) + 4 * (sinh(x)^2 * sinh(x))
cosh(3 * x) = 4 * (cosh(x)^2 * cosh(x)) - 3 * cosh(x)
tanh(3 * x) = (tanh(x)^2 * tanh(x) + 3 * tanh(x)) / (1 + 3 * tanh(x)^2)
sinh(x / 2) = sinh(x) / sqrt(2 * (1 + cosh(x)))
cosh(x / 2) = sqrt((1 + cosh(x)) / 2)
cosh(x / 2) = sqrt((cosh(x) + 1) / 2)
tanh(x / 2) = sinh(x) / (1 + cosh(x))
tanh(x / 2) = (cosh(x) - 1) / sinh(x)   given x != 0
2 * x * cosh(ln(x)) = x^2 + 1   given 0 < x
2 * x * sinh(ln(x)) = x^2 - 1   given 0 < x
|sinh(x / 2)| = sqrt((cosh(x) - 1) / 2)
cosh(x) = cosh(x / 2)^2 + sinh(x / 2)^2
sinh(x) = 2 * sinh(x / 2) * cosh(x / 2)
tanh(x) = 2 * tanh(x / 2) / (1 + tanh(x / 2)^2)
sinh(x)^2 = (cosh(2 * x) - 1) / 2
cosh(x)^2 = (1 + cosh(2 * x)) / 2
tanh(x)^2 = (cosh(2 * x) - 1) / (1 + cosh(2 * x))
sinh(x)^2 * sinh(x) = (sinh(3 * x) - 3 * sinh(x)) / 4
cosh(x)^2 * cosh(x) = (3 * cosh(x) + cosh(3 * x)) / 4
tanh(x)^2 * tanh(x) = (sinh(3 * x) - 3 * sinh(x)) / (3 * cosh(x) + cosh(3 * x))
cosh(x) - sinh(x) = (sinh(x) + cosh(x))^-1
tanh(x) + tanh(y) = sinh(x + y) / (cosh(x) * cosh(y))
tanh(x) - tanh(y) = sinh(x - y) / (cosh(x) * cosh(y))
sinh(x + y) * sinh(x - y) = sinh(x)^2 - sinh(y)^2
cosh(x + y) * cosh(y - x) = sinh(x)^2 + cosh(y)^2
sqrt(cosh(x)^2 - 1) = |sinh(x)|
sqrt(1 + sinh(x)^2) = cosh(x)
X asinh(x) = ln(x + sqrt(x^2 + 1))
X acosh(x) = ln(x + sqrt(x^2 - 1))   given 1 <= x
X asinh(x) = acosh(sqrt(x^2 + 1))   given 0 <= x
X asinh(x) = atanh(x / sqrt(x^2 + 1))
X acosh(x) = asinh(sqrt(x^2 - 1))   given 1 <= x
X acosh(x) = atanh(sqrt(x^2 - 1) / x)   given 1 <= x
X atanh(x) = asinh(x / sqrt(1 - x^2))   given |x| < 1
X atanh(x) = acosh(sqrt(1 - x^2)^-1)   given 0 <= x, x < 1
X asinh(x) + asinh(y) = asinh(x * sqrt(1 + y^2) + y * sqrt(1 + x^2))
X asinh(x) - asinh(y) = asinh(x * sqrt(1 + y^2) - y * sqrt(1 + x^2))
X acosh(x) + acosh(y) = acosh(x * y + sqrt((x^2 - 1) * (y^2 - 1)))   given 1 <= x, 1 <= y
X acosh(x) - acosh(y) = acosh(x * y - sqrt((x^2 - 1) * (y^2 - 1)))   given 1 <= y, y <= x
X atanh(x) + atanh(y) = atanh((x + y) / (1 + x * y))   given |y| < 1, |x| < 1
X atanh(x) - atanh(y) = atanh((x - y) / (1 - x * y))   given |y| < 1, |x| < 1
"""


@dataclass(frozen=True)
class IdentityText:
    """One identity as written in appendix B."""

    family: str  # EXP, TRIGO or HYPER
    conclusion: str
    hyps: tuple[str, ...]
    dropped: bool

    @property
    def text(self) -> str:
        return self.conclusion + (f"  given {', '.join(self.hyps)}" if self.hyps else "")


class IdentityError(ValueError):
    """An identity line of the table could not be read (a bug in the table or in the parser)."""


def identity_texts() -> list[IdentityText]:
    """All 180 identities of appendix B in their written order."""
    joined: list[str] = []
    for line in _APPENDIX_B.splitlines():
        if line.startswith(" ") and joined:
            joined[-1] += " " + line.strip()
        elif line.strip():
            joined.append(line.strip())
    out: list[IdentityText] = []
    family = ""
    for line in joined:
        if line.startswith("["):
            family = line.strip("[]")
            continue
        dropped = line.startswith("X ")
        body = line[2:] if dropped else line
        concl, _, given = body.partition(" given ")
        hyps = tuple(h.strip() for h in given.split(",")) if given else ()
        out.append(IdentityText(family, concl.strip(), hyps, dropped))
    return out


def _label_name(concl: str) -> str:
    """The original's label (`identities_<infix>`), kept in meta so results can be compared."""
    return "identities_" + concl.replace(" ", "_").replace("/", "|")


@functools.cache
def _all_theorems() -> tuple[Theorem, ...]:
    texts = identity_texts()
    kept = [t for t in texts if not t.dropped]
    dropped = [t for t in texts if t.dropped]
    theorems = []
    for i, t in enumerate(kept + dropped):
        try:
            goal = EqGoal(parse_infix(t.conclusion), tuple(parse_infix(h) for h in t.hyps))
        except ExprParseError as e:
            raise IdentityError(f"identity {t.text!r}: {e}") from e
        meta = {"family": t.family, "text": t.text, "dropped": t.dropped, "name": _label_name(t.conclusion)}
        theorems.append(Theorem(f"{SPLIT}:{i}", goal, SPLIT, meta))
    return tuple(theorems)


def load_identities(include_dropped: bool = False) -> list[Theorem]:
    """The identities split: 160 theorems (180 with `include_dropped`), labels `identities:<i>`."""
    return [t for t in _all_theorems() if include_dropped or not t.meta["dropped"]]

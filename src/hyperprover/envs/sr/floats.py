"""The float token format of the SymbolicRegression goals (docs/equations.md 7).

A finite float is three tokens: its sign (`+`/`-`), a four-digit mantissa `N####` and an exponent `E<k>`,
value = sign * mantissa * 10**k, so 3.14159 is `+ N3142 E-3`. The model therefore sees four significant
digits and a bounded vocabulary (10,000 mantissas, 201 exponents). Exponents are kept in [-100, 100]:
larger magnitudes become `<INF>` / `<-INF>`, smaller ones round to a signed zero `± N0000 E0`, and NaN
is `<NAN>`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_EXP = -100
MAX_EXP = 100
INF_TOKEN = "<INF>"
NEG_INF_TOKEN = "<-INF>"
NAN_TOKEN = "<NAN>"
SPECIAL_FLOAT_TOKENS = (INF_TOKEN, NEG_INF_TOKEN, NAN_TOKEN)


class FloatTokenError(ValueError):
    """Tokens that do not spell a float; the message gives the token index."""


def encode_float(x: float) -> list[str]:
    """The tokens of `x` (one token for nan/inf, three otherwise)."""
    if math.isnan(x):
        return [NAN_TOKEN]
    if math.isinf(x):
        return [INF_TOKEN if x > 0 else NEG_INF_TOKEN]
    sign = "-" if math.copysign(1.0, x) < 0 else "+"
    if x == 0:
        return [sign, "N0000", "E0"]
    # `.3e` rounds to 4 significant digits and carries 9999.5 -> 1.000e+04 correctly
    digits, exp = f"{abs(x):.3e}".split("e")
    k = int(exp) - 3
    if k > MAX_EXP:
        return [INF_TOKEN if sign == "+" else NEG_INF_TOKEN]
    if k < MIN_EXP:
        return [sign, "N0000", "E0"]
    return [sign, "N" + digits.replace(".", ""), f"E{k}"]


def decode_float(tokens: Sequence[str], start: int = 0) -> tuple[float, int]:
    """Read one float at `tokens[start]`; returns it and the index after it."""
    if start >= len(tokens):
        raise FloatTokenError(f"missing float at token {start}")
    tok = tokens[start]
    if tok == NAN_TOKEN:
        return math.nan, start + 1
    if tok == INF_TOKEN:
        return math.inf, start + 1
    if tok == NEG_INF_TOKEN:
        return -math.inf, start + 1
    if tok not in ("+", "-"):
        raise FloatTokenError(f"token {start} {tok!r} does not start a float (expected + - <INF> <-INF> <NAN>)")
    if start + 2 >= len(tokens):
        raise FloatTokenError(f"float at token {start} is cut short (expected sign, N####, E<k>)")
    mant, ex = tokens[start + 1], tokens[start + 2]
    if len(mant) != 5 or mant[0] != "N" or not mant[1:].isdigit():
        raise FloatTokenError(f"token {start + 1} {mant!r} is not a mantissa N####")
    if not ex.startswith("E"):
        raise FloatTokenError(f"token {start + 2} {ex!r} is not an exponent E<k>")
    try:
        k = int(ex[1:])
    except ValueError:
        raise FloatTokenError(f"token {start + 2} {ex!r} is not an exponent E<k>") from None
    if not MIN_EXP <= k <= MAX_EXP:
        raise FloatTokenError(f"token {start + 2} {ex!r}: exponent outside [{MIN_EXP}, {MAX_EXP}]")
    value = float(f"{mant[1:]}e{k}")
    return (-value if tok == "-" else value), start + 3


def round_float(x: float) -> float:
    """`x` as the model sees it (encode then decode)."""
    return decode_float(encode_float(x))[0]


def float_vocab() -> list[str]:
    """Every token `encode_float` can produce (the signs `+`/`-` are shared with integer literals)."""
    return (["+", "-"] + [f"N{m:04d}" for m in range(10000)] + [f"E{k}" for k in range(MIN_EXP, MAX_EXP + 1)]
            + list(SPECIAL_FLOAT_TOKENS))

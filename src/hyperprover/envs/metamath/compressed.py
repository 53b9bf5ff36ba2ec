"""Metamath compressed proofs: the letter code of the Metamath book (appendix B).

A number n >= 1 is written in bijective base 20 for its last digit (A..T) and bijective base 5 for
the digits before it (U..Y); `Z` marks the step just done for reuse, `?` is an unknown step.
Numbers 1..m are the theorem's mandatory hypotheses, m+1..m+k the labels in parentheses, and the
following ones the steps marked with `Z`, in order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CODE_RE = re.compile(r"[U-Y]*[A-T]|Z|\?")
SAVE = -1  # the `Z` mark, in decoded form
UNKNOWN = 0  # the `?` step, in decoded form (real numbers start at 1)


def encode_number(n: int) -> str:
    if n < 1:
        raise ValueError(f"compressed proof numbers start at 1, got {n}")
    n -= 1
    out = [chr(ord("A") + n % 20)]
    n //= 20
    while n:
        n -= 1
        out.append(chr(ord("U") + n % 5))
        n //= 5
    return "".join(reversed(out))


def decode_number(code: str) -> int:
    n = 0
    for ch in code[:-1]:
        n = n * 5 + (ord(ch) - ord("U") + 1)
    return n * 20 + (ord(code[-1]) - ord("A") + 1)


def split_codes(letters: str) -> list[str]:
    """The letter string cut into one code per step (`Z` and `?` are codes of their own)."""
    codes: list[str] = CODE_RE.findall(letters)
    if sum(map(len, codes)) != len(letters):
        raise ValueError("compressed proof ends in the middle of a number (a U..Y letter with no A..T after it)")
    return codes


def decode(letters: str) -> list[int]:
    """Numbers of the steps, with SAVE for `Z` and UNKNOWN for `?`."""
    out = []
    for c in split_codes(letters):
        out.append(SAVE if c == "Z" else UNKNOWN if c == "?" else decode_number(c))
    return out


def encode(numbers: Sequence[int], width: int = 79) -> str:
    """Letter code of a decoded step list, in lines of at most `width` characters."""
    text = "".join("Z" if n == SAVE else "?" if n == UNKNOWN else encode_number(n) for n in numbers)
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))

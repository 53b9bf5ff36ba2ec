"""Split Coq source text into sentences, the unit coqtop runs.

A sentence ends with a period (or `...`) followed by whitespace or the end of the text (not `..` as in
the notation `x .. y`, not the period of a qualified name such as `Nat.add`). At the start of a sentence,
a bullet (`-`, `+`, `*`, or a run of one of them), the braces `{` and `}` and a focusing selector (`2:{`,
`[x]:{`) are sentences of their own. Comments (nested, as in Coq) are dropped; strings (with `""` for a
quote) are kept whole, so a period or a comment opener inside one does not count. Whitespace inside a
sentence is collapsed to single spaces.
"""

from __future__ import annotations

import re

FOCUS = re.compile(r"(?:\d+|\[[^\]\s]+\])\s*:\s*\{")


def sentences(text: str) -> list[str]:
    return [s for s, _ in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[str, tuple[int, int]]]:
    """Each sentence with the span of `text` it was read from (its first character to its period, comments
    inside it included): where `prove --file` writes a proof back into a user's file."""
    out: list[tuple[str, tuple[int, int]]] = []
    buf: list[str] = []
    i, n = 0, len(text)
    first = [-1]  # where the current sentence's first character is

    def emit() -> None:
        s = " ".join("".join(buf).split())
        if s:
            out.append((s, (first[0], i)))
        buf.clear()
        first[0] = -1

    def started() -> bool:
        return any(not b.isspace() for b in buf)

    while i < n:
        c = text[i]
        if first[0] < 0 and not c.isspace() and not text.startswith("(*", i):
            first[0] = i
        if text.startswith("(*", i):
            i = _skip_comment(text, i)
            buf.append(" ")
            continue
        if c == '"':
            j = _skip_string(text, i)
            buf.append(text[i:j])
            i = j
            continue
        at_start = not c.isspace() and not started()
        if at_start and c in "-+*":
            j = i
            while j < n and text[j] == c:
                j += 1
            buf.append(text[i:j])
            i = j
            emit()
            continue
        focus = FOCUS.match(text, i) if at_start else None
        if focus is not None:  # `2:{` focuses a goal: a sentence of its own, like `{`
            buf.append(focus.group())
            i = focus.end()
            emit()
            continue
        if at_start and c in "{}":
            buf.append(c)
            i += 1
            emit()
            continue
        buf.append(c)
        i += 1
        if c == "." and (i == n or text[i].isspace()) and _dots_before(text, i) != 2:
            emit()  # `.` and `...` (run the `Proof with` tactic) end a sentence; `x .. y` is a notation
    emit()
    return out


def _dots_before(text: str, end: int) -> int:
    k = end
    while k > 0 and text[k - 1] == ".":
        k -= 1
    return end - k


def _skip_comment(text: str, i: int) -> int:
    depth = 0
    n = len(text)
    while i < n:
        if text.startswith("(*", i):
            depth += 1
            i += 2
        elif text.startswith("*)", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif text[i] == '"':
            i = _skip_string(text, i)  # Coq's lexer reads strings inside comments too
        else:
            i += 1
    return n


def _skip_string(text: str, i: int) -> int:
    j = i + 1
    n = len(text)
    while j < n:
        if text[j] == '"':
            if j + 1 < n and text[j + 1] == '"':
                j += 2
                continue
            return j + 1
        j += 1
    return n


__all__ = ["sentence_spans", "sentences"]

"""Coq goals as text: what coqtop prints, parsed into hypotheses and a conclusion, and restated.

A goal stands alone: its hypotheses and conclusion as Coq prints them (one line each: the env sets
`Printing Width` very wide), under a named *context* (the Require/Import sentences it lives in), in two
printings: as shown (for the model) and with `Printing Implicit` (exact: what restates it). To work on a
goal, the env restates it as `Goal forall (x : T) ..., let k := (b : T) in ..., C.` followed by
`intros x ... k ...`, which gives back the same hypotheses under the same names; the env checks that Coq
prints the restated goal exactly as the original, so a goal whose printing does not parse back is refused
instead of silently changed. Goals with existential variables (`?x`) are not closed under their context
and are refused too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEPARATOR = "============================"
HEADER = re.compile(r"^(?:(?P<n>\d+) (?:focused )?goals?(?: \(shelved: (?P<shelved>\d+)\))?|goal \d+) \(ID \d+\)"
                    r"(?: is:)?$")
HYP = re.compile(r"^(?P<names>[^\s:,]+(?:, [^\s:,]+)*) (?P<sep>:=|:) (?P<rest>.*)$")
EVAR = re.compile(r"\?[A-Za-z_]")
TOKEN = re.compile(r"[^\W\d][\w'.]*|\d+|[^\w\s]+")


class GoalDisplayError(ValueError):
    """coqtop printed something that is not a goal display."""


@dataclass(frozen=True)
class Hyp:
    names: tuple[str, ...]
    text: str  # the type, or for a local definition `body : type`
    is_definition: bool = False

    def line(self) -> str:
        return f"{', '.join(self.names)} {':=' if self.is_definition else ':'} {self.text}"


@dataclass(frozen=True)
class Sequent:
    hyps: tuple[Hyp, ...]
    conclusion: str

    def text(self) -> str:
        return "\n".join(h.line() for h in self.hyps) + ("\n" if self.hyps else "") + f"|- {self.conclusion}"

    @property
    def has_evars(self) -> bool:
        return bool(EVAR.search(self.conclusion) or any(EVAR.search(h.text) for h in self.hyps))

    def to_json(self) -> dict[str, Any]:
        return {"hyps": [[list(h.names), h.text, h.is_definition] for h in self.hyps], "concl": self.conclusion}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Sequent:
        return cls(tuple(Hyp(tuple(n), str(t), bool(b)) for n, t, b in d["hyps"]), str(d["concl"]))

    def tokens(self) -> list[str]:
        """What the model reads: `<HYP> names : type` per hypothesis, then `|- conclusion`."""
        out: list[str] = []
        for h in self.hyps:
            out += ["<HYP>", *h.names, ":=" if h.is_definition else ":", *TOKEN.findall(h.text)]
        return [*out, "|-", *TOKEN.findall(self.conclusion)]

    def restated(self, in_scope: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
        """The `Goal ...` sentence and the names that `intros` must give back. Hypotheses named in `in_scope`
        (the section variables of the goal's context) are not bound again: they are the section's own, which
        its definitions take, and Coq shows them in the goal anyway."""
        binders: list[str] = []
        names: list[str] = []
        for h in self.hyps:
            own = [n for n in h.names if n not in in_scope]
            if not own:
                continue
            if h.is_definition:
                binders += [f"let {n} := ({h.text}) in" for n in own]  # Coq prints one per line
            else:
                binders.append(f"forall ({' '.join(own)} : {h.text}),")
            names += own
        return " ".join(["Goal", *binders, f"{self.conclusion}."]), names


@dataclass(frozen=True, eq=False)
class CoqGoal:
    """A goal as Coq prints it (`shown`: what the model reads) and with every implicit argument written out
    (`exact`: what restates it; `length nil` alone does not say which type's nil). Equal when exact and
    context are."""

    context: str  # name of the env's context (Require/Import sentences) the goal lives in
    shown: Sequent
    exact: Sequent

    @property
    def key(self) -> str:
        return f"{self.context}|{self.exact.text()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoqGoal) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def text(self) -> str:
        return self.shown.text()

    @property
    def has_evars(self) -> bool:
        return self.exact.has_evars


def parse_display(text: str) -> tuple[Sequent, int, int]:
    """The first goal of a display (`N goals (ID i)` or `goal k (ID i) is:`), the number of goals, and
    the number of shelved goals."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if HEADER.match(line.strip())), None)
    if start is None:
        raise GoalDisplayError(f"no goal header in {text[:200]!r}")
    head = HEADER.match(lines[start].strip())
    assert head is not None
    n_goals = int(head["n"]) if head["n"] else 1
    shelved = int(head["shelved"] or 0)
    try:
        sep = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == SEPARATOR)
    except StopIteration:
        raise GoalDisplayError(f"no {SEPARATOR} line in {text[:200]!r}") from None
    hyps = [_hyp(line.strip()) for line in lines[start + 1: sep] if line.strip()]
    conclusion = lines[sep + 1].strip() if sep + 1 < len(lines) else ""
    if not conclusion or (sep + 2 < len(lines) and lines[sep + 2].strip() and not lines[sep + 2].startswith("goal ")):
        raise GoalDisplayError(f"the conclusion is not one line in {text[:200]!r} (is Printing Width set?)")
    return Sequent(tuple(hyps), conclusion), n_goals, shelved


def _hyp(line: str) -> Hyp:
    m = HYP.match(line)
    if m is None:
        raise GoalDisplayError(f"cannot read the hypothesis {line!r}: write NAME : TYPE")
    return Hyp(tuple(m["names"].split(", ")), m["rest"], m["sep"] == ":=")


def parse_sequent(text: str) -> Sequent:
    """A goal typed by a person: `H : A` lines then `|- B`, or just the conclusion (Coq checks it later)."""
    body = text.strip()
    if "|-" not in body:
        return Sequent((), " ".join(body.split()))
    before, concl = body.rsplit("|-", 1)
    return Sequent(tuple(_hyp(part.strip()) for part in before.split("\n") if part.strip()), " ".join(concl.split()))


__all__ = ["CoqGoal", "GoalDisplayError", "Hyp", "Sequent", "parse_display", "parse_sequent"]

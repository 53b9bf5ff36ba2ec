"""The backward-proving protocol every formal system implements (systems.py lists the systems).

The search only ever sees this module: goals are opaque, immutable values with a canonical `key`
(identical subgoals are merged by it), tactics are plain text, and applying a tactic gives either
the subgoals (none = the goal is closed) or a typed error.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable


@runtime_checkable
class Goal(Protocol):
    """A proof obligation. Implementations are frozen dataclasses whose equality and hash follow `key`."""

    @property
    def key(self) -> str:
        """Canonical text: two goals with the same key are the same goal."""
        ...


class KeyedGoal:
    """Equality and hash by `key`, the Goal contract, for goals that carry more than their key (a dataclass
    that inherits these declares `eq=False`, or it would write its own)."""

    if TYPE_CHECKING:  # a field or a property of the goal (a property here would hide a dataclass field)
        @property
        def key(self) -> str: ...

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


class TacticErrorKind(enum.StrEnum):
    MALFORMED = "malformed"  # the text could not be parsed into a tactic
    UNKNOWN_RULE = "unknown_rule"  # names a rule / label the env does not have (or may not use)
    NO_MATCH = "no_match"  # the rule does not apply to the goal (at that position)
    BAD_SUBSTITUTION = "bad_substitution"  # a substitution is missing, extra or ill-formed
    INVALID_CHILD = "invalid_child"  # a subgoal would be false / undefined (division by zero, ...)
    DISJOINT = "disjoint"  # a disjoint-variable condition is violated (Metamath)
    TIMEOUT = "timeout"
    SKIPPED = "skipped"  # not tried: its search's time limit had passed (says nothing about the tactic)
    OTHER = "other"


@dataclass(frozen=True)
class TacticError:
    kind: TacticErrorKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


@dataclass(frozen=True)
class TacticResult:
    """Outcome of `BackwardEnv.apply`: subgoals (empty = goal closed) or an error."""

    tactic: str
    children: tuple[Goal, ...] = ()
    error: TacticError | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def closes(self) -> bool:
        return self.error is None and not self.children


@dataclass(frozen=True)
class Theorem:
    """A goal to prove, with a label that stays the same across runs (`identities:12`, `mm:pm2.43`)."""

    label: str
    goal: Goal
    split: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ProofNode:
    """A proof tree: the tactic applied to `goal` and one sub-proof per resulting subgoal, in order."""

    goal: Goal
    tactic: str
    children: tuple[ProofNode, ...] = ()

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children), default=0)

    def steps(self) -> list[tuple[Goal, str]]:
        """(goal, tactic) pairs in pre-order: the supervised training pairs of this proof."""
        out = [(self.goal, self.tactic)]
        for c in self.children:
            out.extend(c.steps())
        return out


class ProofError(Exception):
    """A proof failed re-verification; the message names the failing step."""


class GoalParseError(ValueError):
    """A goal given as text could not be parsed; the message gives the position of the problem."""


class BackwardEnv(Protocol):
    """A formal system seen backwards: goals are reduced to subgoals by tactics."""

    name: str

    def apply(self, goal: Goal, tactic: str) -> TacticResult: ...

    def goal_tokens(self, goal: Goal) -> list[str]: ...

    def tactic_tokens(self, tactic: str) -> list[str]: ...

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        """Inverse of `tactic_tokens` for decoded model output (may return malformed text)."""
        ...

    def parse_goal(self, text: str) -> Goal:
        """Parse a goal written by a person; raises GoalParseError with the position of the problem."""
        ...

    def goal_text(self, goal: Goal) -> str:
        """Human-readable form of a goal, for logs and printed proofs."""
        ...

    def theorems(self, split: str) -> list[Theorem]: ...

    def check_proof(self, proof: ProofNode) -> None:
        """Re-verify a whole proof tree from scratch; raises ProofError on any step that does not hold."""
        ...


@runtime_checkable
class TimeCappedEnv(Protocol):
    """An env whose tactics may run for seconds (Coq's automation): a search near its time limit caps each
    tactic at what it has left, so that a call started just before `--search.timeout_s` does not run its
    whole own limit past it."""

    def apply_within(self, goal: Goal, tactic: str, seconds: float, whole: bool = False) -> TacticResult:
        """`apply` within `seconds` (or its own shorter limit); `whole`: all of `seconds`, past its own limit."""
        ...


def env_names() -> list[str]:
    from hyperprover.envs.systems import systems

    return sorted(systems())


# proofs as JSON (the `proof` of a results line, data files)
def proof_to_json(env: BackwardEnv, proof: ProofNode) -> dict[str, Any]:
    return {"goal": env.goal_text(proof.goal), "tactic": proof.tactic,
            "children": [proof_to_json(env, c) for c in proof.children]}


def proof_from_json(env: BackwardEnv, d: Mapping[str, Any]) -> ProofNode:
    """Inverse of `proof_to_json`: every goal parsed back by the env; raises ProofError."""
    try:
        goal = env.parse_goal(str(d["goal"]))
        kids = tuple(proof_from_json(env, c) for c in d.get("children", ()))
        return ProofNode(goal, str(d["tactic"]), kids)
    except (KeyError, TypeError) as e:
        raise ProofError(f"malformed proof record: {e!r}") from None
    except ValueError as e:  # GoalParseError
        raise ProofError(f"goal does not parse: {e}") from None


def make_env(name: str, **kwargs: Any) -> BackwardEnv:
    """The env of the system `name` (envs/systems.py), with keyword overrides of its options."""
    from hyperprover.config import load_ref
    from hyperprover.envs.systems import system

    env: BackwardEnv = load_ref(system(name).env)(**kwargs)
    return env


_FOLD = re.compile(r"^(?P<split>.+)%(?P<n>\d+)(?P<op>!?=)(?P<k>\d+)$")
_PICK = re.compile(r"^(?P<split>[^@]+)@(?P<idx>\d+(-\d+)?(,\d+(-\d+)?)*)$")


def split_theorems(env: BackwardEnv, split: str) -> list[Theorem]:
    """The theorems of `split`, or of a part of it: `identities%4=3` keeps the theorems whose index in the
    split is 3 mod 4, `identities%4!=3` the others; `identities@0,7,57` the theorems at those indices,
    `train@2301-4133` those from index 2301 to 4133; a fold of a pick (`train@2301-4133%10=0`) folds the
    picked theorems. Folds let an online run never see a held-out part of a split (train on
    `identities%4!=3`, evaluate on `identities%4=3`) without a copy of the theorems; picks let a costly eval
    (thousands of expansions per theorem) run on a chosen subset and still be compared per theorem, and an
    online run attempt one region of a library (related theorems, where what it learns can carry over)."""
    return fold_theorems(split, env.theorems)


def fold_theorems(split: str, theorems: Callable[[str], list[Theorem]]) -> list[Theorem]:
    """`split_theorems` over any source of named splits."""
    pick = _PICK.match(split)
    if pick is not None:
        every = theorems(pick["split"])
        ranges = [_pick_range(item) for item in pick["idx"].split(",")]
        idx = [i for r in ranges for i in r]
        if not all(ranges) or len(set(idx)) != len(idx) or max(idx) >= len(every):
            raise ValueError(f"bad pick {split!r}: name distinct indices below {len(every)}, e.g. "
                             f"{pick['split']}@0,7,57 or {pick['split']}@10-19")
        return [every[i] for i in sorted(idx)]
    m = _FOLD.match(split)
    if m is None:
        return theorems(split)
    n, k = int(m["n"]), int(m["k"])
    if n < 2 or k >= n:
        raise ValueError(f"bad fold {split!r}: write split%n=k or split%n!=k with n >= 2 and 0 <= k < n")
    keep = m["op"] == "="
    return [t for i, t in enumerate(fold_theorems(m["split"], theorems)) if (i % n == k) == keep]


def _pick_range(item: str) -> range:
    """`7` is index 7; `10-19` indices 10 to 19 (empty, so refused, where the end is before the start)."""
    start, _, end = item.partition("-")
    return range(int(start), int(end or start) + 1)


ConfigT = TypeVar("ConfigT")


def env_config(name: str, cfg: ConfigT, overrides: dict[str, Any]) -> ConfigT:
    """`cfg` with keyword overrides of its fields (what every env's `make_env(**overrides)` takes); an unknown
    option is a ValueError that lists the known ones."""
    if not overrides:
        return cfg
    known = {f.name for f in dataclasses.fields(cfg)}  # type: ignore[arg-type]
    bad = sorted(set(overrides) - known)
    if bad:
        raise ValueError(f"{name} env: unknown option(s) {', '.join(bad)}; options are {', '.join(sorted(known))}")
    return dataclasses.replace(cfg, **overrides)  # type: ignore[type-var]

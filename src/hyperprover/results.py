"""Proof-attempt results: one JSON line per proof attempt, appended and flushed, and the pass@k summary.

An interrupted evaluation restarts from its results file: attempts already recorded are skipped, and a
theorem proved once is not attempted again (evaluation stops at the first success). Each run of an eval
in a folder (the first, then one per resume) is a numbered part; records carry the wall time of their part
so that the eval's total wall time adds up over resumes (part_times).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hyperprover.jsonl import repair_torn_line


@dataclass(frozen=True)
class AttemptRecord:
    label: str
    attempt: int  # 1-based
    proved: bool
    proof: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # [model critic, 1 if solved in the search else 0] per goal the model expanded (critic_json)
    critic: list[list[float]] = field(default_factory=list)
    # the run of the eval that recorded it (1, 2, ...; 0: not known) and that run's wall seconds by then
    part: int = 0
    part_wall_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(line: str) -> AttemptRecord:
        return AttemptRecord(**json.loads(line))


class ResultsFile:
    """Append-only JSON lines; a torn last line (a kill mid-write) is ignored on reading and cut by `repair`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.part = 0  # set by begin_part
        self._part_start = 0.0

    def repair(self) -> str | None:
        """Before a resumed eval appends: cut a torn last line away; returns a one-line warning when it did."""
        return repair_torn_line(self.path)

    def begin_part(self) -> int:
        """Start this process's part of the eval (one more than any recorded) and its clock: every record
        appended from now on carries both."""
        self.part = 1 + max((r.part for r in self.read()), default=0)
        self._part_start = time.monotonic()
        return self.part

    def part_wall_s(self) -> float:
        """Wall seconds since begin_part (0 before it)."""
        return time.monotonic() - self._part_start if self.part else 0.0

    def read(self) -> list[AttemptRecord]:
        if not self.path.exists():
            return []
        out = []
        with open(self.path) as f:
            for line in f:
                try:
                    out.append(AttemptRecord.from_json(line))
                except (json.JSONDecodeError, TypeError):
                    continue
        return out

    def append(self, record: AttemptRecord) -> None:
        if self.part:
            record = replace(record, part=self.part, part_wall_s=round(self.part_wall_s(), 3))
        with open(self.path, "a+") as f:
            if f.tell() > 0:  # after a kill mid-write, start a fresh line instead of extending the torn one
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":
                    f.write("\n")
            f.write(record.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())


def part_times(records: Iterable[AttemptRecord]) -> dict[int, float]:
    """part -> its wall seconds as far as its records tell (up to its last record: a killed part's time
    after that is not known); records of unknown part are left out."""
    out: dict[int, float] = {}
    for r in records:
        if r.part:
            out[r.part] = max(out.get(r.part, 0.0), r.part_wall_s)
    return out


def critic_json(pairs: Iterable[tuple[float, bool]]) -> list[list[float]]:
    return [[round(float(c), 4), int(solved)] for c, solved in pairs]


def roc_auc(pairs: Iterable[Sequence[float]]) -> float | None:
    """Area under the ROC curve of scores for positives vs negatives ((score, label) pairs): the chance that a
    random solved goal has a higher critic than a random unsolved one (ties count half). None without both."""
    ranked = sorted((float(s), bool(y)) for s, y in pairs)
    n_pos = sum(y for _, y in ranked)
    n_neg = len(ranked) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + 1 + j) / 2
        rank_sum += avg * sum(y for _, y in ranked[i:j])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def first_proved(records: Iterable[AttemptRecord]) -> dict[str, AttemptRecord]:
    """label -> its first successful attempt, in file order."""
    out: dict[str, AttemptRecord] = {}
    for r in records:
        if r.proved and r.label not in out:
            out[r.label] = r
    return out


def proved_proofs(path: str | Path) -> list[tuple[str, AttemptRecord, dict[str, Any]]]:
    """(label, record, proof json) of the first successful attempt of each theorem of a results file, in
    file order, for the checks that replay proofs outside the env; ValueError names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path}: no such results file")
    out = []
    for label, r in first_proved(ResultsFile(p).read()).items():
        if r.proof is None:
            raise ValueError(f"{path}: {label} attempt {r.attempt} is marked proved but holds no proof")
        out.append((label, r, r.proof))
    return out


def pending_attempts(labels: Sequence[str], max_attempts: int, done: Iterable[AttemptRecord],
                     ) -> list[tuple[str, int]]:
    """(label, attempt) still to run: not recorded yet, and the theorem not proved by an earlier one."""
    recorded = {(r.label, r.attempt) for r in done}
    proved = {r.label for r in done if r.proved}
    return [(label, a) for a in range(1, max_attempts + 1) for label in labels
            if label not in proved and (label, a) not in recorded]


def summarize(labels: Sequence[str], records: Iterable[AttemptRecord], max_attempts: int) -> dict[str, Any]:
    """n_theorems, proved, pass@1..k (share of theorems proved within the first k attempts), timing."""
    first_success: dict[str, int] = {}
    times: dict[str, float] = {}
    wanted = set(labels)
    records = list(records)
    for r in records:
        if r.label not in wanted:
            continue
        times[r.label] = times.get(r.label, 0.0) + float(r.stats.get("time_s", 0.0))
        if r.proved:
            first_success[r.label] = min(first_success.get(r.label, r.attempt), r.attempt)
    n = len(labels)
    summary: dict[str, Any] = {"n_theorems": n, "proved": len(first_success),
                               "proved_labels": sorted(first_success)}
    for k in range(1, max_attempts + 1):
        summary[f"pass@{k}"] = sum(1 for a in first_success.values() if a <= k) / n if n else 0.0
    summary["time_per_theorem_s"] = sum(times.values()) / n if n else 0.0
    pairs = [p for r in records if r.label in wanted for p in r.critic]
    summary["critic_auc"] = roc_auc(pairs)  # solved vs unsolved expanded goals; None when one side is empty
    summary["critic_n_solved"] = sum(int(y) for _, y in pairs)
    summary["critic_n_unsolved"] = len(pairs) - summary["critic_n_solved"]
    return summary

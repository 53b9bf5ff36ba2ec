"""Replay the proofs of Coq source files in coqtop and record every (goal, tactic) step.

A file is run sentence by sentence in a fresh coqtop. A sentence that opens a proof (the prompt then
names it) starts a lemma: its first goal is recorded, then before each tactic of the proof the focused
goal (as shown, and with Printing Implicit: see goals.py), and the tactic as written. Bullets, braces,
`Proof ...` and vernacular commands inside a proof are run, not recorded. A proof counts when its `Qed`
or `Defined` is accepted; a tactic that fails marks the lemma failed (with Coq's message as the cause)
and the rest of its proof is skipped (`Abort`); `Admitted` proofs are counted apart. Steps of failed or
admitted lemmas and steps on goals with existential variables are not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprover.envs.coq.goals import GoalDisplayError, Sequent, parse_display
from hyperprover.envs.coq.sentences import sentences
from hyperprover.envs.coq.tactics import tactic_problem
from hyperprover.envs.coq.toplevel import Answer, CoqError, CoqTop

ENDS = ("Qed.", "Defined.", "Admitted.", "Abort.", "Abort All.")
STRUCTURE = re.compile(r"^(?:[-+*]+|[{}]|\d+:\s*\{|Proof\b.*)$")


@dataclass(frozen=True)
class Step:
    file: str
    index: int  # the sentence that states the lemma
    goal: Sequent  # as shown
    exact: Sequent  # with Printing Implicit
    tactic: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "index": self.index, "goal": self.goal.to_json(), "exact": self.exact.to_json(),
                "tactic": self.tactic}


@dataclass
class Lemma:
    file: str
    name: str
    index: int  # the sentence that states it: its context is the file's sentences before it
    end: int = -1  # the sentence that ends its proof
    goal: Sequent | None = None
    exact: Sequent | None = None
    status: str = "ok"  # ok | admitted | failed
    cause: str = ""
    steps: list[Step] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "name": self.name, "index": self.index, "end": self.end,
                "goal": self.goal.to_json() if self.goal else None,
                "exact": self.exact.to_json() if self.exact else None,
                "status": self.status, "cause": self.cause, "n_steps": len(self.steps)}


@dataclass
class FileReport:
    file: str
    n_sentences: int = 0
    lemmas: list[Lemma] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # sentences outside proofs that failed
    aborted: str = ""  # coqtop died or hung: the rest of the file was not run


def focused_goal(top: CoqTop) -> tuple[Sequent, Sequent] | None:
    """The first focused goal, as shown and exact; None when there is none, or when a printing does not parse
    (a file may change the printing options: ExtLib's HList prints a conclusion on several lines)."""
    shown = top.send("Show.")
    if shown.error is not None or "No more goals" in shown.text:
        return None
    try:
        first, _, _ = parse_display(shown.text)
    except GoalDisplayError:
        return None  # e.g. "This subproof is complete, but there are some unfocused goals"
    top.send("Set Printing Implicit.")
    exact = top.send("Show.")
    top.send("Unset Printing Implicit.")
    try:
        return first, parse_display(exact.text)[0]
    except GoalDisplayError:
        return None


def replay(path: Path, name: str, timeout_s: float = 120.0, args: tuple[str, ...] = ()) -> FileReport:
    """Run the file `path` (reported as `name`) and record its lemmas and steps; `args`: coqtop's load path."""
    text = path.read_text(encoding="utf-8", errors="replace")
    sents = sentences(text)
    report = FileReport(name, len(sents))
    with CoqTop(args, answer_timeout_s=timeout_s) as top:
        top.start()
        top.send("Set Printing Width 100000.")
        try:
            _run(top, sents, report)
        except CoqError as e:
            report.aborted = str(e)
    return report


def run_prefix(top: CoqTop, path: Path, index: int) -> FileReport:
    """Run the sentences of `path` before sentence `index` as the replay did (failed proofs aborted, nothing
    recorded): coqtop is then where the lemma stated by sentence `index` was."""
    report = FileReport(str(path))
    _run(top, sentences(path.read_text(encoding="utf-8", errors="replace"))[:index], report, record=False)
    return report


def _run(top: CoqTop, sents: list[str], report: FileReport, record: bool = True) -> None:
    lemma: Lemma | None = None
    for idx, s in enumerate(sents):
        if lemma is None:
            a = _send(top, idx, s)
            if a.error is not None:
                report.errors.append((idx, s[:120], a.error))
            elif a.proof != "Coq":
                lemma = Lemma(report.file, a.proof, idx)
                goal = focused_goal(top) if record else None
                if goal is not None:
                    lemma.goal, lemma.exact = goal
            continue
        if s in ENDS or s.startswith(("Qed ", "Save ")):
            _close(top, s, lemma)
            lemma.end = idx
            report.lemmas.append(lemma)
            lemma = None
            continue
        if lemma.status != "ok":
            continue  # the rest of a failed proof
        # recorded: tactics, not bullets, `Proof ...` or commands, nor `tac...` (it runs the `Proof with` tactic)
        step = not (STRUCTURE.match(s) or tactic_problem(s.rstrip(".")) is not None or s.endswith("..."))
        goal = focused_goal(top) if step and record else None
        a = _send(top, idx, s)
        if a.error is not None:
            lemma.status, lemma.cause = "failed", a.error if step else f"{s[:40]}: {a.error}"
        elif goal is not None and not goal[1].has_evars:
            lemma.steps.append(Step(report.file, lemma.index, goal[0], goal[1], s.rstrip(".")))
        if a.error is None and a.proof == "Coq":  # `Proof term.` states and ends the proof at once
            lemma.end = idx
            report.lemmas.append(lemma)
            lemma = None
    if lemma is not None:
        lemma.status, lemma.cause, lemma.end = "failed", "the file ends inside the proof", len(sents) - 1
        report.lemmas.append(lemma)


def _send(top: CoqTop, idx: int, sentence: str) -> Answer:
    a = top.send(sentence)
    if top.sync():
        raise CoqError(f"coqtop ran sentence {idx} ({sentence[:60]!r}) as several: the splitter disagrees")
    return a


def _close(top: CoqTop, end: str, lemma: Lemma) -> None:
    if lemma.status == "ok":
        a = top.send(end)
        if a.error is not None:
            lemma.status, lemma.cause = "failed", f"{end} {a.error}"
        elif end.startswith("Admitted"):
            lemma.status = "admitted"
        elif end.startswith("Abort"):
            lemma.status = "failed"
            lemma.cause = "aborted in the source"
        if a.proof == "Coq":
            return
    top.send("Abort.")  # a failed proof: leave it so the file goes on


def library_files(root: Path, dirs: list[str]) -> Iterator[tuple[Path, str]]:
    """The .v files of `dirs` under `root`, sorted, with their names relative to root."""
    for d in dirs:
        folder = root / d
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such directory (is libcoq-stdlib installed?)")
        for p in sorted(folder.rglob("*.v")):
            yield p, str(p.relative_to(root))


__all__ = ["FileReport", "Lemma", "Step", "focused_goal", "library_files", "replay", "run_prefix"]

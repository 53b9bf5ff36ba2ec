"""Check the proofs of an evaluation with `coqc` (`hyperprover check --env coq --results FILE`).

Each theorem proved in an `eval_results.jsonl` becomes a `.v` file of its own. A library lemma: its file
up to the lemma, the sentence that states it as written, and `End` for the sections and modules left
open. A goal typed by hand: the `std` context and the goal restated as `Goal ...` (hypotheses as
binders, `intros` giving their names back). Then the proof tree as a tactic script, each node's subgoals
in braces in the order Coq creates them, and `Qed.` `coqc` compiles it from scratch, without the env and
without its restating of subgoals, so a proof is accepted only if Coq itself closes the theorem with
exactly these tactics.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hyperprover.envs.coq.config import STD_CONTEXT, CoqConfig
from hyperprover.envs.coq.goals import GoalDisplayError, parse_sequent
from hyperprover.envs.coq.sentences import sentences
from hyperprover.envs.coq.toplevel import coqtop_environment
from hyperprover.results import proved_proofs

# a sentence that opens a section or a module (not `Module M := N.`, which defines one at once)
OPENS = re.compile(r"^(?:Section|(?:#\[[^\]]*\]\s*)?Module(?:\s+Type)?(?:\s+(?:Import|Export))?)\s+"
                   r"(?P<name>[\w']+)(?![^.]*:=)")


def without_signature(opening: str) -> str:
    """`Module Nat <: NAxiomsSig <: ... .` -> `Module Nat.`: a module closed right after the lemma lacks the
    fields its signature asks for, which are defined further down its file. Inside the module nothing
    changes (a signature is only checked at `End`), so the lemma is checked in the same context."""
    m = OPENS.match(opening)
    if m is None or opening.startswith("Section"):
        return opening
    depth = 0
    for i in range(m.end(), len(opening)):
        c = opening[i]
        depth += (c == "(") - (c == ")")
        if depth == 0 and c == ":":  # a top-level `:` or `<:` after the name and the functor's binders
            cut = i - 1 if opening[i - 1] == "<" else i
            return opening[:cut].rstrip() + "."
    return opening


class CheckError(Exception):
    """The check cannot run at all (coqc missing, results file missing or unreadable)."""


@dataclass(frozen=True)
class Verdict:
    theorem: str
    file: str  # the .v file ("" when none could be written)
    accepted: bool
    detail: str = ""  # why not: coqc's message


def script(node: Mapping[str, Any], depth: int = 0) -> list[str]:
    """The tactic of `node`, then each child's script in braces."""
    pad = "  " * depth
    lines = [f"{pad}{str(node['tactic']).strip().rstrip('.')}."]
    for child in node.get("children", ()):
        inner = script(child, depth + 1)
        inner[0] = f"{pad}{{ {inner[0].lstrip()}"
        inner[-1] += " }"
        lines += inner
    return lines


LIBRARY_LABEL = re.compile(r"^coq:(?P<file>.+\.v)#(?P<index>\d+):")


def library_context(label: str, cfg: CoqConfig) -> tuple[list[str], str, list[str]] | None:
    """For a library lemma: its file's sentences before it, the sentence that states it (as written, so
    its binders are already hypotheses), and the `End` sentences that close the sections and modules
    left open. None for other theorems."""
    m = LIBRARY_LABEL.match(label)
    if m is None:
        return None
    text = sentences(cfg.source(m["file"]).read_text(encoding="utf-8"))
    before, statement = text[: int(m["index"])], text[int(m["index"])]
    open_blocks: list[tuple[str, int]] = []  # name, index of the opening sentence
    for i, s in enumerate(before):
        block = OPENS.match(s)
        if block is not None:
            open_blocks.append((block["name"], i))
        elif s.startswith("End ") and open_blocks:
            open_blocks.pop()
    for _, i in open_blocks:
        before[i] = without_signature(before[i])
    return before, statement, [f"End {name}." for name, _ in reversed(open_blocks)]


def proof_file(label: str, proof: Mapping[str, Any], cfg: CoqConfig, preload: str = "") -> str:
    """The .v text that states the proof's root goal in its context and proves it with the proof's tactics."""
    head = [f"(* {label}: a proof found by hyperprover, checked by coqc *)"]
    library = library_context(label, cfg)
    if library is not None:
        before, statement, after = library
        # the preload right before the statement, not above the file: Hammer's import changes what tactics of
        # the file's own earlier proofs do (an `intuition` in List.v closes more goals, and a bullet after it
        # fails); the search aborted such proofs, coqc cannot. A `Require` in a section is only a warning.
        lines = [*head, *before, *sentences(preload), statement, "Proof."]
    else:
        statement, names = parse_sequent(str(proof["goal"])).restated()
        lines, after = [*head, *sentences(preload), STD_CONTEXT, statement, "Proof."], []
        if names:
            lines.append(f"intros {' '.join(names)}.")
    return "\n".join([*lines, *script(proof), "Qed.", *after, ""])


def check_results(results: str | Path, folder: str | Path, cfg: CoqConfig | None = None, program: str = "coqc",
                  timeout_s: float = 300.0, workers: int = 1,
                  report: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """coqc's verdict on the first proof of each theorem proved in `results`, in file order; the `.v`
    files and coqc's output are kept in `folder`. `workers` coqc processes run side by side (each file is
    checked alone); `report` is called with each verdict, in file order, as soon as it and those before it
    are known (a long check shows its progress)."""
    if shutil.which(program) is None:
        raise CheckError(f"{program!r} is not installed (Debian: apt-get install coq libcoq-stdlib)")
    try:
        proved = proved_proofs(results)
    except ValueError as e:
        raise CheckError(str(e)) from None
    cfg = cfg or CoqConfig()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[Verdict | tuple[str, str, tuple[str, ...]]] = []  # a verdict already, or (label, file, args)
    for i, (label, record, proof) in enumerate(proved):
        name = f"proof_{i:05d}.v"
        try:
            # what the prover's coqtop ran before any context (benchmarks/coq_sauto.py records Hammer's import)
            preload = str(record.params.get("coq_preload", ""))
            used = replace(cfg, library_root=str(record.params.get("coq_library_root", cfg.library_root)),
                           libraries=str(record.params.get("coq_libraries", "")),
                           cross_libraries=str(record.params.get("coq_cross_libraries", "")))  # the eval's
            (out / name).write_text(proof_file(label, proof, used, preload))
            m = LIBRARY_LABEL.match(label)
            jobs.append((label, name, used.context_args(m["file"] if m else "")))
        except (GoalDisplayError, KeyError, TypeError, OSError, ValueError) as e:
            jobs.append(Verdict(label, "", False, f"cannot write the proof: {e}"))

    def verdict(job: Verdict | tuple[str, str, tuple[str, ...]]) -> Verdict:
        if isinstance(job, Verdict):
            return job
        label, name, args = job
        try:
            done = subprocess.run([program, "-q", *args, name], cwd=out, capture_output=True,  # ATPs for hammer:
                                  text=True, timeout=timeout_s, env=coqtop_environment())  # coqtop's PATH
        except subprocess.TimeoutExpired:
            return Verdict(label, name, False, f"coqc ran past {timeout_s:g}s")
        message = " ".join((done.stdout + done.stderr).split())
        return Verdict(label, name, done.returncode == 0, message[-500:])

    verdicts = []
    with ThreadPoolExecutor(max(1, workers)) as pool:  # threads: each waits on its own coqc process
        for v in pool.map(verdict, jobs):
            verdicts.append(v)
            if report is not None:
                report(v)
    return verdicts


__all__ = ["CheckError", "Verdict", "check_results", "proof_file", "script"]

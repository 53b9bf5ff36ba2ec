"""The `Admitted` lemmas of a user's Coq file, and the file written back with the proofs found.

`prove --env coq --file F.v` runs F.v in coqtop as the library replay does (`extract.replay`, with the load
path of the `_CoqProject` beside it), keeps the lemmas whose proof ends in `Admitted.`, each with its goal and
its context (everything before it in the file), and after the search replaces the `Admitted` proofs it closed
by the tactics found, between the lemma's `Proof ...` sentence and a `Qed.`; the rest of the file is kept byte
for byte. coqc then checks the copy.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperprover.envs.coq.coqc_check import script
from hyperprover.envs.coq.extract import replay
from hyperprover.envs.coq.goals import CoqGoal
from hyperprover.envs.coq.sentences import sentence_spans
from hyperprover.envs.coq.toplevel import coqtop_environment


class FileError(ValueError):
    """The file cannot be worked on (missing, or Coq refuses it before a lemma): one line that names where."""


@dataclass(frozen=True)
class AdmittedLemma:
    name: str
    index: int  # the sentence that states it (its context: the sentences before it)
    end: int  # its `Admitted.` sentence
    line: int
    goal: CoqGoal


def project_load_path(file: Path) -> str:
    """The -Q / -R / -I options of the `_CoqProject` beside `file` (its folders made absolute), or ''."""
    project = file.parent / "_CoqProject"
    if not project.is_file():
        return ""
    words = shlex.split(project.read_text(encoding="utf-8", errors="replace"), comments=True)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-Q", "-R") and i + 2 < len(words):
            out += [w, str((file.parent / words[i + 1]).resolve()), words[i + 2]]
            i += 3
        elif w == "-I" and i + 1 < len(words):
            out += [w, str((file.parent / words[i + 1]).resolve())]
            i += 2
        else:
            i += 1  # file names and other coq_makefile options
    return shlex.join(out)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def admitted_lemmas(file: Path, load_path: str, timeout_s: float = 120.0) -> list[AdmittedLemma]:
    """Run `file` in coqtop; its lemmas ending in `Admitted.`. A sentence Coq refuses outside a proof before
    the last of them, or a coqtop that dies, is a FileError naming its line."""
    if not file.is_file():
        raise FileError(f"--file {file}: no such file")
    text = file.read_text(encoding="utf-8", errors="replace")
    spans = sentence_spans(text)
    report = replay(file, file.name, timeout_s, tuple(shlex.split(load_path)))
    if report.aborted:
        raise FileError(f"{file}: coqtop stopped: {report.aborted}")
    lemmas = [m for m in report.lemmas if m.status == "admitted" and m.goal is not None and m.exact is not None]
    last = max((m.index for m in lemmas), default=len(spans))
    for idx, sentence, error in report.errors:
        if idx < last:
            where = line_of(text, spans[idx][1][0]) if idx < len(spans) else 0
            first = " ".join(error.split())[:200]
            raise FileError(f"{file}:{where}: Coq refuses `{sentence[:60]}`: {first} (the file must compile up "
                            "to its Admitted lemmas; pass its load path with --coq.load_path or a _CoqProject)")
    out = []
    for m in lemmas:
        assert m.goal is not None and m.exact is not None
        out.append(AdmittedLemma(m.name, m.index, m.end, line_of(text, spans[m.index][1][0]),
                                 CoqGoal(f"{file.name}#{m.index}", m.goal, m.exact)))
    return out


def with_proofs(text: str, proofs: Mapping[int, Mapping[str, Any]], ends: Mapping[int, int], preload: str = "") -> str:
    """`text` with the proof of each lemma stated by sentence `i` (its `proofs[i]`, a proof tree as eval writes
    it) in place of its `Proof ... Admitted.`: the `Proof` sentence is kept, the rest up to `ends[i]` replaced.
    `preload`: what the prover's coqtop ran before the file (Hammer's import with --coq.automation), put on a
    line of its own before each lemma given a proof, so that the `sauto` and `hammer` steps it found mean the same
    in the copy; not above the file, where it would change what the file's own earlier tactics do (an
    `intuition` closes more goals with Hammer's hints loaded). Once per lemma until a section or module closes:
    an `Import` inside one ends with it."""
    read = sentence_spans(text)  # split once: the sentences and where each stands
    sents, spans = [s for s, _ in read], [span for _, span in read]
    pieces, at, previous = [], 0, -1  # previous: the last lemma given a proof, the preload in scope there
    for i in sorted(proofs):
        if preload and (previous < 0 or any(s.startswith("End ") for s in sents[previous:i])):
            stated = spans[i][0]
            line = text.rfind("\n", 0, stated) + 1
            cut = line if not text[line:stated].strip() else stated
            pieces += [text[at:cut], f"{preload} (* added by hyperprover prove: the proof below ran with it *)\n"]
            at = cut
        previous = i
        first = i + 1
        keep_proof = first < ends[i] and sents[first].startswith("Proof")  # `Proof using X.` stays as written
        start = spans[first + 1][0] if keep_proof else spans[first][0]
        body = "\n".join(script(proofs[i], 1))
        new = f"{body}\nQed." if keep_proof else f"Proof.\n{body}\nQed."
        before = text[at:start]
        if not before.rstrip(" \t").endswith("\n"):  # the tactics go on lines of their own
            before = before.rstrip(" \t") + "\n"
        pieces += [before, new]
        at = spans[ends[i]][1]
    pieces.append(text[at:])
    return "".join(pieces)


def coqc_accepts(file: Path, load_path: str, timeout_s: float = 600.0) -> tuple[bool, str]:
    """coqc's verdict on `file` (compiled where it is, as its project would), with its last message."""
    try:
        done = subprocess.run(["coqc", "-q", *shlex.split(load_path), file.name], cwd=file.parent,
                              capture_output=True, text=True, timeout=timeout_s, env=coqtop_environment())
    except subprocess.TimeoutExpired:
        return False, f"coqc ran past {timeout_s:g}s"
    message = " ".join((done.stdout + done.stderr).split())
    return done.returncode == 0, message[-300:]


__all__ = ["AdmittedLemma", "FileError", "admitted_lemmas", "coqc_accepts", "project_load_path", "with_proofs"]

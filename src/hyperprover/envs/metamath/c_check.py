"""Check the proofs of an evaluation with the C `metamath` program (`hyperprover check --env mm --results`).

Each theorem proved in an `eval_results.jsonl` (`hyperprover eval --env mm`) has its proof tree stored
as goal text and tactic per node. The tree is rebuilt through the backward env (every goal parsed back,
in the context of its theorem), turned into a Metamath proof with `to_metamath` (which replays every
tactic and runs our own verifier), and written as a `.mm` snippet stating and proving the theorem's
statement under a fresh label `hp.LABEL`. The snippets go into a copy of the database's main file, each
just before the statement of its theorem, so the C program accepts a proof only if it uses nothing
from the theorem on (as the env's label mask demands). The C program reads that file once and runs
`verify proof hp.LABEL` per theorem, so each verdict is its own. If it reports an error while reading
the file, every theorem is checked again in a file of its own.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperprover.envs.base import ProofError, proof_from_json
from hyperprover.envs.metamath.env import MetamathEnv, MMGoal
from hyperprover.envs.metamath.proofs import compress, snippet, to_metamath
from hyperprover.results import proved_proofs

METAMATH = "metamath"
LABEL_PREFIX = "hp."


class CCheckError(Exception):
    """The check cannot run at all (program missing, unreadable results, database files elsewhere)."""


@dataclass(frozen=True)
class Verdict:
    theorem: str  # the label in the results file, e.g. "mm:pm2.43"
    mm_label: str  # the exported $p ("" when no Metamath proof could be built)
    accepted: bool
    detail: str = ""  # why not, or the C program's error message


def proved_in_results(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(theorem label, proof json) of the first successful attempt of each theorem, in file order."""
    try:
        return [(label, proof) for label, _, proof in proved_proofs(path)]
    except ValueError as e:
        raise CCheckError(str(e)) from None


def build_snippets(env: MetamathEnv, theorem: str, proof_json: Mapping[str, Any], mm_label: str,
                   ) -> tuple[str, str]:
    """Two `.mm` snippets proving `theorem`'s statement from its stored proof under `mm_label`: one to
    go just before the theorem in the database (inside its scope: its `$e` and `$f` hypotheses are
    active there and are the snippet's own), one to go after the whole database (it restates the
    hypotheses). Raises ProofError when the tree does not rebuild or does not verify."""
    proof = proof_from_json(env, proof_json)
    try:
        expected = env.theorem_goal(theorem)
    except KeyError as e:
        raise ProofError(str(e)) from None
    if not isinstance(proof.goal, MMGoal) or proof.goal != expected:
        raise ProofError(f"the proof's root goal is not the statement of {theorem}")
    mm = to_metamath(env, proof, verify=True)
    listed, letters = compress(env, mm.labels, tuple(h.label for h in mm.hyps))
    body = "\n".join("    " + line for line in letters.splitlines())
    in_place = ["${"] + [f"  $d {x} {y} $." for x, y in sorted(mm.dvs)]
    in_place.append(f"  {mm_label} $p {' '.join(mm.goal.stmt)} $=\n    ( {' '.join(listed)} )\n{body} $.")
    in_place.append("$}\n")
    return "\n".join(in_place), snippet(env, mm, label=mm_label)


def _link_inclusions(env: MetamathEnv, folder: Path) -> None:
    """Symlink the files the database includes into `folder`, at their paths relative to its main file."""
    main = os.path.realpath(env.db.path)
    base = os.path.dirname(main)
    for f in env.db.files:
        if f == main:
            continue
        rel = os.path.relpath(f, base)
        if rel.startswith(".."):
            raise CCheckError(f"{f}: an included file outside the database's folder {base}")
        dst = folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        dst.symlink_to(f)


def run_metamath(folder: Path, name: str, labels: Sequence[str], program: str = METAMATH,
                 timeout: float = 600.0) -> str:
    """The C program's output for `read NAME` then `verify proof L` for each label."""
    cmds = [f"read {name}", *(f"verify proof {lab}" for lab in labels), "exit"]
    try:
        r = subprocess.run([program, *cmds], cwd=folder, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CCheckError(f"{program} did not finish within {timeout:.0f} s") from None
    return r.stdout + r.stderr


_PROMPT = re.compile(r"^MM> ", re.M)


def parse_output(output: str, labels: Sequence[str]) -> tuple[str | None, dict[str, tuple[bool, str]]]:
    """(read error or None, label -> (accepted, message)). A label is accepted when its `verify proof`
    section names it (the program lists each proof it checks) and reports no error or warning."""
    sections = _PROMPT.split(output)
    read_err = None
    verdicts: dict[str, tuple[bool, str]] = {}
    for sec in sections[1:]:
        head, _, body = sec.partition("\n")
        cmd = head.split()
        if cmd[:1] == ["read"]:
            if re.search(r"^\?(Error|Warning)", body, re.M) or "No errors were found" not in body:
                read_err = body.strip()[-1500:] or "no output"
        elif cmd[:2] == ["verify", "proof"] and len(cmd) == 3:
            lab = cmd[2]
            lines = body.splitlines()
            listed = bool(lines) and lab in lines[0].split()
            # an error can also follow the label on its first line (a proof saved in the program's memory)
            bad = [ln for ln in lines if re.search(r"\?(Error|Warning)", ln) or ln.startswith("?")
                   or "not proved" in ln]
            if not listed:
                verdicts[lab] = (False, f"the C program did not verify {lab}: {body.strip()[:300]!r}")
            elif bad:
                verdicts[lab] = (False, body.strip()[:1500])
            else:
                verdicts[lab] = (True, "")
    for lab in labels:
        verdicts.setdefault(lab, (False, "no verdict in the C program's output"))
    return read_err, verdicts


_COMMENT = re.compile(r"(?<!\S)\$\((?!\S).*?(?<!\S)\$\)(?!\S)", re.S)


def place_snippets(text: str, snippets: Mapping[str, tuple[str, str]]) -> tuple[str, set[str]]:
    """`text` (a database's main file) with, per theorem label, its first snippet inserted just before
    the theorem's `$p` statement, so that the C program checks the proof against what precedes the
    theorem only (the theorem itself and every later assertion are not defined yet). For theorems not
    stated in `text` (outside a comment), the second snippet goes at the end; their labels are returned."""
    wanted = set(snippets)
    at: dict[str, int] = {}
    comments = [(m.start(), m.end()) for m in _COMMENT.finditer(text)]
    starts = [a for a, _ in comments]
    for m in re.finditer(r"(?<!\S)(\S+)\s+\$p(?!\S)", text):
        lab = m.group(1)
        if lab not in wanted or lab in at:
            continue
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and comments[i][1] > m.start():
            continue  # inside a comment
        at[lab] = m.start()
    pieces: list[str] = []
    prev = 0
    for lab, pos in sorted(at.items(), key=lambda kv: kv[1]):
        pieces += [text[prev:pos], snippets[lab][0], "\n"]
        prev = pos
    pieces.append(text[prev:])
    outside = wanted - at.keys()
    if outside:
        pieces += ["\n"] + [snippets[lab][1] for lab in snippets if lab in outside]
    return "".join(pieces), outside


def _fresh_label(env: MetamathEnv, theorem: str, used: set[str]) -> str:
    base = LABEL_PREFIX + theorem.removeprefix("mm:")
    lab, i = base, 1
    taken = env.db.assertions.keys() | env.db.hyps.keys() | used
    while lab in taken or any(f"{lab}.{s}" in taken for s in ("h1", "f1")):
        i += 1
        lab = f"{base}.{i}"
    used.add(lab)
    return lab


def check_results(env: MetamathEnv, results: str | Path, folder: str | Path, program: str = METAMATH,
                  timeout: float = 600.0) -> list[Verdict]:
    """Verdicts of the C program on every theorem proved in `results`, in file order; the `.mm` files
    are written to `folder` (kept, with the program's output in `metamath.log`)."""
    if shutil.which(program) is None:
        raise CCheckError(f"the C Metamath program {program!r} is not installed (Debian: apt-get install metamath)")
    proved = proved_in_results(results)
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    _link_inclusions(env, out_dir)
    verdicts: dict[str, Verdict] = {}
    parts: dict[str, tuple[str, tuple[str, str]]] = {}  # theorem -> (mm label, its two snippets)
    used: set[str] = set()
    for theorem, pj in proved:
        lab = _fresh_label(env, theorem, used)
        try:
            parts[theorem] = (lab, build_snippets(env, theorem, pj, lab))
        except ProofError as e:
            verdicts[theorem] = Verdict(theorem, "", False, f"no Metamath proof: {e}")
        except Exception as e:  # a bug in the export must not hide the verdicts of the other theorems
            verdicts[theorem] = Verdict(theorem, "", False, f"no Metamath proof: {type(e).__name__}: {e}")
    if parts:
        main_text = Path(env.db.path).read_text(encoding="ascii")
        text, outside = place_snippets(main_text, {t.removeprefix("mm:"): s for t, (_, s) in parts.items()})
        (out_dir / "found.mm").write_text(text)
        labels = [lab for lab, _ in parts.values()]
        output = run_metamath(out_dir, "found.mm", labels, program, timeout)
        (out_dir / "metamath.log").write_text(output)
        read_err, got = parse_output(output, labels)
        if read_err is not None:  # attribute the error: one file per theorem
            got = {}
            for theorem, (lab, s) in parts.items():
                fname = f"found.{lab}.mm"
                (out_dir / fname).write_text(place_snippets(main_text, {theorem.removeprefix("mm:"): s})[0])
                one = run_metamath(out_dir, fname, [lab], program, timeout)
                (out_dir / f"metamath.{lab}.log").write_text(one)
                err, v = parse_output(one, [lab])
                got[lab] = (False, f"read error: {err}") if err is not None else v[lab]
        for theorem, (lab, _) in parts.items():
            ok, msg = got[lab]
            if ok and theorem.removeprefix("mm:") in outside:
                msg = "checked after the whole database: the theorem is not stated in the main file"
            verdicts[theorem] = Verdict(theorem, lab, ok, msg)
    return [verdicts[t] for t, _ in proved]

"""Benchmark: how many theorems the C `metamath` program's proof assistant proves with `improve`, no learning.

    .venv/bin/python benchmarks/mm_improve.py --labels FILE_OR_COMMA_LIST  (or --split valid --n 200 --seed 0,
        or --split valid%5=0 --n 0: the 200 theorems of `hyperprover demo --env mm`)
        [--database /usr/share/metamath/databases/set.mm] [--depth 1] [--cpu_s 20] [--batch 50]
        [--out mm_improve.jsonl] [--as_eval DIR]

Per theorem L: `prove L / override` (set.mm's discouraged *OLD theorems need it), `delete all` (the assistant
starts from nothing), `improve all / depth N`. A proof that closes is saved in memory only (never written to the
database's files) and counts as proved only if `verify proof L` accepts it: the assistant does not check $d
conditions, so a closed proof that breaks one is "closed_but_rejected". `improve` only uses statements before L.
One process reads the database per batch of labels; a theorem whose child CPU time passes --cpu_s is killed
("timeout") and a fresh process takes the rest of the batch. One JSON line per theorem is appended to --out as it
finishes; labels already there are skipped, so an interrupted run resumes. Prints proved/N, each status's count
and the settings. `--as_eval DIR` also writes the outcomes as an eval folder for `hyperprover compare`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from hyperprover.envs.metamath.c_check import METAMATH
from hyperprover.envs.metamath.config import SET_MM

STATUSES = ("proved", "failed", "timeout", "closed_but_rejected", "error")
_LABEL = re.compile(r"[A-Za-z0-9._-]+")  # Metamath's label characters: no wildcards, no second command
_ECHO = re.compile(r"(?:MM(?:-PA)?> )+!([^\n]*)\n")  # `set echo on` prints "!COMMAND" after the prompt
_CLIP = re.compile(r"---------Clip out the proof below this line.*?\n(.*?)\n---------The proof of", re.S)
_HZ = os.sysconf("SC_CLK_TCK")
CLOCK = "child CPU time (/proc/PID/stat)" if os.path.exists("/proc/self/stat") else "wall time"


class ImproveError(Exception):
    """The benchmark cannot run: no program, no database, or the database does not read."""


class Stalled(Exception):
    """The child died or stopped answering (not a timeout of the theorem's search)."""


@dataclass(frozen=True)
class Outcome:
    label: str
    status: str  # one of STATUSES
    cpu_s: float  # the child's CPU seconds from `prove` to the verdict (wall seconds where CLOCK says so)
    wall_s: float
    proof: str | None = None  # compressed proof, when proved (or closed but rejected)
    detail: str = ""  # the program's message for error / closed_but_rejected / timeout


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    version: str = ""
    n_sent: int = 0  # numbers the markers, so each wait ends at its own


def spent(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far; wall time where /proc is missing."""
    if CLOCK != "wall time":
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
            return (int(fields[11]) + int(fields[12])) / _HZ
        except (OSError, IndexError, ValueError):
            return 0.0  # the process is gone: no timeout here, the caller finds out from its output
    return time.monotonic()


def send(child: Child, cmds: Sequence[str], cpu_until: float | None, wall_s: float) -> str | None:
    """The output of `cmds`, with each echoed as "!COMMAND". A final `show statement` of a label that does
    not exist is the end marker: its echo shows every command before it has run. None (and the child is
    killed) once its CPU time passes `cpu_until`; Stalled if it dies or is silent for `wall_s`."""
    child.n_sent += 1
    marker = f"hp_improve_done_{child.n_sent}"
    proc = child.proc
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(("\n".join([*cmds, f"show statement {marker}"]) + "\n").encode())
        proc.stdin.flush()
    except OSError:
        raise Stalled("the metamath process is gone") from None
    echo = f"!SHOW STATEMENT {marker}\n".encode()
    buf = b""
    deadline = time.monotonic() + wall_s
    while not (echo in buf and buf.endswith(b"> ")):  # the marker ran and the next prompt is up
        if cpu_until is not None and spent(proc.pid) > cpu_until:
            stop(child)
            return None
        if time.monotonic() > deadline:
            stop(child)
            raise Stalled(f"no answer within {wall_s:.0f} s wall: {buf[-300:].decode(errors='replace')!r}")
        if select.select([proc.stdout], [], [], 0.05)[0]:
            data = os.read(proc.stdout.fileno(), 1 << 16)
            if not data:
                raise Stalled(f"metamath exited: {buf[-300:].decode(errors='replace')!r}")
            buf += data
    return re.sub(r"(?:MM(?:-PA)?> )+$", "", buf[: buf.index(echo)].decode(errors="replace"))  # its prompt


def sections(text: str) -> list[tuple[str, str]]:
    """(echoed command, its output) pairs of `send`'s text; the banner before the first command is dropped."""
    parts = _ECHO.split(text)
    return list(zip(parts[1::2], parts[2::2]))


def start(database: str, program: str = METAMATH) -> Child:
    """A metamath process that has read `database` (from its folder, so relative inclusions resolve)."""
    folder, name = os.path.split(os.path.abspath(database))
    try:
        proc = subprocess.Popen([program], cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        raise ImproveError(f"cannot run {program}: {e}") from None
    child = Child(proc)
    # continuous scrolling: no "press return" pages; echo: the commands, and so the end marker, show up
    try:
        text = send(child, ["set scroll continuous", "set echo on", f'read "{name}"'], None, 600.0) or ""
    except Stalled as e:
        raise ImproveError(f"{program} failed while reading {database}: {e}") from None
    m = re.search(r"Metamath - Version (\S+)", text)
    child.version = m.group(1) if m else "?"
    secs = sections(text)
    out = secs[-1][1] if secs else text
    if "No errors were found" not in out:
        stop(child)
        raise ImproveError(f"{program} could not read {database}: {error_message(out) or out.strip()[-300:]}")
    return child


def stop(child: Child) -> None:
    if child.proc.poll() is None:
        child.proc.kill()
    child.proc.wait()
    for f in (child.proc.stdin, child.proc.stdout):
        if f is not None:
            try:
                f.close()
            except OSError:
                pass


def error_message(out: str) -> str:
    """The output from the program's first "?" line on (it flags errors and warnings with a leading "?",
    and explains on the lines after), on one line."""
    m = re.search(r"^\?", out, re.M)
    return " ".join(out[m.start():].split())[:400] if m else ""


def prove_error(out: str) -> str | None:
    """None when `prove L` entered the proof assistant, else why not (unknown label, not a $p, ...)."""
    if "Entering the Proof Assistant" in out:
        return None
    return error_message(out) or " ".join(out.split())[:300] or "prove gave no output"


def clipped_proof(out: str) -> str | None:
    """The proof of `show new_proof / compressed` (without its "$."), whitespace normalised; a "?" in it
    marks an unknown step."""
    m = _CLIP.search(out)
    return " ".join(m.group(1).split()).removesuffix(" $.") if m else None


def verify_error(out: str, label: str) -> str | None:
    """None when `verify proof L` accepts the proof. An error on an in-memory proof comes on the line of the
    label ("L ?Error at statement ..."), not a line of its own as for a proof read from a file."""
    if "?Error" in out or "?Warning" in out or "not proved" in out:
        return " ".join(out[max(0, out.find("?")) :].split())[:1000]
    if label not in out.split():
        return f"verify proof did not list {label}: {' '.join(out.split())[:300]!r}"
    return None


def prove_one(child: Child, label: str, depth: int, cpu_s: float) -> Outcome:
    """Run the `improve` procedure on `label` in `child`; after a "timeout" the child has been killed."""
    t0, c0 = time.monotonic(), spent(child.proc.pid)
    until, wall = c0 + cpu_s, 60.0 + 10 * cpu_s  # the wall cap only catches a hung child

    def done(status: str, proof: str | None = None, detail: str = "") -> Outcome:
        c = cpu_s if status == "timeout" else max(0.0, spent(child.proc.pid) - c0)
        return Outcome(label, status, round(c, 3), round(time.monotonic() - t0, 3), proof, detail)

    if not _LABEL.fullmatch(label):
        return done("error", detail=f"not a Metamath label: {label!r}")
    # `/ override`: discouraged theorems (the *OLD ones, ...) are still in the split; nothing is written to disk
    text = send(child, [f"prove {label} / override"], until, wall)
    if text is None:
        return done("timeout", detail=f"over {cpu_s} s")
    err = prove_error(text)
    if err is not None:
        return done("error", detail=err)
    # `delete all` on a database proof that is already incomplete only says the step is unknown: harmless
    text = send(child, ["delete all", f"improve all / depth {depth}", "show new_proof / compressed"], until, wall)
    if text is None:
        return done("timeout", detail=f"over {cpu_s} s")
    proof = clipped_proof(sections(text)[-1][1])
    if proof is None or "?" in proof:
        send(child, ["exit / force"], None, wall)
        return done("failed")
    # saved into the in-memory database only; `improve` uses statements, not proofs, so later theorems
    # of the batch are unaffected
    text = send(child, ["save new_proof / override", f"verify proof {label}", "exit / force"], until, wall)
    if text is None:
        return done("timeout", proof, detail=f"over {cpu_s} s while verifying")
    verdict = dict(sections(text)).get(f"VERIFY PROOF {label}", "")
    err = verify_error(verdict, label)
    return done("closed_but_rejected", proof, err) if err else done("proved", proof)


def run(database: str, labels: Sequence[str], depth: int, cpu_s: float, batch: int,
        on_result: Callable[[Outcome], None], program: str = METAMATH) -> str:
    """Prove `labels` in batches of one process each; `on_result` gets each Outcome as it comes. A timeout
    or a dead child ends that process, and a fresh one takes the rest of the batch. Returns the version."""
    version = "?"
    for b in range(0, len(labels), batch):
        todo = list(labels[b : b + batch])
        while todo:
            child = start(database, program)
            version = child.version
            try:
                while todo:
                    label = todo.pop(0)
                    t0 = time.monotonic()
                    try:
                        out = prove_one(child, label, depth, cpu_s)
                    except Stalled as e:
                        out = Outcome(label, "error", 0.0, round(time.monotonic() - t0, 3), None, str(e))
                    on_result(out)
                    if child.proc.poll() is not None:  # killed for a timeout, hung or died: a fresh one
                        break
            finally:
                stop(child)
    return version


def read_done(path: str | Path) -> dict[str, dict]:
    """label -> record of the theorems already in the results file (a torn last line is ignored)."""
    done: dict[str, dict] = {}
    p = Path(path)
    if p.is_file():
        for line in p.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "label" in rec and rec.get("status") in STATUSES:
                done[rec["label"]] = rec
    return done


def parse_labels(spec: str) -> list[str]:
    """Labels from a file (whitespace or comma separated, "#" starts a comment) or a comma list; "mm:" is
    dropped and repeats are kept once, in order."""
    if os.path.isfile(spec):
        text = "\n".join(ln.split("#", 1)[0] for ln in Path(spec).read_text().splitlines())
    else:
        text = spec
    return list(dict.fromkeys(t.removeprefix("mm:") for t in re.split(r"[\s,]+", text) if t))


def split_labels(database: str, split: str, n: int, seed: int) -> list[str]:
    from hyperprover.envs.base import split_theorems
    from hyperprover.envs.metamath.env import make_env  # loads the database: only when asked for

    labels = [t.label.removeprefix("mm:") for t in split_theorems(make_env(database=database), split)]
    return labels if n == 0 else random.Random(seed).sample(labels, min(n, len(labels)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--labels", help="a file of labels or a comma list (e.g. id,a1i,mp2)")
    src.add_argument("--split", help="a split of the project's mm env (valid, test, or a fold such as valid%%5=0: "
                                     "the demo's sample), sampled with --n and --seed")
    ap.add_argument("--n", type=int, default=200, help="theorems drawn from --split (0: all, in order)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--database", default=SET_MM)
    ap.add_argument("--depth", type=int, default=1, help="improve all / depth N (exponential: try 1, then 2)")
    ap.add_argument("--cpu_s", type=float, default=20.0, help="limit per theorem on the child's CPU time")
    ap.add_argument("--batch", type=int, default=50, help="theorems per metamath process (one read each)")
    ap.add_argument("--out", default="mm_improve.jsonl", help="results, one JSON line per theorem (resumed)")
    ap.add_argument("--as_eval", default="", help="also write the results as an eval folder (DIR/eval_results.jsonl) "
                                                   "that `hyperprover compare` takes beside the provers' folders")
    args = ap.parse_args()

    if shutil.which(METAMATH) is None:
        print(f"error: the C program {METAMATH!r} is not installed (apt-get install metamath metamath-databases)",
              file=sys.stderr)
        return 2
    if not os.path.isfile(args.database):
        print(f"error: no database {args.database} (apt-get install metamath-databases)", file=sys.stderr)
        return 2
    labels = (parse_labels(args.labels) if args.labels is not None
              else split_labels(args.database, args.split, args.n, args.seed))
    done = read_done(args.out)
    todo = [lab for lab in labels if lab not in done]
    print(f"{len(labels)} theorems, {len(labels) - len(todo)} already in {args.out}, {len(todo)} to run", flush=True)

    t0 = time.monotonic()
    with open(args.out, "a") as f:
        def record(o: Outcome) -> None:
            f.write(json.dumps(asdict(o)) + "\n")
            f.flush()
            done[o.label] = asdict(o)
            print(f"  {o.label}: {o.status} ({o.cpu_s:.2f} s cpu, {o.wall_s:.2f} s wall)"
                  + (f" {o.detail[:120]}" if o.detail else ""), flush=True)

        try:
            version = run(args.database, todo, args.depth, args.cpu_s, args.batch, record) if todo else "-"
        except ImproveError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    wall = time.monotonic() - t0

    recs = [done[lab] for lab in labels if lab in done]
    counts = Counter(r["status"] for r in recs)
    print(f"database: {args.database}; metamath {version}")
    print(f"settings: improve all / depth {args.depth}, limit {args.cpu_s:g} s per theorem on {CLOCK}, "
          f"batch {args.batch}, source {args.labels or f'{args.split} n={args.n} seed={args.seed}'}")
    print(f"proved {counts['proved']}/{len(labels)} ({100 * counts['proved'] / max(1, len(labels)):.1f}%); "
          + ", ".join(f"{s} {counts[s]}" for s in STATUSES))
    print(f"time: {wall:.1f} s wall this run; theorems' cpu {sum(r['cpu_s'] for r in recs):.1f} s, "
          f"wall {sum(r['wall_s'] for r in recs):.1f} s (all {len(recs)} records)")
    print("machine load (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs")
    if args.as_eval:
        write_as_eval(recs, Path(args.as_eval), f"improve all / depth {args.depth}, {args.cpu_s:g} s cpu")
        print(f"as an eval folder: {args.as_eval} (hyperprover compare DIRS --vs {args.as_eval})")
    return 0


def write_as_eval(recs: Sequence[dict], folder: Path, settings: str) -> None:
    """The records as eval_results.jsonl (one attempt per theorem, labels `mm:L`), written to a temporary file
    and renamed; an "error" record (the assistant would not start) counts as not proved, like a timeout."""
    from hyperprover.results import AttemptRecord  # the eval's own record: compare reads it

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "eval_results.jsonl.tmp"
    with open(tmp, "w") as f:
        for r in recs:
            rec = AttemptRecord(f"mm:{r['label']}", 1, r["status"] == "proved", None,
                                {"status": r["status"], "cpu_s": r["cpu_s"], "wall_s": r["wall_s"]},
                                {"prover": "metamath improve", "settings": settings}, r["detail"] or None)
            f.write(rec.to_json() + "\n")
    tmp.replace(folder / "eval_results.jsonl")


if __name__ == "__main__":
    raise SystemExit(main())

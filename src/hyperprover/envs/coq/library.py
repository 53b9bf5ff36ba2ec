"""A Coq library as theorems and training data.

The proofs of the chosen directories are replayed once (extract.py, about a minute for the six default
directories of the standard library) into a folder of JSON lines: `lemmas.jsonl`, `steps.jsonl` and
`report.json`. By default the folder is a cache, `~/.cache/hyperprover/coq/<digest>` (or under
$HYPERPROVER_CACHE), named after the library's location, its directories and the Coq version, written
to a temporary folder and renamed, so a half-written cache is never read. Only JSON is read back.

The lemmas whose proof replayed become theorems; their order (file, sentence) is shuffled by
`split_seed`, the first `n_valid` are `valid`, the next `n_test` are `test`, the rest `train`. A lemma's
goal lives in the context `FILE#INDEX`: the file's sentences before the one that states it, so the lemma
and everything after it in its file are unknown while it is proved. More libraries (libraries.py: stdpp,
flocq, mathcomp, ...) are replayed the same way, each into its own cache folder: all their lemmas are
training lemmas (`--coq.libraries`), or a cross-project test never trained on (`--coq.cross_libraries`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hyperprover.envs.coq.config import CoqConfig
from hyperprover.envs.coq.extract import library_files, replay
from hyperprover.envs.coq.goals import TOKEN, Sequent
from hyperprover.envs.coq.libraries import Library
from hyperprover.envs.coq.sentences import sentences

CACHE_FORMAT = "hyperprover coq library 2"  # change when extract.py's records change
SPLITS = ("train", "valid", "test")  # of the main library; `cross` draws from other libraries


@dataclass(frozen=True)
class LemmaRef:
    file: str  # relative to the library root
    name: str
    index: int  # sentence that states it
    goal: Sequent
    exact: Sequent

    @property
    def label(self) -> str:
        return f"coq:{self.file}#{self.index}:{self.name}"

    @property
    def context(self) -> str:
        return f"{self.file}#{self.index}"


@cache  # one `coqc --version` per process: every theorems() and task build asks for the cache folder
def coq_version() -> str:
    try:
        return subprocess.run(["coqc", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def cache_folder(root: str, dirs: tuple[str, ...]) -> Path:
    base = os.environ.get("HYPERPROVER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hyperprover")
    key = json.dumps([CACHE_FORMAT, os.path.realpath(root), list(dirs), coq_version()])
    return Path(base) / "coq" / hashlib.sha256(key.encode()).hexdigest()[:16]


def write_extraction(root: str, dirs: tuple[str, ...], out: Path, progress: bool = False,
                     args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Replay every file of `dirs` into `out` (created), with coqtop's options `args`; the report, also written
    as report.json."""
    files = list(library_files(Path(root), list(dirs)))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    status: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    n_steps, problems = 0, []
    with open(out / "steps.jsonl", "w") as steps, open(out / "lemmas.jsonl", "w") as lemmas:
        for path, name in files:
            r = replay(path, name, args=args)
            for lemma in r.lemmas:
                status[lemma.status] += 1
                if lemma.status == "failed":
                    causes[" ".join(lemma.cause.split()[:6])] += 1
                lemmas.write(json.dumps(lemma.to_dict()) + "\n")
                if lemma.status == "ok":
                    steps.writelines(json.dumps(s.to_dict()) + "\n" for s in lemma.steps)
                    n_steps += len(lemma.steps)
            if r.errors or r.aborted:
                problems.append({"file": name, "aborted": r.aborted, "errors": r.errors[:5]})
            if progress:
                print(f"{name}: {len(r.lemmas)} lemmas, {sum(x.status == 'ok' for x in r.lemmas)} replayed"
                      f"{', ' + str(len(r.errors)) + ' failing sentences' if r.errors else ''}"
                      f"{', aborted: ' + r.aborted if r.aborted else ''}", flush=True)
    report = {"root": root, "dirs": list(dirs), "coq": coq_version(), "files": len(files), "lemmas": dict(status),
              "steps": n_steps, "replayed_share": status["ok"] / max(1, status["ok"] + status["failed"]),
              "failure_causes": causes.most_common(30), "file_problems": problems,
              "time_s": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def ensure_extraction(root: str, dirs: tuple[str, ...], folder: str = "", args: tuple[str, ...] = ()) -> Path:
    """The extraction folder: `folder` if given (it must hold one), else the cache, built when missing."""
    if folder:
        out = Path(folder)
        if not (out / "report.json").is_file():
            raise FileNotFoundError(f"{folder}: no Coq extraction there (make one: hyperprover data --env coq "
                                    f"--out {folder})")
        return out
    out = cache_folder(root, dirs)
    if (out / "report.json").is_file():
        return out
    print(f"coq: replaying the proofs of {', '.join(dirs)} under {root} once (a minute for the stdlib's six "
          f"default folders, up to an hour for a large library) into {out}",
          file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out.parent))
    try:
        write_extraction(root, dirs, tmp, args=args)  # args follow from root and dirs: not in the key
        tmp.rename(out)
    except OSError:
        if not (out / "report.json").is_file():  # not another process that won the rename
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


@cache
def replayed_lemmas(folder: str) -> tuple[LemmaRef, ...]:
    """The lemmas of an extraction whose proof replayed and whose goal has no existential variable, in file
    order."""
    lemmas = [LemmaRef(d["file"], d["name"], int(d["index"]), Sequent.from_json(d["goal"]),
                       Sequent.from_json(d["exact"]))
              for d in _lines(Path(folder) / "lemmas.jsonl") if d["status"] == "ok" and d["exact"] is not None]
    return tuple(sorted((m for m in lemmas if not m.exact.has_evars), key=lambda m: (m.file, m.index)))


@cache
def load_splits(folder: str, split_seed: int, n_valid: int, n_test: int) -> dict[str, tuple[LemmaRef, ...]]:
    lemmas = list(replayed_lemmas(folder))
    random.Random(split_seed).shuffle(lemmas)
    valid, test = lemmas[:n_valid], lemmas[n_valid: n_valid + n_test]
    return {"valid": tuple(valid), "test": tuple(test), "train": tuple(lemmas[n_valid + n_test:])}


def _extraction(lib: Library) -> Path:
    return ensure_extraction(lib.root, lib.dirs, args=lib.args())


def split_lemmas(cfg: CoqConfig, split: str) -> list[tuple[str, LemmaRef]]:
    """The lemmas of `split`, each with the extraction folder that holds its steps. train, valid and test
    split the main library (`library_root`, `library_dirs`); train also holds every lemma of
    `--coq.libraries`; cross is `n_cross` lemmas of `--coq.cross_libraries` drawn by `split_seed`."""
    train_libs, cross_libs = cfg.more_libraries()
    if split == "cross":
        pool = [(str(f), m) for f in map(_extraction, cross_libs) for m in replayed_lemmas(str(f))]
        random.Random(cfg.split_seed).shuffle(pool)
        return pool[: cfg.n_cross]
    main = str(ensure_extraction(cfg.library_root, cfg.dirs(), cfg.data_dir))
    out = [(main, m) for m in load_splits(main, cfg.split_seed, cfg.n_valid, cfg.n_test)[split]]
    if split == "train":
        out += [(str(f), m) for f in map(_extraction, train_libs) for m in replayed_lemmas(str(f))]
    return out


def write_mass_corpus(root: str, folder: str, split_seed: int, n_valid: int, n_test: int, out: Path) -> dict[str, int]:
    """The library's sources as text for MASS pretraining (`--tasks latex_mass --latex.data_dir OUT`), one
    sentence per line in the env's tokens (split by spaces, as the MASS task reads them). The statements
    and proofs of the valid and test lemmas go to valid.txt and test.txt only, everything else of the
    replayed files to train.txt, so pretraining never reads the proof of a lemma it is later evaluated
    on. Returns the lines per file."""
    splits = load_splits(folder, split_seed, n_valid, n_test)
    held: dict[tuple[str, int], str] = {(m.file, m.index): s for s in ("valid", "test") for m in splits[s]}
    ends = {(d["file"], int(d["index"])): int(d["end"]) for d in _lines(Path(folder) / "lemmas.jsonl")}
    files = sorted({f for f, _ in ends})
    out.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(SPLITS, 0)
    handles = {s: open(out / f"{s}.txt", "w") for s in SPLITS}  # noqa: SIM115 - closed below
    try:
        for f in files:
            text = sentences((Path(root) / f).read_text(encoding="utf-8", errors="replace"))
            split, until = "train", -1
            for i, sentence in enumerate(text):
                if i > until:
                    split = held.get((f, i), "train")
                    until = ends.get((f, i), i) if split != "train" else i
                body, dot = (sentence[:-1], ["."]) if sentence.endswith(".") else (sentence, [])
                handles[split].write(" ".join([*TOKEN.findall(body), *dot]) + "\n")  # the env's tokens
                counts[split] += 1
    finally:
        for h in handles.values():
            h.close()
    return counts


def steps_of(folder: str, lemmas: tuple[LemmaRef, ...]) -> list[tuple[Sequent, str]]:
    """(goal as shown, tactic) of every recorded step of `lemmas`, in file order."""
    keys = {(m.file, m.index) for m in lemmas}
    return [(Sequent.from_json(d["goal"]), str(d["tactic"])) for d in _lines(Path(folder) / "steps.jsonl")
            if (d["file"], int(d["index"])) in keys]


__all__ = ["LemmaRef", "cache_folder", "ensure_extraction", "load_splits", "replayed_lemmas", "split_lemmas",
           "steps_of", "write_extraction", "write_mass_corpus"]

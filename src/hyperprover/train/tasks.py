"""Task registry: a task is a named source of records plus the objective that trains on them.

Records are (input tokens, output tokens) for `seq2seq`, (input tokens, target probability of SOLVABLE)
for `critic`, and word chunks for `mass`. A factory is registered for a regular expression over task
names (`register_task`), so new data sources are small additions:
- a formal system's tasks: declared by its package (`envs/<system>/system.py`), registered below;
- `*_mcts_*` tasks: records from a JSON-lines file (`file_task`, below, already handles
  `{"x": [...], "y": [...]}` and `{"x": [...], "q": 0.7}` lines in `<dir>/<task>.<split>.jsonl`, dir from
  the environment variable HYPERPROVER_TASK_DATA) or from a replay buffer (a factory whose `train`
  iterates the buffer).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OBJECTIVES = ("seq2seq", "critic", "mass")


class TaskError(ValueError):
    """An unknown task name, or a task whose data is unavailable."""


@dataclass(frozen=True)
class Seq2SeqRecord:
    x: tuple[str, ...]
    y: tuple[str, ...]


@dataclass(frozen=True)
class CriticRecord:
    x: tuple[str, ...]
    q: float  # target probability that the goal is solvable


Record = Seq2SeqRecord | CriticRecord | tuple[str, ...]  # the last: a MASS word chunk


@dataclass(frozen=True)
class Task:
    name: str
    objective: str  # one of OBJECTIVES
    train: Callable[[int], Iterator[Record]]  # seed -> endless stream of training records
    split: Callable[[str, int], list[Record]]  # (split, n) -> the same records every call
    vocabulary: Callable[[], Iterable[str]] | None = None  # every word the source can produce, if known
    env: str = ""  # the env of greedy proving evaluations (eq, mm, ...), "" for none
    # False while the source cannot give records without waiting (a replay buffer below min_len): the
    # trainer then trains the other tasks instead of blocking; None = always ready
    ready: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise TaskError(f"task {self.name}: objective {self.objective!r} is not one of {OBJECTIVES}")


TaskFactory = Callable[[str, Any], Task]  # (task name, TrainConfig) -> Task
_FACTORIES: list[tuple[re.Pattern[str], TaskFactory, str]] = []


def register_task(pattern: str, factory: TaskFactory, example: str) -> None:
    """Register a factory for the task names fully matching `pattern`; `example` is shown in errors."""
    _FACTORIES.append((re.compile(pattern), factory, example))


def known_tasks() -> list[str]:
    return [ex for _, _, ex in _FACTORIES]


def make_task(name: str, cfg: Any) -> Task:
    for pat, factory, _ in _FACTORIES:
        if pat.fullmatch(name):
            return factory(name, cfg)
    import difflib

    close = difflib.get_close_matches(name, known_tasks(), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise TaskError(f"unknown task {name!r}{hint} (known: {', '.join(known_tasks())})")


# ---------------------------------------------------------------------------------------------------
# latex_mass


def _latex_task(name: str, cfg: Any) -> Task:
    from hyperprover.train.latex import load_corpus, write_corpus

    if cfg.latex.generate_if_missing and cfg.latex.data_dir and not Path(cfg.latex.data_dir).exists():
        write_corpus(cfg.latex.data_dir, cfg.latex.generate_if_missing, seed=cfg.seed)
    limit = cfg.debug.size if cfg.debug.debug else 0
    corpus = load_corpus(cfg.latex.data_dir, cfg.latex.valid_fraction, limit_lines=limit)
    bptt = cfg.batch.bptt

    def train(seed: int) -> Iterator[Record]:
        yield from corpus.random_chunks(bptt, seed)

    def split(split: str, n: int) -> list[Record]:
        return list(corpus.chunks(split, bptt, n))

    counts = corpus.counts
    words = [w for w, c in counts.most_common(cfg.latex.max_vocab or None) if c >= cfg.latex.min_count]
    return Task(name, "mass", train, split, vocabulary=lambda: words)


register_task(r"latex_mass", _latex_task, "latex_mass")


# ---------------------------------------------------------------------------------------------------
# the tasks of each formal system (envs/<system>/system.py: TaskSpec, made into Records there)


def _system_task(system: str, factory: str) -> TaskFactory:
    def make(name: str, cfg: Any) -> Task:
        from hyperprover.config import load_ref

        try:
            source = load_ref(factory)(name, cfg)
        except ValueError as e:  # a name the pattern admits but the system does not make, or missing data
            raise TaskError(str(e)) from None
        if source.objective == "critic":
            def record(x: Any, t: Any) -> Record:
                return CriticRecord(tuple(x), float(t))
        else:
            def record(x: Any, t: Any) -> Record:
                return Seq2SeqRecord(tuple(x), tuple(t))

        def train(seed: int) -> Iterator[Record]:
            for x, t in source.train(seed):
                yield record(x, t)

        def split(split: str, n: int) -> list[Record]:
            return [record(x, t) for x, t in source.split(split, n)]

        return Task(name, source.objective, train, split, source.vocabulary, env=system)

    return make


def _register_system_tasks() -> None:
    from hyperprover.envs.systems import systems

    for system in systems().values():
        for spec in system.tasks:
            register_task(spec.pattern, _system_task(system.name, spec.factory), spec.example)


_register_system_tasks()


# ---------------------------------------------------------------------------------------------------
# records from JSON-lines files (MCTS samples written by searches, or any exported data)


def read_records(path: Path) -> list[Record]:
    """`{"x": [...], "y": [...]}` -> Seq2SeqRecord, `{"x": [...], "q": p}` -> CriticRecord."""
    out: list[Record] = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(Seq2SeqRecord(tuple(d["x"]), tuple(d["y"])) if "y" in d
                           else CriticRecord(tuple(d["x"]), float(d["q"])))
            except (ValueError, KeyError, TypeError) as e:
                raise TaskError(f"{path}:{i}: not a record ({type(e).__name__}: {e}); expected "
                                '{"x": [...], "y": [...]} or {"x": [...], "q": p}') from None
    return out


def file_task(name: str, objective: str, directory: Path, env: str = "") -> Task:
    files = {s: directory / f"{name}.{s}.jsonl" for s in ("train", "valid", "test")}
    if not files["train"].is_file():
        raise TaskError(f"task {name}: no records file {files['train']}")
    train_records = read_records(files["train"])
    if not train_records:
        raise TaskError(f"task {name}: {files['train']} holds no record")

    def train(seed: int) -> Iterator[Record]:
        import random

        rng = random.Random(seed)
        while True:
            yield train_records[rng.randrange(len(train_records))]

    def split(split: str, n: int) -> list[Record]:
        return read_records(files[split])[:n] if files[split].is_file() else []

    return Task(name, objective, train, split, env=env)


def _mcts_file_task(name: str, cfg: Any) -> Task:
    directory = os.environ.get("HYPERPROVER_TASK_DATA", "")
    if not directory:
        raise TaskError(f"task {name} reads records from $HYPERPROVER_TASK_DATA/{name}.<split>.jsonl; "
                        "set HYPERPROVER_TASK_DATA (online training feeds these tasks from its replay buffer)")
    objective = "critic" if name.endswith("_critic") else "seq2seq"
    return file_task(name, objective, Path(directory), env=name.split("_", 1)[0])


register_task(r"[a-z]+_mcts_(tactic|minproof|critic)\w*", _mcts_file_task, "<env>_mcts_tactic_fmt, <env>_mcts_critic")

"""The formal systems hyperprover knows, each described once, in its own package.

A system's package holds a `system.py` whose `SYSTEM` tells the rest of hyperprover all it needs: the
`--env` name, the function that makes its env, its options section (`--NAME.*` in train, and in prove, eval
and online when its env takes them), its training tasks, and its `data`/`check` commands. SYSTEM_PACKAGES is
the one list of them; $HYPERPROVER_SYSTEMS (a comma list of importable packages) adds a user's own, so a new
system is one package plus one line. Nothing here imports a system's env: `hyperprover --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from hyperprover.config import ConfigError, section

SYSTEM_PACKAGES = ("hyperprover.envs.equations", "hyperprover.envs.metamath", "hyperprover.envs.coq",
                   "hyperprover.envs.sr")
EXTRA_VARIABLE = "HYPERPROVER_SYSTEMS"

Example = tuple[list[str], Any]  # (input tokens, output tokens) for seq2seq, (input tokens, probability) for critic


@dataclass(frozen=True)
class Records:
    """A training source in the env's words, which `train/tasks.py` turns into a task."""

    objective: str  # seq2seq | critic
    train: Callable[[int], Iterator[Example]]  # seed -> an endless stream
    split: Callable[[str, int], list[Example]]  # (split, n) -> the same examples every call
    vocabulary: Callable[[], Iterable[str]] | None = None  # every word the source can produce, if known


@dataclass(frozen=True)
class TaskSpec:
    pattern: str  # the task names it makes, a regular expression
    example: str  # how they read, for error messages
    factory: str  # "module:function", (task name, the training config) -> Records; ValueError for a bad name


@dataclass(frozen=True)
class System:
    name: str  # --env NAME
    env: str  # "module:function" that makes the env; keywords are the options' fields
    options: type | None = None  # the dataclass of --NAME.*
    options_help: str = ""
    prover_options: bool = True  # prove, eval and online take the section too (their env is made from it)
    tasks: tuple[TaskSpec, ...] = ()
    cli: str = ""  # module with data_main(argv) and check_main(argv), for `hyperprover data|check --env NAME`


def packages() -> list[str]:
    extra = [p.strip() for p in os.environ.get(EXTRA_VARIABLE, "").split(",") if p.strip()]
    return [*SYSTEM_PACKAGES, *extra]


@cache
def systems() -> dict[str, System]:
    """Every system by name, in the order of the list."""
    out: dict[str, System] = {}
    for package in packages():
        try:
            system = importlib.import_module(f"{package}.system").SYSTEM
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"{package}: not a hyperprover system package (it needs system.py with SYSTEM: "
                              f"{e}); check ${EXTRA_VARIABLE}") from None
        if system.name in out:
            raise ConfigError(f"two systems are named {system.name!r} (the second in {package})")
        out[system.name] = system
    return out


def system(name: str) -> System:
    found = systems().get(name)
    if found is None:
        raise ValueError(f"unknown env {name!r}; choose one of {', '.join(systems())}")
    return found


def with_system_sections(base: type, provers: bool = False) -> type:
    """`base` with one options section per system, `--NAME.*` (with `provers`, only the systems whose env
    takes them). The class keeps base's name and module, so configs pickle to Ray actors and subprocesses
    (which build the same class: they see the same $HYPERPROVER_SYSTEMS)."""
    fields = [(s.name, s.options, section(s.options, s.options_help)) for s in systems().values()
              if s.options is not None and (s.prover_options or not provers)]
    cls = dataclasses.make_dataclass(base.__name__.removesuffix("Base"), fields, bases=(base,))
    cls.__module__ = base.__module__
    return cls


__all__ = ["EXTRA_VARIABLE", "SYSTEM_PACKAGES", "Records", "System", "TaskSpec", "packages", "system", "systems",
           "with_system_sections"]

"""`hyperprover data` and `hyperprover check`: dispatch on `--env` to the env's own cli module.

A system names its cli module in its descriptor (envs/systems.py), with `data_main(argv) -> int` and
`check_main(argv) -> int`; argv is what follows the command, without `--env NAME`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence


def _split_env(argv: list[str]) -> tuple[str | None, list[str]]:
    rest: list[str] = []
    env = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--env" and i + 1 < len(argv):
            env, i = argv[i + 1], i + 2
            continue
        if a.startswith("--env="):
            env = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return env, rest


def main(argv: Sequence[str]) -> int:
    from hyperprover.envs.systems import systems

    command, args = argv[0], list(argv[1:])
    env, rest = _split_env(args)
    names = list(systems())
    if env is None:
        if "-h" in rest or "--help" in rest or not rest:
            print(f"usage: hyperprover {command} --env {{{','.join(names)}}} ...\n"
                  f"`hyperprover {command} --env NAME --help` lists that env's options.")
            return 0 if rest else 2
        print(f"hyperprover {command}: --env is required (one of {', '.join(names)})", file=sys.stderr)
        return 2
    if env not in names:
        print(f"hyperprover {command}: unknown env '{env}' (one of {', '.join(names)})", file=sys.stderr)
        return 2
    cli = systems()[env].cli
    fn = getattr(importlib.import_module(cli), f"{command}_main", None) if cli else None
    if fn is None:
        print(f"hyperprover {command} --env {env}: not available for this env", file=sys.stderr)
        return 2
    code: int = fn(rest)
    return code

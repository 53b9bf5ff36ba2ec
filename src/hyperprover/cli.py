"""The `hyperprover` entry point: one subcommand per capability, each a `main(argv) -> int` in its area.

Subcommand modules are imported only when called, so `hyperprover --help` stays instant and a
capability that has not landed says so instead of failing with a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# name -> (module with `main(argv) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hyperprover.demo", "end-to-end demo: data, training, HTPS vs best-first on the identities"),
    "train": ("hyperprover.train.main", "pretrain (MASS) or train supervised / critic tasks"),
    "online": ("hyperprover.online.main", "online HTPS training: controller, provers and trainer on Ray"),
    "eval": ("hyperprover.evaluation.main", "prove a split with many attempts per theorem; pass@k summary"),
    "prove": ("hyperprover.evaluation.prove", "prove one theorem, with a model or with tactics by hand"),
    "sweep": ("hyperprover.sweep", "expand a sweep file into jobs and run them (local or SLURM)"),
    "plot": ("hyperprover.analysis.plot", "PNG figures and an HTML index of runs' metrics"),
    "compare": ("hyperprover.analysis.compare", "paired comparison of two provers' evals: McNemar p, bootstrap"),
    "data": ("hyperprover.envs.cli", "generate theorems with proofs into a JSON-lines file"),
    "check": ("hyperprover.envs.cli", "re-verify proofs (a JSON-lines file, or a Metamath database)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help}" for name, (_, help) in COMMANDS.items())
    return (
        "usage: hyperprover COMMAND [options]\n\n"
        "Train neural theorem provers with HyperTree Proof Search.\n\ncommands:\n"
        f"{rows}\n\n`hyperprover COMMAND --help` lists the options of a command with their defaults."
    )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def os_error_line(e: OSError) -> str:
    """One line for a file-system error: the path, the reason, and for a refused write the folder at fault."""
    if e.filename is None:
        return f"{e.strerror or e}"
    path = Path(os.fsdecode(e.filename))
    if isinstance(e, PermissionError):
        # the culprit is the path itself when it exists (a read-only file), else the folder it would go in
        at = _nearest_existing(path)
        what = f"the folder {at} is not writable" if at.is_dir() else f"{at} is not writable"
        return f"permission denied for {path}: {what} by this user (choose another path or fix its permissions)"
    return f"{path}: {e.strerror or e}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("--version", "-V"):
        from hyperprover import __version__

        print(f"hyperprover {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        print(f"hyperprover: unknown command '{name}'{hint} (see hyperprover --help)", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    from hyperprover.config import ConfigError

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            print(f"hyperprover {name}: not available yet ({module_name} has not landed)", file=sys.stderr)
            return 2
        raise
    except ConfigError as e:  # a configs module names a system package that is not one ($HYPERPROVER_SYSTEMS)
        print(f"hyperprover {name}: {e}", file=sys.stderr)
        return 2

    try:
        code: int = module.main([name, *rest] if module_name == "hyperprover.envs.cli" else rest)
    except ConfigError as e:
        print(f"hyperprover {name}: {e}", file=sys.stderr)
        return 2
    # the last line of defence: these come from bad input or a bad environment, not from bugs, and one
    # line says more than a traceback (each command names its own files where it can)
    except UnicodeDecodeError as e:
        print(f"hyperprover {name}: a file given is not UTF-8 text ({e.reason} at byte offset {e.start}); "
              "check the options that name text files", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"hyperprover {name}: {os_error_line(e)}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"hyperprover {name}: an input is nested too deeply to process (Python's recursion limit)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hyperprover {name}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

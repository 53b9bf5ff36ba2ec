"""Experiment folders: where a run writes everything it does, in formats a person can read.

`<dump_path>/<exp_name>/<exp_id>/` (debug runs: `<dump_path>/debug/<exp_id>/`) holds params.json,
train.log (with one `__log__:{json}` line per evaluation), tensorboard/ and checkpoints.
A run that finds its folder with a checkpoint in it resumes. params.json records the command that wrote
the folder; a run of another command, or of the same command with other values of the options that define
its results (`defining` of setup_experiment), is refused instead of mixing its results with the folder's.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import string
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hyperprover.config import ConfigError, field_table, flatten, opt, save_params, section, to_dict

LOG_PREFIX = "__log__:"


@dataclass
class DebugConfig:
    debug: bool = opt(False, "small data, the debug dump folder, quick evaluations")
    size: int = opt(3000, "number of examples loaded per split in debug mode", min=1)


@dataclass
class RunConfig:
    """Fields every run has: where it writes, what it is called, its seed."""

    dump_path: str = opt("./dumped", "root folder of experiment folders")
    exp_name: str = opt("default", "experiment name (a folder under dump_path)")
    exp_id: str = opt("", "run id (a folder under exp_name); generated when empty")
    seed: int = opt(0, "random seed (-1: random)", min=-1)
    debug: DebugConfig = section(DebugConfig, "debug mode")
    # an option only so that `--config <run>/params.json` still loads a params.json that records it
    command: str = opt("", "the command that wrote the run folder: filled in by the command itself (a value "
                           "given is replaced) and recorded in params.json")


def new_exp_id() -> str:
    # SLURM jobs keep their job id so that requeued jobs find (and resume) their folder
    if os.environ.get("SLURM_JOB_ID"):
        return os.environ["SLURM_JOB_ID"]
    rng = random.SystemRandom()
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _check_folder_name(option: str, value: str) -> None:
    # a name with a separator or `..` (or an absolute one, which replaces the root when joined) would put
    # the run folder outside --dump_path
    seps = {"/", os.sep, *([os.altsep] if os.altsep else [])}
    if value.strip() in ("", ".", "..") or any(s in value for s in seps) or os.path.isabs(value):
        raise ConfigError(f"--{option} {value!r} is not a plain folder name (no '/', no '..', not empty): "
                          f"name a folder under --dump_path, e.g. --{option} run1")


def check_run_names(cfg: RunConfig) -> None:
    """The stricter check of the commands' own options: --exp_name may not be empty either (run folders
    directly under --dump_path would mix with the experiment folders)."""
    _check_folder_name("exp_name", cfg.exp_name)
    if cfg.exp_id:
        _check_folder_name("exp_id", cfg.exp_id)


def dump_dir(cfg: RunConfig) -> Path:
    """Resolve (and fix) the run folder; fills in cfg.exp_id when it was empty. Raises ConfigError for names
    that leave --dump_path (an empty --exp_name is allowed here: the online trainer nests its folder so)."""
    if cfg.exp_name:
        _check_folder_name("exp_name", cfg.exp_name)
    if cfg.exp_id:
        _check_folder_name("exp_id", cfg.exp_id)
    else:
        cfg.exp_id = new_exp_id()
    root = Path(cfg.dump_path).expanduser()
    return root / "debug" / cfg.exp_id if cfg.debug.debug else root / cfg.exp_name / cfg.exp_id


class _Formatter(logging.Formatter):
    """`INFO - MM/DD/YY HH:MM:SS - H:MM:SS - message`, continuation lines indented under the message."""

    def __init__(self) -> None:
        super().__init__()
        self.start = time.time()

    def format(self, record: logging.LogRecord) -> str:
        elapsed = int(record.created - self.start)
        stamp = datetime.fromtimestamp(record.created).strftime("%m/%d/%y %H:%M:%S")
        head = f"{record.levelname} - {stamp} - {elapsed // 3600}:{elapsed % 3600 // 60:02d}:{elapsed % 60:02d}"
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        return f"{head} - " + msg.replace("\n", "\n" + " " * (len(head) + 3))


def create_logger(path: Path | None, name: str = "hyperprover", stderr: bool = True,
                  stderr_level: int = logging.INFO) -> logging.Logger:
    """A logger writing to `path` (appending, so a resumed run keeps its history) and to stderr (messages of
    `stderr_level` and above)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fmt = _Formatter()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(path, mode="a")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setLevel(stderr_level)
        sh.setFormatter(fmt)
        logger.addHandler(sh)
    return logger


class MetricsWriter:
    """One JSON object per evaluation: a `__log__:` line in train.log and TensorBoard scalars."""

    def __init__(self, logger: logging.Logger, tb_dir: Path | None) -> None:
        self.logger = logger
        self.tb_dir = tb_dir
        self._tb: Any = None

    def _writer(self) -> Any:
        if self._tb is None and self.tb_dir is not None:
            from torch.utils.tensorboard import SummaryWriter  # lazy: torch is heavy

            self._tb = SummaryWriter(str(self.tb_dir))
        return self._tb

    def log(self, metrics: dict[str, Any], step: int) -> None:
        clean = {k: _jsonable(v) for k, v in metrics.items()}
        for k, v in clean.items():
            self.logger.info(f"{k} -> {v}")
        self.logger.info(LOG_PREFIX + json.dumps(clean, sort_keys=True))
        self.scalars(clean, step)

    def scalars(self, values: dict[str, Any], step: int, prefix: str = "") -> None:
        tb = self._writer()
        if tb is None:
            return
        for k, v in values.items():
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                tb.add_scalar(prefix + k, v, step)
        tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy / torch scalars
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def parse_log_lines(path: Path) -> list[dict[str, Any]]:
    """The `__log__:` JSON objects of a train.log, in order (a torn line of a killed run is skipped)."""
    out = []
    with open(path) as f:
        for line in f:
            i = line.find(LOG_PREFIX)
            if i >= 0:
                try:
                    out.append(json.loads(line[i + len(LOG_PREFIX):]))
                except json.JSONDecodeError:
                    continue
    return out


@dataclass
class Experiment:
    path: Path
    logger: logging.Logger
    metrics: MetricsWriter
    resumed: bool
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pth"

    def close(self) -> None:
        self.metrics.close()
        for h in list(self.logger.handlers):
            h.flush()


def _defines(key: str, defining: Sequence[str], ignored: Sequence[str]) -> bool:
    def under(prefixes: Sequence[str]) -> bool:
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    return under(defining) and not under(ignored)


def _flag(key: str, value: Any) -> str:
    shown = json.dumps(value) if value is None or isinstance(value, bool) or value == "" else str(value)
    return f"--{key} {'none' if value is None else shown}"


def check_same_run(path: Path, cfg: RunConfig, command: str, defining: Sequence[str] = (),
                   ignored: Sequence[str] = ()) -> None:
    """Refuse (ConfigError) a folder whose params.json was written by another command, or with other values
    of the options under the `defining` prefixes (but not under `ignored`). A folder without params.json
    passes; an option the record lacks (added since) counts as its default."""
    params_file = path / "params.json"
    if not params_file.is_file():
        return
    try:
        recorded = flatten(json.loads(params_file.read_text()))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{params_file} cannot be read ({e}): use another --exp_id (or delete the folder)") from None
    table = field_table(type(cfg))
    # params.json written before it recorded the command: another command's options give it away
    was = recorded.get("command") or ("another command" if set(recorded) - set(table) else command)
    if was != command:
        shown = was if was == "another command" else f"hyperprover {was}"
        raise ConfigError(f"{path} was written by {shown}, not hyperprover {command}: "
                          "use another --exp_id (or delete the folder)")
    now = flatten(to_dict(cfg))
    keys = [k for k in table if _defines(k, defining, ignored)]
    # through JSON, as the record went, so that e.g. a float reads back equal
    differ = [k for k in keys if not _same_value(k, recorded.get(k, table[k].default), json.loads(json.dumps(now[k])))]
    if differ:
        raise options_differ(path, {k: recorded.get(k, table[k].default) for k in differ}, {k: now[k] for k in differ})


PATH_OPTIONS = ("reload_model", "theorems_file")  # the same file whether written relative or absolute


def _same_value(key: str, old: Any, new: Any) -> bool:
    if key.rsplit(".", 1)[-1] in PATH_OPTIONS and isinstance(old, str) and isinstance(new, str) and old and new:
        return os.path.realpath(old) == os.path.realpath(new)
    return bool(old == new)


def absolute_paths(cfg: Any) -> None:
    """Ray actors do not run in the driver's working folder (on other nodes, nor always on this one): give
    them the run folder and the checkpoint as absolute paths."""
    cfg.dump_path = os.path.abspath(cfg.dump_path)
    if getattr(cfg, "reload_model", ""):
        cfg.reload_model = os.path.abspath(cfg.reload_model)


def options_differ(path: Path, old: dict[str, Any], new: dict[str, Any]) -> ConfigError:
    """The error of a resume whose options `new` (dotted key -> value) differ from those the folder recorded."""
    was = ", ".join(_flag(k, v) for k, v in old.items())
    now = ", ".join(_flag(k, v) for k, v in new.items())
    return ConfigError(f"{path} was run with {was}; this run has {now}: use another --exp_id (or delete the folder)")


def setup_experiment(cfg: RunConfig, command: str, log_name: str = "train.log",
                     argv: Sequence[str] | None = None, defining: Sequence[str] = (),
                     ignored: Sequence[str] = ()) -> Experiment:
    """Create (or find again) the run folder, write params.json, start the logger and metrics writer.
    `argv`: the command's options as given (the process's own when None), logged to reproduce the run.
    `defining` / `ignored`: option prefixes whose values must match those of the folder's params.json
    (check_same_run); raises ConfigError, before writing anything, when they do not."""
    path = dump_dir(cfg)
    cfg.command = command
    check_same_run(path, cfg, command, defining, ignored)
    resumed = (path / "checkpoint.pth").is_file()
    path.mkdir(parents=True, exist_ok=True)
    save_params(cfg, path / "params.json")
    logger = create_logger(path / log_name)
    if cfg.seed == -1:
        cfg.seed = random.SystemRandom().randrange(2**31)
    logger.info(f"hyperprover {command} in {path}" + (" (resuming from checkpoint.pth)" if resumed else ""))
    logger.info("command: hyperprover " + " ".join([command, *(sys.argv[2:] if argv is None else argv)]))
    return Experiment(path, logger, MetricsWriter(logger, path / "tensorboard"), resumed)

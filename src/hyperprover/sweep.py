"""`hyperprover sweep FILE.json`: expand a grid of options into jobs and run them.

A sweep file maps option names (without `--`) to lists of values; the jobs are the Cartesian product.
`SUBSWEEP_<NAME>` blocks hold named alternatives, each itself a grid merged into the rest; several blocks
multiply; an empty block is neutral; an alternative with an empty list contributes no job. The key
`"command"` names the subcommand every job runs, e.g. `["train"]`. `--set '{"max_time_min": 40}'` gives an
option one value in every job (a shorter run of a recipe without a copy of its file).
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperprover.config import ConfigError, field_table, help_text, load_config, opt, read_text_file, section

# where each command declares its options ("module:ConfigClass", "module:PRESETS" or None), so that every
# job of a sweep is checked before any runs; commands absent here (plot, compare, data, check) are not
SCHEMAS: dict[str, tuple[str, str | None]] = {
    "train": ("hyperprover.train.config:TrainConfig", "hyperprover.train.config:PRESETS"),
    "online": ("hyperprover.online.config:OnlineConfig", "hyperprover.provers.options:PRESETS"),
    "eval": ("hyperprover.evaluation.main:EvalConfig", "hyperprover.provers.options:PRESETS"),
    "prove": ("hyperprover.evaluation.prove:ProveConfig", "hyperprover.provers.options:PRESETS"),
    "demo": ("hyperprover.demo:DemoConfig", None),
}


@dataclass
class SlurmConfig:
    partition: str = opt("", "SLURM partition (empty: the cluster default)")
    gpus_per_node: int = opt(1, "GPUs per node of a job", min=0)
    nodes: int = opt(1, "nodes per job (several: data-parallel train jobs only)", min=1)
    tasks_per_node: int = opt(1, "processes per node, each given SLURM's rank variables; train jobs run data-"
                                 "parallel over them (set it to gpus_per_node: one process per GPU)", min=1)
    cpus_per_task: int = opt(10, "CPU cores per process", min=1)
    mem_gb: int = opt(0, "memory per job in GB (0: the cluster default)", min=0)
    timeout_min: int = opt(4320, "wall-clock limit per job in minutes", min=1)
    constraint: str = opt("", "SLURM --constraint (e.g. a GPU type)")


@dataclass
class SweepConfig:
    dry_run: bool = opt(False, "print the jobs (one line each, then `N jobs`) and run nothing")
    launcher: str = opt("local", "local: one job after another here; slurm: submitit to SLURM; "
                        "submitit_local: submitit's local executor", choices=("local", "slurm", "submitit_local"))
    dump_path: str = opt("./dumped", "root folder of the jobs' experiment folders")
    exp_name: str = opt("", "experiment name of every job (default: the sweep file's name)")
    max_jobs: int = opt(0, "run at most this many jobs (0: all)", min=0)
    jobs: str = opt("", "run only these jobs, by number in the --dry_run listing (e.g. 2 or 1,3; empty: all)")
    set: str = opt("", "a JSON object of options given one value in every job, replacing the file's: "
                       "'{\"max_time_min\": 40}' (a job without a fixed exp_id gets another folder)")
    parallel: int = opt(1, "launcher local: run this many jobs at once (2: an online run beside its no-trainer "
                           "control, so that both provers get the same share of the machine)", min=1)
    slurm: SlurmConfig = section(SlurmConfig, "SLURM options (launcher slurm)")


@dataclass(frozen=True)
class Job:
    command: str
    overrides: tuple[tuple[str, Any], ...]

    @property
    def job_id(self) -> str:
        """Stable per set of overrides, so re-running a sweep finds (and resumes) each job's folder."""
        blob = json.dumps([self.command, list(self.overrides)], sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]

    def argv(self) -> list[str]:
        out: list[str] = []
        for key, value in self.overrides:
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list | dict):
                text = json.dumps(value)
            else:
                text = str(value)
            out += [f"--{key}", text]
        return out


def expand_grid(spec: Mapping[str, Any], where: str = "sweep") -> list[dict[str, Any]]:
    """All combinations of a grid (with SUBSWEEP blocks) as dicts of option -> value."""
    plain: list[tuple[str, list[Any]]] = []
    blocks: list[list[dict[str, Any]]] = []
    for key, value in spec.items():
        if key.startswith("SUBSWEEP"):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: {key} must map alternative names to grids")
            if not value:
                continue  # an empty block is neutral (the original turned it into zero jobs)
            alternatives: list[dict[str, Any]] = []
            for name, grid in value.items():
                if not isinstance(grid, Mapping):
                    raise ConfigError(f"{where}: {key}.{name} must be a mapping of option -> list")
                alternatives.extend(expand_grid(grid, f"{where}: {key}.{name}"))
            blocks.append(alternatives)
        elif not isinstance(value, list):
            raise ConfigError(f"{where}: the value of {key!r} must be a list of values, got {value!r}")
        else:
            plain.append((key, value))
    jobs = []
    keys = [k for k, _ in plain]
    for values in itertools.product(*(v for _, v in plain)):
        base = dict(zip(keys, values))
        for combo in itertools.product(*blocks):
            merged = dict(base)
            for part in combo:
                merged.update(part)
            jobs.append(merged)
    return jobs


def load_sweep(path: str | Path) -> list[Job]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep file {path} does not exist")
    text = read_text_file(p, "sweep file")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"sweep file {path} is not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep file {path} must hold a JSON object")
    command = spec.pop("command", None)
    if not (isinstance(command, list) and len(command) == 1 and isinstance(command[0], str)):
        raise ConfigError(f"sweep file {path} needs \"command\": [\"train\"] (or another subcommand)")
    from hyperprover.cli import COMMANDS

    if command[0] not in COMMANDS or command[0] == "sweep":
        raise ConfigError(f"sweep file {path}: unknown command {command[0]!r}")
    return [Job(command[0], tuple(combo.items())) for combo in expand_grid(spec, str(path))]


def set_values(jobs: Sequence[Job], text: str) -> list[Job]:
    """Every job with the options of the JSON object `text` (--set) replacing or adding to its own."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"--set {text}: not valid JSON ({e.msg}); write an object, e.g. "
                          "'{\"max_time_min\": 40}'") from None
    if not isinstance(values, dict) or "command" in values:
        raise ConfigError(f"--set {text}: write a JSON object of options (not \"command\"), e.g. "
                          "'{\"max_time_min\": 40}'")
    return [Job(job.command, tuple({**dict(job.overrides), **values}.items())) for job in jobs]


def _load(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def command_schema(command: str) -> tuple[type, Mapping[str, Any]] | None:
    """The config class and presets `command` loads its options with (None: not known here)."""
    if command not in SCHEMAS:
        return None
    schema, presets = SCHEMAS[command]
    return _load(schema), (_load(presets) if presets else {})


def job_argv(job: Job, cfg: SweepConfig, sweep_name: str, known: Collection[str] | None = None) -> list[str]:
    """The job's command line; where each job's run folder goes is added for commands that have one
    (`known`: the command's option keys, None when unknown)."""
    given = {k for k, _ in job.overrides}
    extra: list[str] = []
    for key, value in (("dump_path", cfg.dump_path), ("exp_name", cfg.exp_name or sweep_name),
                       ("exp_id", job.job_id)):
        if key not in given and (known is None or key in known):
            extra += [f"--{key}", value]
    return [job.command, *job.argv(), *extra]


def check_jobs(path: str, jobs: Sequence[Job], argvs: Sequence[Sequence[str]]) -> None:
    """Load every job's options as its command will, so that a typo fails the sweep before any job runs."""
    for i, (job, argv) in enumerate(zip(jobs, argvs), 1):
        schema = command_schema(job.command)
        if schema is None:
            continue
        try:
            load_config(schema[0], argv[1:], schema[1])
        except ConfigError as e:
            raise ConfigError(f"sweep file {path}, job {i} of {len(jobs)} (id {job.job_id}): {e}") from None


def run_job(argv: Sequence[str]) -> int:
    """Run one job in a fresh Python process (what the local and submitit launchers execute)."""
    return subprocess.call([sys.executable, "-m", "hyperprover.cli", *argv])


def launch_local(argvs: list[list[str]], parallel: int = 1) -> int:
    def one(i: int) -> int:
        print(f"[{i + 1}/{len(argvs)}] hyperprover {' '.join(argvs[i])}", flush=True)
        start = time.time()
        code = run_job(argvs[i])
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"[{i + 1}/{len(argvs)}] {status} in {time.time() - start:.1f}s", flush=True)
        return code

    with ThreadPoolExecutor(max_workers=parallel) as pool:  # threads only wait on the jobs' processes
        codes = list(pool.map(one, range(len(argvs))))
    failed = [i + 1 for i, code in enumerate(codes) if code != 0]
    print(f"{len(argvs) - len(failed)}/{len(argvs)} jobs succeeded" +
          (f"; failed: {', '.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


def make_executor(cfg: SweepConfig, folder: Path) -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("--launcher slurm needs submitit: pip install 'hyperprover[slurm]'") from None
    if cfg.launcher == "submitit_local":
        executor: Any = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=cfg.slurm.timeout_min)
        return executor
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(**slurm_parameters(cfg.slurm))
    return executor


def slurm_parameters(slurm: SlurmConfig) -> dict[str, Any]:
    """submitit's AutoExecutor parameters of a SLURM job."""
    params: dict[str, Any] = {"timeout_min": slurm.timeout_min, "gpus_per_node": slurm.gpus_per_node,
                              "cpus_per_task": slurm.cpus_per_task, "nodes": slurm.nodes,
                              "tasks_per_node": slurm.tasks_per_node}
    if slurm.partition:
        params["slurm_partition"] = slurm.partition
    if slurm.mem_gb:
        params["mem_gb"] = slurm.mem_gb
    if slurm.constraint:
        params["slurm_constraint"] = slurm.constraint
    return params


def launch_submitit(argvs: list[list[str]], cfg: SweepConfig, folder: Path, wait: bool) -> int:
    executor = make_executor(cfg, folder)
    jobs = [executor.submit(run_job, argv) for argv in argvs]
    for argv, job in zip(argvs, jobs):
        print(f"submitted {job.job_id}: hyperprover {' '.join(argv)}")
    print(f"{len(jobs)} jobs submitted; submitit logs in {folder}")
    if not wait:
        return 0
    codes = [job.result() for job in jobs]
    failed = [i + 1 for i, c in enumerate(codes) if c != 0]
    print(f"{len(codes) - len(failed)}/{len(codes)} jobs succeeded" +
          (f"; failed: {', '.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


def check_processes(cfg: SweepConfig, jobs: Sequence[Job]) -> None:
    """Several processes per job are SLURM tasks that `hyperprover train` joins into one data-parallel run;
    any other command (or launcher) would run N copies of the same job into the same folder."""
    if cfg.slurm.nodes * cfg.slurm.tasks_per_node == 1:
        return
    shown = f"--slurm.nodes {cfg.slurm.nodes} --slurm.tasks_per_node {cfg.slurm.tasks_per_node}"
    if cfg.launcher != "slurm":
        raise ConfigError(f"{shown}: several processes per job need --launcher slurm")
    other = sorted({job.command for job in jobs} - {"train"})
    if other:
        raise ConfigError(f"{shown}: only train jobs run data-parallel, not {', '.join(other)}; use one task per job")
    if 0 < cfg.slurm.gpus_per_node < cfg.slurm.tasks_per_node:
        raise ConfigError(f"{shown} with --slurm.gpus_per_node {cfg.slurm.gpus_per_node}: one GPU per task, so ask "
                          f"for --slurm.gpus_per_node {cfg.slurm.tasks_per_node} (or 0 to train on CPUs)")


def pick_jobs(text: str, n: int) -> list[int]:
    """ "1,3" -> [0, 2]: 1-based job numbers of the --dry_run listing, checked against the n jobs."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit() or not 1 <= int(part) <= n:
            raise ConfigError(f"--jobs {text}: {part!r} is not a job number between 1 and {n} (see --dry_run true)")
        out.append(int(part) - 1)
    return out


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(help_text(SweepConfig, "sweep FILE.json", __doc__ or ""))
        return 0 if args else 2
    path, rest = args[0], args[1:]
    cfg = load_config(SweepConfig, rest)
    jobs = load_sweep(path)
    if cfg.set:
        jobs = set_values(jobs, cfg.set)
    name = Path(path).stem
    schema = command_schema(jobs[0].command) if jobs else None
    known = field_table(schema[0]) if schema else None
    argvs = [job_argv(job, cfg, name, known) for job in jobs]
    check_jobs(path, jobs, argvs)  # all of them, --max_jobs or not: the file is wrong either way
    check_processes(cfg, jobs)
    if cfg.jobs:
        picked = pick_jobs(cfg.jobs, len(jobs))
        jobs, argvs = [jobs[i] for i in picked], [argvs[i] for i in picked]
    if cfg.max_jobs:
        jobs, argvs = jobs[: cfg.max_jobs], argvs[: cfg.max_jobs]
    if cfg.dry_run:
        for argv in argvs:
            print("hyperprover " + " ".join(argv))
        print(f"{len(argvs)} jobs")
        return 0
    if cfg.launcher == "local":
        return launch_local(argvs, cfg.parallel)
    folder = Path(cfg.dump_path) / "sweeps" / name / "submitit"
    return launch_submitit(argvs, cfg, folder, wait=cfg.launcher == "submitit_local")

"""Data-parallel training: one process per GPU (or per CPU share), gradients averaged by DistributedDataParallel.

    torchrun --nproc_per_node 8 -m hyperprover.cli train ...          (one node)
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d --rdzv_id RUN --rdzv_endpoint HOST:PORT \
        -m hyperprover.cli train ...                                   (on every node)
    hyperprover sweep FILE.json --launcher slurm --slurm.tasks_per_node 8   (SLURM tasks, through submitit)

The launcher is found from the environment: torchrun's RANK / WORLD_SIZE / LOCAL_RANK, else a SLURM job step
(`srun`, not the batch script) of several tasks (SLURM_PROCID / SLURM_NTASKS), whose variables submitit
turns into torchrun's. Without either, or with a world of one process, training runs as it always did,
without any process group.

Who does what: every rank trains on its own data stream (the data seeds are offset by the rank); rank 0
alone builds the dictionary (then shared), writes the run folder (params.json, train.log, TensorBoard,
checkpoints) and evaluates, and every decision that ends a loop (epoch end, time limit, stopping criterion,
skipped updates) is either computed from all-reduced numbers or taken by rank 0 and broadcast, so that no
rank waits forever in a collective the others have left.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as tdist

from hyperprover.config import ConfigError
from hyperprover.experiment import (
    Experiment,
    MetricsWriter,
    RunConfig,
    create_logger,
    dump_dir,
    setup_experiment,
)

T = TypeVar("T")
# rank 0 evaluates (greedy proving included) and builds the dictionary while the others wait in a collective:
# torch's default (10 minutes for NCCL) would kill runs whose evaluations are long
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=2)
LAUNCH_HINT = ("launch data-parallel training with `torchrun --nproc_per_node N -m hyperprover.cli train ...` "
               "(srun torchrun on SLURM), or install submitit (pip install 'hyperprover[slurm]') to run one "
               "SLURM task per process")


@dataclass(frozen=True)
class Dist:
    """This process's place in the process group (rank 0 of 1 when training runs alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def _int_var(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"environment variable {name}={env[name]!r} is not an integer") from None


def _int_var_or(env: Mapping[str, str], name: str, default: int) -> int:
    return _int_var(env, name) if name in env else default


def _in_job_step(env: Mapping[str, str]) -> bool:
    """A task of an `srun` step, not the batch script itself: the batch script of a several-task job sees
    SLURM_NTASKS > 1 and SLURM_PROCID 0 too, and would wait forever for peers nobody starts."""
    return env.get("SLURM_STEP_ID", "batch") not in ("batch", "extern", "4294967294", "4294967295")


def launch_env(env: Mapping[str, str] | None = None) -> Dist:
    """The rank and world size given by the launcher (torchrun first, then a multi-task SLURM step)."""
    env = os.environ if env is None else env
    if "RANK" not in env and "WORLD_SIZE" not in env and _int_var_or(env, "SLURM_NTASKS", 1) > 1 \
            and "SLURM_PROCID" in env and _in_job_step(env):
        _export_slurm_env(env["SLURM_NTASKS"])
        env = os.environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return SINGLE
    rank, world = _int_var(env, "RANK"), _int_var(env, "WORLD_SIZE")
    local = _int_var(env, "LOCAL_RANK") if "LOCAL_RANK" in env else rank
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} with WORLD_SIZE={world}: the rank must be in [0, WORLD_SIZE); {LAUNCH_HINT}")
    return Dist(rank, world, local)


def _export_slurm_env(n_tasks: str) -> None:
    """Set MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE/LOCAL_RANK from the SLURM job, as torchrun would."""
    try:
        from submitit.helpers import TorchDistributedEnvironment  # optional: only SLURM runs need it
    except ImportError:
        raise ConfigError(f"this SLURM step has {n_tasks} tasks but submitit is not installed; {LAUNCH_HINT}") from None
    # submitit reads the SLURM variables once told it runs under SLURM, as its own sbatch scripts say: a
    # plain `srun hyperprover train` does not
    os.environ.setdefault("SUBMITIT_EXECUTOR", "slurm")
    # every task of the node sees its GPUs: the device is picked by local rank (pick_device), not by hiding
    # the others, which SLURM may already have done (--gpus-per-task)
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)


def pick_device(name: str, dist: Dist = SINGLE) -> torch.device:
    """`--device` resolved for this process: with several ranks, GPU `local_rank` of those visible."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no GPU is visible; use --device cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cuda" or not dist.enabled:
        return torch.device(name)
    # one visible GPU per task (SLURM binding) or all of the node's (torchrun): local_rank indexes the latter
    device = torch.device("cuda", dist.local_rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


def init_distributed(device_name: str) -> tuple[Dist, torch.device]:
    """Join the process group when launched as one of several processes; NCCL on GPUs, gloo on CPU."""
    dist = launch_env()
    device = pick_device(device_name, dist)
    if dist.enabled and not tdist.is_initialized():
        for var in ("MASTER_ADDR", "MASTER_PORT"):
            if var not in os.environ:
                raise ConfigError(f"WORLD_SIZE={dist.world_size} but {var} is not set; {LAUNCH_HINT}")
        backend = "nccl" if device.type == "cuda" else "gloo"
        tdist.init_process_group(backend, rank=dist.rank, world_size=dist.world_size, timeout=COLLECTIVE_TIMEOUT)
    return dist, device


def shutdown(dist: Dist) -> None:
    if dist.enabled and tdist.is_initialized():
        tdist.destroy_process_group()


# ------------------------------------------------------------------------------------------------ collectives


def broadcast(obj: T, dist: Dist) -> T:
    """Rank 0's `obj` on every rank (any picklable value)."""
    if not dist.enabled:
        return obj
    box: list[Any] = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[no-any-return]


def gather(obj: T, dist: Dist) -> list[T]:
    """Every rank's `obj`, by rank, on every rank."""
    if not dist.enabled:
        return [obj]
    out: list[Any] = [None] * dist.world_size
    tdist.all_gather_object(out, obj)
    return out


def all_sum(values: Sequence[float], dist: Dist, device: torch.device) -> list[float]:
    """Element-wise sums over the ranks (float64, so that counts stay exact)."""
    if not dist.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    tdist.all_reduce(t)
    return t.tolist()  # type: ignore[no-any-return]


def all_true(flag: bool, dist: Dist, device: torch.device) -> bool:
    """True on every rank when `flag` is True on every rank: one decision all ranks take together."""
    return all_sum([float(flag)], dist, device)[0] == dist.world_size


def main_first(fn: Callable[[], T], dist: Dist, what: str) -> T:
    """fn() on rank 0, then on the other ranks: what rank 0 writes on disk (a generated corpus, a parse cache)
    the others then only read, never half-written. When it fails on rank 0, the others raise ConfigError."""
    if not dist.enabled:
        return fn()
    if dist.is_main:
        try:
            out = fn()
        except BaseException:
            broadcast(False, dist)
            raise
        broadcast(True, dist)
        return out
    if not broadcast(None, dist):
        raise ConfigError(f"rank 0 failed to set up {what} (its error is above)")
    return fn()


# ------------------------------------------------------------------------------------------------ run folder


def setup_ranked_experiment(cfg: RunConfig, command: str, dist: Dist, argv: Sequence[str] | None = None,
                            defining: Sequence[str] = ()) -> Experiment:
    """setup_experiment on rank 0, which alone writes the run folder; the other ranks take its run id, seed
    and resume decision, and a logger that shows warnings on stderr only. When rank 0 fails (a refused
    resume, an unwritable folder), the others raise ConfigError instead of waiting for it."""
    if not dist.enabled:
        return setup_experiment(cfg, command, argv=argv, defining=defining)
    if dist.is_main:
        try:
            exp = setup_experiment(cfg, command, argv=argv, defining=defining)
        except Exception as e:
            broadcast(("", 0, False, str(e) or type(e).__name__), dist)
            raise
        broadcast((cfg.exp_id, cfg.seed, exp.resumed, ""), dist)
        return exp
    exp_id, seed, resumed, error = broadcast(("", 0, False, ""), dist)
    if error:
        raise ConfigError(f"rank 0 could not set up the run folder: {error}")
    # a generated run id differs per process (a SLURM job id does not): rank 0's names the folder of all
    cfg.exp_id, cfg.seed, cfg.command = exp_id, seed, command
    logger = create_logger(None, name=f"hyperprover.rank{dist.rank}", stderr_level=logging.WARNING)
    return Experiment(dump_dir(cfg), logger, MetricsWriter(logger, None), resumed)

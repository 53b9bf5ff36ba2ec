"""What `prove` and `eval` share: the options of a model-driven prover and how to build one."""

from __future__ import annotations

import dataclasses
import functools
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyperprover.config import ConfigError, opt, section
from hyperprover.envs.base import BackwardEnv, make_env
from hyperprover.envs.systems import with_system_sections
from hyperprover.search.config import PROVERS, SEARCH_PRESETS, ProverConfig, SearchConfig
from hyperprover.search.expander import DecodingConfig, Expander, enumerable
from hyperprover.search.prover import BatchTrace, Prover

# whole-config presets (--cfg): the search presets of the spec, applied to the `search` section
PRESETS: dict[str, dict[str, Any]] = {name: {"search": dict(p)} for name, p in SEARCH_PRESETS.items()}
EXPANDERS = ("model", "uniform")


@dataclass
class ProvingOptionsBase:
    """Mixed into the prove, eval and online configs (as ProvingOptions, with the systems' sections)."""

    env: str = opt("eq", "formal system: eq, mm, coq, sr, or another of envs/systems.py")
    expander: str = opt("model", "what proposes tactics: model (the transformer of --reload_model) or uniform "
                                 "(no model: every complete applicable tactic, uniform priors, critic 0.5; the "
                                 "floor a learned prover is compared with)", choices=EXPANDERS)
    reload_model: str = opt("", "checkpoint (.pth) of the model that proposes tactics")
    device: str = opt("auto", "cpu, cuda, cuda:N, or auto (cuda when available)")
    prover: str = opt("htps", "search: htps, bfs (best-first by cumulative log-prob) or greedy", choices=tuple(PROVERS))
    n_simultaneous_proofs: int = opt(8, "searches kept alive at once; their goals share one model call", min=1)
    env_workers: int = opt(0, "processes applying tactics (0: in this process)", min=0)
    search: SearchConfig = section(SearchConfig, "search parameters")
    decoding: DecodingConfig = section(DecodingConfig, "tactic decoding")

    def record_params(self) -> dict[str, Any]:
        """The settings each attempt's record carries, and what the env's section adds (`record_params`: on Coq,
        what coqc needs to re-check a proof, `hyperprover check --env coq`)."""
        out: dict[str, Any] = {"prover": self.prover, "expander": self.expander,
                               "search": dataclasses.asdict(self.search), "decoding": dataclasses.asdict(self.decoding)}
        add = getattr(getattr(self, self.env, None), "record_params", None)
        if add is not None:  # e.g. where a Coq lemma's file is, which coqc needs
            out.update(add())
        return out

    def prover_config(self) -> ProverConfig:
        return ProverConfig(self.prover, self.n_simultaneous_proofs, self.env_workers)

    def env_factory(self) -> Callable[[], BackwardEnv]:
        """Makes the env of `--env` with its section's options (a picklable callable: env workers and Ray
        provers build their own)."""
        options = getattr(self, self.env, None)  # eq has no section here: its splits take no options
        kwargs: dict[str, Any] = {}
        if dataclasses.is_dataclass(options) and not isinstance(options, type):
            kwargs = dataclasses.asdict(options)
        return functools.partial(make_env, self.env, **kwargs)


if TYPE_CHECKING:  # the sections are known at run time only
    ProvingOptions = ProvingOptionsBase
else:
    ProvingOptions = with_system_sections(ProvingOptionsBase, provers=True)


@dataclass
class RayConfig:
    """The `ray` section of `eval --n_provers N` and `online`."""

    address: str = opt("", "Ray cluster address ('auto' for a running cluster, or HOST:PORT of its head; empty: "
                           "a local Ray instance of this process)")
    num_cpus: int = opt(0, "logical CPUs of the local Ray instance (0: n_provers + what the controller needs)",
                        min=0)
    log_to_driver: bool = opt(False, "echo actor stdout/stderr in this terminal (actors log to files anyway)")
    prover_resources: str = opt("", "custom Ray resources each prover needs, as JSON (e.g. '{\"provers\": 1}': "
                                    "provers go only to nodes started with `ray start --resources '{\"provers\": N}'`)")

    def check(self) -> None:
        """One-line errors before anything starts: the resources parse and HOST:PORT answers (given an
        address where nothing listens, ray.init retries forever)."""
        self.prover_resource_dict()
        host, sep, port = self.address.removeprefix("ray://").rpartition(":")
        if not sep or not port.isdigit():
            return  # "auto": Ray finds the cluster itself and fails fast when there is none
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as e:
            raise ConfigError(f"--ray.address {self.address}: nothing answers there ({e.strerror or e}); start "
                              f"the cluster first (`ray start --head --port {port}` on {host}) or fix the "
                              "address") from None

    def prover_resource_dict(self) -> dict[str, float]:
        if not self.prover_resources:
            return {}
        try:
            value = json.loads(self.prover_resources)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and v > 0 for k, v in value.items()):
            raise ConfigError(f"--ray.prover_resources {self.prover_resources!r}: expected a JSON object of "
                              "positive amounts, e.g. '{\"provers\": 1}'")
        if {"CPU", "GPU"} & set(value):
            raise ConfigError("--ray.prover_resources: CPU and GPU are not custom resources (each prover takes one "
                              "CPU; GPUs come from --prover_gpus)")
        return {k: float(v) for k, v in value.items()}


def open_env(cfg: ProvingOptions) -> BackwardEnv:
    try:
        return cfg.env_factory()()
    except NotImplementedError as e:
        raise ConfigError(str(e)) from None
    except ValueError as e:
        raise ConfigError(f"--env: {e}") from None
    except Exception as e:  # noqa: BLE001 - a database or library the options name is missing or unreadable
        hint = f" (see the --{cfg.env}.* options)" if hasattr(cfg, cfg.env) else ""
        raise ConfigError(f"--env {cfg.env}: {e}{hint}") from None


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no GPU is visible; use --device cpu")
    return name


def build_expander(cfg: ProvingOptions, env: BackwardEnv, seed: int, checkpoint: str | None = None) -> Expander:
    """The uniform floor, or `checkpoint` (default: --reload_model) loaded into a transformer expander."""
    if cfg.expander == "uniform":
        from hyperprover.search.uniform import UniformExpander

        try:
            return UniformExpander(env, seed)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    checkpoint = checkpoint or cfg.reload_model
    if not checkpoint:
        raise ConfigError("--reload_model is required: the checkpoint of a trained model "
                          "(or --expander uniform for the model-free floor)")
    from hyperprover.model.checkpoint import CheckpointError
    from hyperprover.model.expander import load_expander

    try:
        return load_expander(checkpoint, env, resolve_device(cfg.device), seed=seed)
    except CheckpointError as e:
        raise ConfigError(str(e)) from None


def check_expander(cfg: ProvingOptions, env: BackwardEnv) -> None:
    """What `build_expander` needs, checked without building it (no model is loaded onto a device): for the
    runs whose expanders live elsewhere (Ray provers), so that bad input fails before anything starts."""
    if cfg.expander == "uniform":
        try:
            enumerable(env, "--expander uniform")
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return
    if not cfg.reload_model:
        raise ConfigError("--reload_model is required: the checkpoint of a trained model "
                          "(or --expander uniform for the model-free floor)")
    from hyperprover.model.checkpoint import CheckpointError, load_checkpoint

    try:
        load_checkpoint(cfg.reload_model)
    except CheckpointError as e:
        raise ConfigError(f"--reload_model: {e}") from None


def build_prover(cfg: ProvingOptions, env: BackwardEnv,
                 on_batch: Callable[[BatchTrace], None] | None = None) -> Prover:
    """The expander of `cfg` with a Prover around it."""
    expander = build_expander(cfg, env, cfg.search.seed)
    try:
        return Prover(env, expander, cfg.search, cfg.decoding, cfg.prover_config(),
                      env_factory=cfg.env_factory(), on_batch=on_batch)
    except ValueError as e:
        raise ConfigError(str(e)) from None

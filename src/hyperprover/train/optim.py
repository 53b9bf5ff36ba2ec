"""Optimizer strings (`adam_inverse_sqrt,warmup_updates=4000,lr=0.0001,weight_decay=0.01`) and lr schedules.

The adam family is torch's AdamW (decoupled weight decay) with a schedule computed here: lr(n) is the
learning rate of update n+1 after n updates. Other methods are torch optimizers with a constant lr.
Every parsing error names the bad field.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from hyperprover.config import ConfigError

_ADAM_KEYS = {"lr": 1e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
_WARMUP_KEYS = {"warmup_updates": 4000.0, "warmup_init_lr": 1e-7}
ADAM_METHODS: dict[str, dict[str, float]] = {
    "adam": dict(_ADAM_KEYS),
    "adam_warmup": {**_ADAM_KEYS, **_WARMUP_KEYS},
    "adam_inverse_sqrt": {**_ADAM_KEYS, **_WARMUP_KEYS, "exp_factor": 0.5},
    "adam_cosine": {**_ADAM_KEYS, **_WARMUP_KEYS, "min_lr": 1e-9, "init_period": 1e6, "period_mult": 1.0,
                    "lr_shrink": 0.75},
}
TORCH_METHODS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta,
    "adamax": torch.optim.Adamax, "asgd": torch.optim.ASGD, "rmsprop": torch.optim.RMSprop,
    "rprop": torch.optim.Rprop,
}


class OptimizerConfigError(ConfigError):
    """A malformed --optimizer string."""


@dataclass(frozen=True)
class OptimizerSpec:
    method: str
    params: dict[str, float]  # every key of the method, defaults filled in


def _torch_keys(cls: type[torch.optim.Optimizer]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "params") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        d = p.default
        if isinstance(d, bool) or d is None or isinstance(d, int | float):
            out[name] = None if d is None or d is inspect.Parameter.empty else float(d)
    return out


def parse_optimizer(s: str) -> OptimizerSpec:
    parts = [p.strip() for p in s.split(",")]
    method, fields = parts[0], parts[1:]
    known = sorted([*ADAM_METHODS, *TORCH_METHODS])
    if method not in known:
        raise OptimizerConfigError(f"--optimizer: unknown method {method!r}; choose one of {', '.join(known)}")
    defaults: dict[str, float | None] = (dict(ADAM_METHODS[method]) if method in ADAM_METHODS  # type: ignore[arg-type]
                                         else _torch_keys(TORCH_METHODS[method]))
    given: dict[str, float] = {}
    for f in fields:
        if "=" not in f:
            raise OptimizerConfigError(f"--optimizer: field {f!r} is not key=value (e.g. lr=0.0001)")
        k, v = (x.strip() for x in f.split("=", 1))
        if k not in defaults:
            raise OptimizerConfigError(f"--optimizer: unknown key {k!r} for {method}; valid keys: "
                                       f"{', '.join(sorted(defaults))}")
        if k in given:
            raise OptimizerConfigError(f"--optimizer: key {k!r} is given twice")
        try:
            given[k] = float(v)
        except ValueError:
            raise OptimizerConfigError(f"--optimizer: {k}={v!r} is not a number") from None
        if not math.isfinite(given[k]) or (given[k] < 0 and k != "momentum"):
            raise OptimizerConfigError(f"--optimizer: {k}={v} must be a finite non-negative number")
    if method == "sgd" and "lr" not in given:
        raise OptimizerConfigError("--optimizer: sgd needs lr=...")
    params = {k: v for k, v in {**defaults, **given}.items() if v is not None}
    if method in ADAM_METHODS and params.get("warmup_updates", 1) < 0:
        raise OptimizerConfigError("--optimizer: warmup_updates must be >= 0")
    return OptimizerSpec(method, params)


def lr_schedule(spec: OptimizerSpec) -> Callable[[int], float]:
    """n (updates done) -> lr of the next update."""
    p = spec.params
    lr = p["lr"]
    if spec.method not in ADAM_METHODS or spec.method == "adam":
        return lambda n: lr
    warm, init = int(p["warmup_updates"]), p["warmup_init_lr"]

    def warmup(n: int) -> float:
        return init + (lr - init) * n / warm

    if spec.method == "adam_warmup":
        return lambda n: warmup(n) if n < warm else lr
    if spec.method == "adam_inverse_sqrt":
        e = p["exp_factor"]
        return lambda n: warmup(n) if n < warm else lr * (max(warm, 1) ** e) * (max(n, 1) ** -e)

    min_lr, period, mult, shrink = p["min_lr"], p["init_period"], p["period_mult"], p["lr_shrink"]

    def cosine(n: int) -> float:
        if n < warm:
            return warmup(n)
        t, per, hi, lo = float(n - warm), period, lr, min_lr
        while t >= per:  # restarts: each period longer by `mult`, both bounds shrunk by `shrink`
            t -= per
            per *= mult
            hi, lo = hi * shrink, lo * shrink
        return lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * t / per))

    return cosine


def build_optimizer(params: Iterable[torch.nn.Parameter], spec: OptimizerSpec,
                    ) -> tuple[torch.optim.Optimizer, Callable[[int], float]]:
    params = [q for q in params if q.requires_grad]
    p = spec.params
    opt: torch.optim.Optimizer
    if spec.method in ADAM_METHODS:
        sched = lr_schedule(spec)
        opt = torch.optim.AdamW(params, lr=sched(0), betas=(p["beta1"], p["beta2"]), eps=p["eps"],
                                weight_decay=p["weight_decay"])
        return opt, sched
    cls = TORCH_METHODS[spec.method]
    kwargs: dict[str, float | bool] = dict(p)
    for k, d in inspect.signature(cls.__init__).parameters.items():
        if isinstance(d.default, bool) and k in kwargs:
            kwargs[k] = bool(kwargs[k])
    try:
        opt = cls(params, **kwargs)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise OptimizerConfigError(f"--optimizer: {spec.method}: {e}") from None
    return opt, lr_schedule(spec)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr

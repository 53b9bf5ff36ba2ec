"""Options of the SymbolicRegression environment and its synthetic data (docs/equations.md 7)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hyperprover.config import ConfigError, opt

VARIANTS = ("default", "polynomial")
SR_UNARY = ("neg", "exp", "ln", "pow2", "inv", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "abs")
SR_BINARY = ("add", "sub", "mul", "div")


@dataclass
class SRConfig:
    """Goals, tactics and target generation of the `sr` env. `variant=polynomial` overrides the operator
    lists and sizes with the polynomial variant (neg, pow2 / add, sub, mul; 8-10 operators; docs/equations.md
    section 7)."""

    n_points: int = opt(20, "sample points per target: linspace(x_min, x_max, n_points)", min=1, max=1000)
    x_min: float = opt(-10.0, "smallest sample point")
    x_max: float = opt(10.0, "largest sample point")
    min_defined: float = opt(0.5, "reject a target defined (finite) at fewer than this share of the points",
                             min=0.0, max=1.0)
    max_expr_len: int = opt(256, "tactics may not grow the current expression beyond this many prefix tokens",
                            min=2, max=4096)
    variant: str = opt("default", "target distribution; polynomial overrides the fields below", choices=VARIANTS)
    unary_ops: str = opt("neg,inv,ln,pow2,sqrt,abs,cos,sin,tan", "comma-separated unary operators of targets")
    binary_ops: str = opt("add,sub,mul,div", "comma-separated binary operators of targets")
    min_ops: int = opt(1, "fewest operators in a sampled target (before simplification)", min=1, max=50)
    max_ops: int = opt(10, "most operators in a sampled target (before simplification)", min=1, max=50)
    prob_int_leaf: float = opt(0.2, "probability that a leaf of a target is an integer (else x0)", min=0.0,
                               max=1.0)
    max_int: int = opt(5, "integer leaves are drawn from +-{1..max_int}", min=1, max=1000)
    n_train_theorems: int = opt(2000, "theorems('train') returns this many freshly generated theorems", min=1)
    train_seed: int = opt(0, "seed of theorems('train'); the data streams take their own seeds")

    def __post_init__(self) -> None:
        validate(self)

    def unary(self) -> tuple[str, ...]:
        return ("neg", "pow2") if self.variant == "polynomial" else _ops(self.unary_ops, SR_UNARY, "unary_ops")

    def binary(self) -> tuple[str, ...]:
        return ("add", "sub", "mul") if self.variant == "polynomial" else _ops(self.binary_ops, SR_BINARY,
                                                                               "binary_ops")

    def ops_range(self) -> tuple[int, int]:
        return (8, 10) if self.variant == "polynomial" else (self.min_ops, self.max_ops)

    def key(self) -> tuple[Any, ...]:
        """Hashable identity of the options (caches of generated splits are keyed by it)."""
        return dataclasses.astuple(self)


def _ops(text: str, allowed: tuple[str, ...], key: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ConfigError(f"--sr.{key}: unknown operator(s) {', '.join(bad)}; choose among {', '.join(allowed)}")
    return names


def validate(cfg: SRConfig) -> None:
    """Cross-field checks (OmegaConf builds the dataclass without them, so `load_config` users call this)."""
    if not cfg.x_min < cfg.x_max:
        raise ConfigError(f"--sr.x_min ({cfg.x_min}) must be below --sr.x_max ({cfg.x_max})")
    if cfg.min_ops > cfg.max_ops:
        raise ConfigError(f"--sr.min_ops ({cfg.min_ops}) must not exceed --sr.max_ops ({cfg.max_ops})")
    if not cfg.binary():
        raise ConfigError("--sr.binary_ops: give at least one binary operator")
    cfg.unary()

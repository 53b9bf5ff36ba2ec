"""A small fixed SR benchmark of named target functions, labelled `sr_bench:<name>` (stable across runs).

Classic symbolic-regression test functions (several from the Nguyen suite) restricted to one variable
and to the operators of the 18 SR rules; each is sampled at the configured points, undefined points
dropped. Every entry comes with one reference proof (a backward trajectory from a fixed seed) in
`theorem.meta`, which the tests re-check.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from hyperprover.envs.base import Theorem
from hyperprover.envs.equations.expr import parse_infix
from hyperprover.envs.sr.config import SRConfig
from hyperprover.envs.sr.env import SREnv
from hyperprover.envs.sr.generator import SRProblem, backward_trajectory, forward_steps
from hyperprover.envs.sr.numeric import PointSet

# (name, target in infix notation); names are labels: never rename or reuse one
BENCH: tuple[tuple[str, str], ...] = (
    # polynomials
    ("poly_square_plus_x", "x^2 + x"),
    ("poly_cubic", "x^3 - 2*x"),
    ("nguyen1", "x^3 + x^2 + x"),
    ("nguyen2", "x^4 + x^3 + x^2 + x"),
    ("poly_shifted_square", "(x - 3)^2"),
    ("poly_product", "(x + 1) * (x - 2) * x"),
    # rational functions
    ("rational_bump", "1 / (x^2 + 1)"),
    ("rational_odd", "x / (x^2 + 4)"),
    ("rational_shifted", "(x^2 - 1) / (x + 5)"),
    # exp / log
    ("exp_gaussian", "exp(-(x^2))"),
    ("exp_scaled", "x * exp(x / 5)"),
    ("log_quadratic", "ln(x^2 + 1)"),
    ("log_abs_plus_x", "ln(|x|) + x"),
    ("nguyen7", "ln(x + 1) + ln(x^2 + 1)"),
    ("sqrt_abs_times_x", "sqrt(|x|) * x"),
    # trigonometric compositions
    ("nguyen5", "sin(x^2) * cos(x) - 1"),
    ("nguyen6", "sin(x) + sin(x + x^2)"),
    ("trig_damped", "x * sin(x)"),
    ("trig_double_angle", "cos(2*x) + sin(x)"),
    ("trig_tan_quarter", "tan(x / 4)"),
    ("trig_exp_sin", "exp(sin(x))"),
    ("trig_tanh_cosh", "tanh(x) * cosh(x / 5)"),
)
MAX_SEEDS = 20


def bench_problems(cfg: SRConfig | None = None) -> list[SRProblem]:
    return list(_bench((cfg or SRConfig()).key()))


def bench_theorems(cfg: SRConfig | None = None) -> list[Theorem]:
    return [p.theorem("bench") for p in bench_problems(cfg)]


@functools.lru_cache(maxsize=4)
def _bench(cfg_key: tuple[Any, ...]) -> tuple[SRProblem, ...]:
    from dataclasses import fields

    cfg = SRConfig(**{f.name: v for f, v in zip(fields(SRConfig), cfg_key)})
    env = SREnv(cfg)
    xs = np.linspace(cfg.x_min, cfg.x_max, cfg.n_points).tolist()
    out = []
    for name, text in BENCH:
        target = parse_infix(text)
        points = PointSet.from_target(target, xs)
        for seed in range(MAX_SEEDS):
            undos = backward_trajectory(np.random.default_rng([4, seed]), target, points)
            if undos is not None:
                break
        else:
            raise RuntimeError(f"sr benchmark {name}: no reference proof found")
        out.append(SRProblem(f"sr_bench:{name}", target, points, forward_steps(env, target, points, undos)))
    return tuple(out)

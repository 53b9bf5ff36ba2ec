"""Search parameters drawn afresh for every proof attempt (docs/guide-online.md), and solve rates per bucket.

`--hyperopt_param_str` is a dict literal: a two-number list on a continuous parameter is a range
(uniform, or log-uniform for exploration and n_expansions), any other list is a set of choices.
The draw overrides fields of the `search` and `decoding` config sections of that one attempt.
"""

from __future__ import annotations

import ast
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hyperprover.config import ConfigError
from hyperprover.provers.draws import INT_PARAMS, PARAMS

N_BUCKETS = 10


@dataclass(frozen=True)
class ParamSpace:
    name: str
    kind: str  # uniform | loguniform | choice
    values: tuple[Any, ...]  # (lo, hi) for ranges

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "choice":
            return rng.choice(self.values)
        lo, hi = self.values
        x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if self.kind == "loguniform" else rng.uniform(lo, hi)
        return int(round(x)) if self.name in INT_PARAMS else x

    def bucket(self, value: Any) -> str:
        """The label of the bucket `value` falls in: 10 linear / log buckets for ranges, the value for choices."""
        if self.kind == "choice":
            return str(value)
        lo, hi = self.values
        if self.kind == "loguniform":
            frac = (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            frac = (value - lo) / (hi - lo) if hi > lo else 0.0
        i = min(N_BUCKETS - 1, max(0, int(frac * N_BUCKETS)))
        edge = (lambda f: lo * (hi / lo) ** f) if self.kind == "loguniform" else (lambda f: lo + (hi - lo) * f)
        return f"{edge(i / N_BUCKETS):.3g}-{edge((i + 1) / N_BUCKETS):.3g}"


def parse_param_str(text: str) -> dict[str, ParamSpace]:
    if not text.strip():
        return {}
    try:
        raw = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ConfigError(f"--hyperopt_param_str: not a dict literal: {text!r}") from None
    if not isinstance(raw, dict):
        raise ConfigError("--hyperopt_param_str must be a dict literal such as {'n_samples': [8, 16]}")
    spaces = {}
    for name, values in raw.items():
        if name not in PARAMS:
            raise ConfigError(f"--hyperopt_param_str: unknown parameter {name!r} (one of {', '.join(PARAMS)})")
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(f"--hyperopt_param_str: {name!r} needs a non-empty list")
        kind = PARAMS[name][2]
        if kind != "choice":
            if len(values) != 2 or not all(isinstance(v, int | float) for v in values) or values[0] > values[1]:
                raise ConfigError(f"--hyperopt_param_str: {name!r} needs a range [low, high]")
            if kind == "loguniform" and values[0] <= 0:
                raise ConfigError(f"--hyperopt_param_str: {name!r} is log-uniform and needs low > 0")
        spaces[name] = ParamSpace(name, kind, tuple(values))
    return spaces


class SearchParamsSampler:
    """`fixed`: every attempt uses the configured values; `random`: a fresh uniform draw per attempt."""

    def __init__(self, mode: str, param_str: str, seed: int = 0) -> None:
        if mode not in ("fixed", "random"):
            raise ConfigError(f"--hyperopt {mode!r}: choose fixed or random")
        self.mode = mode
        self.spaces = parse_param_str(param_str) if mode == "random" else {}
        self.rng = random.Random(seed)
        self._counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # key -> [solved, attempts]

    def draw(self) -> dict[str, Any]:
        return {name: space.draw(self.rng) for name, space in self.spaces.items()}

    def record(self, draw: dict[str, Any], proved: bool) -> None:
        for name, value in draw.items():
            if name in self.spaces:
                c = self._counts[f"prop_solved__{name}__{self.spaces[name].bucket(value)}"]
                c[0] += int(proved)
                c[1] += 1

    def solve_rates(self) -> dict[str, float]:
        return {key: solved / n for key, (solved, n) in sorted(self._counts.items()) if n}

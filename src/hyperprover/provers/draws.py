"""Per-attempt search settings (a "draw"): which option of the search or decoding section each drawn
parameter sets, and the configs of one attempt with a draw applied. The online controller draws them
(`online/hyperopt.py`); a prover applies them to the one search they belong to."""

from __future__ import annotations

import dataclasses
from typing import Any

from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import DecodingConfig

# parameter -> (config section, field, kind); kind: uniform | loguniform | choice
PARAMS: dict[str, tuple[str, str, str]] = {
    "temperature": ("decoding", "fixed_temperature", "uniform"),
    "length_penalty": ("decoding", "length_penalty", "uniform"),
    "n_samples": ("decoding", "n_samples", "choice"),
    "exploration": ("search", "exploration", "loguniform"),
    "n_expansions": ("search", "n_expansions", "loguniform"),
    "depth_penalty": ("search", "depth_penalty", "choice"),
    "policy_temperature": ("search", "policy_temperature", "choice"),
    "succ_expansions": ("search", "succ_expansions", "choice"),
    "policy": ("search", "policy", "choice"),
    "policy_temp_level": ("search", "policy_temp_level", "choice"),
    "q_value_solved": ("search", "q_value_solved", "choice"),
    "tactic_fill": ("search", "add_tactic_fill", "choice"),
    "no_critic": ("search", "no_critic", "choice"),  # the controller's --critic_from_auc switch
}
INT_PARAMS = {"n_expansions", "n_samples", "succ_expansions", "q_value_solved"}


def apply_draw(search: SearchConfig, decoding: DecodingConfig, draw: dict[str, Any],
               ) -> tuple[SearchConfig, DecodingConfig]:
    s_changes: dict[str, Any] = {}
    d_changes: dict[str, Any] = {}
    for name, value in draw.items():
        section, field, _ = PARAMS[name]
        if name == "tactic_fill":  # all | errors | none (booleans accepted for all / none)
            s_changes["add_tactic_fill"] = value in (True, "all")
            s_changes["add_tactic_errors"] = value == "errors"
            continue
        (s_changes if section == "search" else d_changes)[field] = value
    if s_changes.get("add_tactic_fill"):
        d_changes["length_penalty"] = 0.0  # tactic fill needs raw log-probabilities (docs/htps.md, section 2)
    return dataclasses.replace(search, **s_changes), dataclasses.replace(decoding, **d_changes)

"""Options of the Metamath environment (`make_env(**kw)` takes these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprover.config import opt

SET_MM = "/usr/share/metamath/databases/set.mm"


@dataclass
class MetamathConfig:
    """Which database, how it is split, and how goals are read by the model."""

    database: str = opt(SET_MM, "the .mm file (Debian: apt-get install metamath-databases)")
    split_seed: int = opt(42, "seed that draws the valid and test theorems")
    n_valid: int = opt(1000, "theorems in the valid split (fewer on small databases: 10% each)", min=0)
    n_test: int = opt(1000, "theorems in the test split (fewer on small databases: 10% each)", min=0)
    include_dvs: bool = opt(False, "put the theorem's $d pairs in the model's goal tokens")
    complete_from_hyps: bool = opt(True, "also list as complete the tactics whose missing substitutions are read "
                                   "off the theorem's hypotheses (syl, mpbi... closing a subgoal by a hypothesis)")

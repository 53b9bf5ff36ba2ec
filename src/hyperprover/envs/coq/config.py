"""Options of the Coq environment (`make_env(**kw)` takes these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprover.config import opt

STDLIB = "/usr/lib/ocaml/coq/theories"
STD_CONTEXT = "Require Import Arith Bool List Lia."  # the context `std` of goals typed by hand


@dataclass
class CoqConfig:
    """Which library gives the theorems, how it is split, and Coq's time limits."""

    library_root: str = opt(STDLIB, "root of the Coq library whose proofs give theorems and training data "
                                     "(Debian: apt-get install libcoq-stdlib)")
    library_dirs: str = opt("Arith,Bool,Lists,Logic,Sorting,ZArith", "comma list of folders under library_root")
    data_dir: str = opt("", "the replayed proofs (`hyperprover data --env coq --out DIR`); empty: a cache folder, "
                            "made on first use (about a minute)")
    split_seed: int = opt(0, "seed that draws the valid and test lemmas")
    n_valid: int = opt(500, "lemmas in the valid split", min=0)
    n_test: int = opt(500, "lemmas in the test split", min=0)
    preload: str = opt("", "sentences coqtop runs before any context, e.g. 'From Hammer Require Import Tactics.' "
                           "for CoqHammer's sauto (benchmarks/coq_sauto.py)")
    tactic_timeout_s: float = opt(5.0, "Coq's Timeout on each tactic", min=0.1)
    answer_timeout_s: float = opt(30.0, "beyond the tactic's Timeout, coqtop is killed and restarted", min=1.0)

    def dirs(self) -> tuple[str, ...]:
        return tuple(d for d in self.library_dirs.split(",") if d)

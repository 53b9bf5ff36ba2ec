"""Options of the Coq environment (`make_env(**kw)` takes these fields)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from hyperprover.config import opt
from hyperprover.envs.coq.libraries import DEBIAN, Library, libraries

STDLIB = "/usr/lib/ocaml/coq/theories"
STD_CONTEXT = "Require Import Arith Bool List Lia."  # the context `std` of goals typed by hand
HAMMER = "From Hammer Require Import Hammer Tactics."  # CoqHammer (Debian: libcoq-hammer): hammer, sauto, ...
# CoqHammer's reconstruction tactics and Coq's first-order prover: slower than a step, so their own time limit
AUTOMATION = ("sauto", "qauto", "hauto", "sfirstorder", "firstorder")
AUTOMATION_TACTICS = ("sauto", "qauto", "firstorder", "hammer")  # what the floor tries with --coq.automation
# the words of the reconstructions a proof keeps for `hammer` ("hauto use: Nat.add_comm unfold: Nat.double",
# "sauto lq: on")
RECONSTRUCTION_WORDS = (*AUTOMATION, "srun", "eauto", "strivial", "use", "unfold", "inv", "ctrs", "lq", "on", ":", ",")


@dataclass
class CoqConfig:
    """Which library gives the theorems, how it is split, and Coq's time limits."""

    library_root: str = opt(STDLIB, "root of the Coq library whose proofs give theorems and training data "
                                     "(Debian: apt-get install libcoq-stdlib)")
    library_dirs: str = opt("Arith,Bool,Lists,Logic,Sorting,ZArith", "comma list of folders under library_root")
    data_dir: str = opt("", "the replayed proofs (`hyperprover data --env coq --out DIR`); empty: a cache folder, "
                            "made on first use (about a minute)")
    libraries: str = opt("", "comma list of more libraries whose replayed proofs are training data and whose "
                             f"lemmas join the train split: Debian's ({', '.join(DEBIAN)}) or folders of .v files")
    cross_libraries: str = opt("", "comma list of libraries whose lemmas make the `cross` split, a cross-project "
                                   "test: never trained on (as --coq.libraries)")
    n_cross: int = opt(500, "lemmas drawn from the cross libraries for the cross split", min=0)
    split_seed: int = opt(0, "seed that draws the valid, test and cross lemmas")
    n_valid: int = opt(500, "lemmas in the valid split", min=0)
    n_test: int = opt(500, "lemmas in the test split", min=0)
    load_path: str = opt("", "coqtop and coqc options that map a project's folders to logical names, e.g. "
                             "'-Q theories MyLib' (prove --file reads the _CoqProject beside the file)")
    preload: str = opt("", "sentences coqtop runs before any context, e.g. 'From Hammer Require Import Tactics.' "
                           "for CoqHammer's sauto (benchmarks/coq_sauto.py)")
    automation: bool = opt(False, "the search may also take CoqHammer's automation (sauto, qauto, firstorder "
                                  "and hammer, which calls the ATPs eprover, z3 and cvc4): every context preloads "
                                  "Hammer, and the floor tries them after its common tactics")
    tactic_timeout_s: float = opt(5.0, "Coq's Timeout on each tactic", min=0.1)
    automation_timeout_s: float = opt(10.0, f"Coq's Timeout on {', '.join(AUTOMATION)}", min=0.1)
    hammer_timeout_s: float = opt(30.0, "Coq's Timeout on hammer (premise selection, the ATPs, reconstruction)",
                                  min=0.1)
    answer_timeout_s: float = opt(30.0, "beyond the tactic's Timeout, coqtop is killed and restarted", min=1.0)
    check_timeout_s: float = opt(120.0, "Coq's Timeout on each tactic of a found proof when it is re-checked: a "
                                        "check is not a search, and a hammer found with a portfolio's time "
                                        "(search.finish_s) may need more than hammer_timeout_s", min=1.0)

    def preloaded(self) -> str:
        """The sentences coqtop runs before any context: Hammer's import with `automation`, then `preload`."""
        return " ".join(x for x in (HAMMER if self.automation else "", self.preload) if x)

    def timeout_s(self, tactic: str) -> float:
        """Coq's Timeout on `tactic`, by its first word: automation gets more time than a step."""
        head = tactic.split(None, 1)[0].rstrip(".;") if tactic.strip() else ""
        if head == "hammer":
            return self.hammer_timeout_s
        return self.automation_timeout_s if head in AUTOMATION else self.tactic_timeout_s

    def longest_timeout_s(self) -> float:
        """The longest Timeout a tactic may get (`timeout_s`): coqtop is killed only past it."""
        limits = [self.tactic_timeout_s]
        if self.automation:
            limits += [self.automation_timeout_s, self.hammer_timeout_s]
        return max(limits)

    def record_params(self) -> dict[str, str]:
        """What an attempt's record carries so that coqc can re-check its proof (`hyperprover check`): where
        the lemma's file is and what coqtop ran before any context."""
        out = {"coq_library_root": self.library_root}
        for key in ("libraries", "cross_libraries"):
            if getattr(self, key):
                out[f"coq_{key}"] = getattr(self, key)
        if self.preloaded():
            out["coq_preload"] = self.preloaded()
        return out

    def context_args(self, file: str = "") -> tuple[str, ...]:
        """coqtop's and coqc's options for a context in `file` (as a lemma's label names it; '': a goal typed by
        hand): the project's load path, and the bindings (Library.args) of the library that holds the file, that
        one only. Bound together they shadow each other and the standard library: with ExtLib's `-R`, the
        replayed prefix of ZArith/BinInt.v loaded other modules, its lemmas' goals printed `Zpos p` as `pos p`,
        and no tactic could be tried on them (5 of the first 100 test lemmas, session 23)."""
        own: tuple[str, ...] = ()
        if file and not (Path(self.library_root) / file).is_file():
            train, cross = self.more_libraries()
            for lib in (*train, *cross):
                if any(file.startswith(f"{d}/") for d in lib.dirs) and (Path(lib.root) / file).is_file():
                    own = lib.args()
                    break
        return (*shlex.split(self.load_path), *own)

    def dirs(self) -> tuple[str, ...]:
        return tuple(d for d in self.library_dirs.split(",") if d)

    def more_libraries(self) -> tuple[tuple[Library, ...], tuple[Library, ...]]:
        """The training libraries and the cross-project ones (a library cannot be both)."""
        train, cross = libraries(self.libraries), libraries(self.cross_libraries)
        both = {lib.name for lib in train} & {lib.name for lib in cross}
        if both:
            raise ValueError(f"Coq library {sorted(both)[0]} is in both --coq.libraries and --coq.cross_libraries")
        return train, cross

    def source(self, file: str) -> Path:
        """The .v file a lemma's label names: under library_root, else under the root of a library in use."""
        train, cross = self.more_libraries()
        for root in dict.fromkeys([self.library_root, *(lib.root for lib in (*train, *cross))]):
            if (Path(root) / file).is_file():
                return Path(root) / file
        return Path(self.library_root) / file

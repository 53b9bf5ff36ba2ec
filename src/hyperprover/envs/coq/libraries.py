"""The Coq libraries whose proofs can be training data or a cross-project test, beside the standard library.

Debian ships about fifty Coq libraries with their `.v` sources under `user-contrib` (`apt-get install
libcoq-stdpp libcoq-flocq ...`; `make setup` installs those named here). A library is named here by its
Debian name without `libcoq-`, or given as a folder of a user's `.v` files. Its files are named relative to
its root (`stdpp/base.v`, `mathcomp/ssreflect/seq.v`): the root of every library in use is searched in
order for a lemma's file, so those names must not collide, which the Debian layout guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

USER_CONTRIB = "/usr/lib/ocaml/coq/user-contrib"


@dataclass(frozen=True)
class Library:
    name: str
    root: str
    dirs: tuple[str, ...]  # folders under root whose .v files are replayed
    package: str = ""  # the Debian package that installs it

    def folders(self) -> list[Path]:
        return [Path(self.root) / d for d in self.dirs]

    def args(self) -> tuple[str, ...]:
        """coqtop's options that bind each folder to its logical name recursively, as the library's own build
        does: its files may then Require a sibling by its short name (Flocq's `Require Import Zaux`)."""
        return tuple(x for d in self.dirs for x in ("-R", str(Path(self.root) / d), d.replace("/", ".")))


def _debian(name: str, folder: str) -> Library:
    return Library(name, USER_CONTRIB, (folder,), f"libcoq-{name}")


DEBIAN = {lib.name: lib for lib in (
    _debian("stdpp", "stdpp"),
    _debian("flocq", "Flocq"),
    _debian("coquelicot", "Coquelicot"),
    _debian("mathcomp-ssreflect", "mathcomp/ssreflect"),
    _debian("mathcomp-fingroup", "mathcomp/fingroup"),
    _debian("mathcomp-algebra", "mathcomp/algebra"),
    _debian("ext-lib", "ExtLib"),
    _debian("bignums", "Bignums"),
    _debian("reglang", "RegLang"),
    _debian("aac-tactics", "AAC_tactics"),
)}


def library(spec: str) -> Library:
    """The library named `spec` (a key of DEBIAN) or the folder `spec` of .v files (root: its parent)."""
    lib = DEBIAN.get(spec)
    if lib is not None:
        missing = [str(f) for f in lib.folders() if not f.is_dir()]
        if missing:
            raise FileNotFoundError(f"Coq library {spec}: {missing[0]} is missing (apt-get install {lib.package})")
        return lib
    folder = Path(spec).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        return Library(folder.name, str(folder.parent), (folder.name,))
    raise ValueError(f"unknown Coq library {spec!r}: give a folder of .v files or one of {', '.join(DEBIAN)}")


def libraries(specs: str) -> tuple[Library, ...]:
    """The libraries of a comma list (empty: none)."""
    return tuple(library(s.strip()) for s in specs.split(",") if s.strip())


__all__ = ["DEBIAN", "USER_CONTRIB", "Library", "libraries", "library"]

"""More Coq libraries beside the main one: their lemmas join train (`--coq.libraries`) or make the cross-project
split (`--coq.cross_libraries`), each replayed once into its own cache folder; coqc re-checks their proofs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hyperprover.envs.coq import data
from hyperprover.envs.coq.config import CoqConfig
from hyperprover.envs.coq.env import CoqEnv
from hyperprover.envs.coq.libraries import DEBIAN, USER_CONTRIB, library

DATA = Path(__file__).parent / "data"
needs_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make setup does it)")


def test_a_library_is_a_debian_name_or_a_folder(tmp_path: Path) -> None:
    lib = library(str(DATA / "coq_sections"))
    assert (lib.name, lib.root, lib.dirs) == ("coq_sections", str(DATA.resolve()), ("coq_sections",))
    with pytest.raises(ValueError, match="unknown Coq library 'nope'.*stdpp"):
        library("nope")
    assert DEBIAN["mathcomp-ssreflect"].package == "libcoq-mathcomp-ssreflect"
    both = CoqConfig(libraries=str(DATA / "coq_sections"), cross_libraries=str(DATA / "coq_sections"))
    with pytest.raises(ValueError, match="coq_sections is in both"):
        both.more_libraries()


@needs_coq
def test_train_and_cross_libraries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.cli import main

    monkeypatch.setenv("HYPERPROVER_CACHE", str(tmp_path / "cache"))
    other = tmp_path / "elsewhere" / "coq_cross"  # another root: a lemma's file is found under its own library
    shutil.copytree(DATA / "coq_cross", other)
    assert main(["data", "--env", "coq", "--root", str(DATA), "--dirs", "coq", "--out", str(tmp_path / "main")]) == 0
    coq = {"library_root": str(DATA), "library_dirs": "coq", "data_dir": str(tmp_path / "main"), "n_valid": 1,
           "n_test": 1, "libraries": str(DATA / "coq_sections"), "cross_libraries": str(other)}
    assert main(["data", "--env", "coq", "--libraries", f"{DATA / 'coq_sections'},{other}"]) == 0
    out = capsys.readouterr().out
    assert "coq_sections: 1 files: 2 lemmas replayed of 2 (100.0%" in out and "coq_cross: 1 files: 2 lemmas" in out
    env = CoqEnv(CoqConfig(**coq))
    try:
        labels = {s: sorted(t.label.rsplit(":", 1)[1] for t in env.theorems(s)) for s in ("train", "valid", "test")}
        assert sorted(sum(labels.values(), [])) == ["app_nil", "fm_cons", "fm_nil", "negb_twice", "plus_zero"]
        assert {"fm_cons", "fm_nil"} <= set(labels["train"])  # the training library's lemmas are train lemmas
        cross = {t.label: t.goal for t in env.theorems("cross")}
        assert sorted(cross) == ["coq:coq_cross/cross.v#2:twice_zero", "coq:coq_cross/cross.v#6:twice_plus"]
        (child,) = env.apply(cross["coq:coq_cross/cross.v#6:twice_plus"], "intros n").children
        assert child.text() == "n : nat\n|- twice n = n + n"  # in its file's context: `twice` is known
    finally:
        env.close()
    cfg = CoqConfig(**coq)
    train_tactics = [" ".join(y) for _, y in data.pairs("train", cfg)]
    assert "intros a l" in train_tactics  # fm_cons's steps are training data
    assert "unfold twice" not in train_tactics and "twice" not in data.vocabulary(cfg)  # the cross ones never
    # what a proof keeps for hammer ("hauto use: Nat.add_comm") has words a model can emit
    assert {"hammer", "hauto", "sfirstorder", "use"} <= set(data.vocabulary(cfg))
    assert "unfold twice" in [" ".join(y) for _, y in data.pairs("cross", cfg)]  # what a cross eval could read
    # the floor proves the cross lemmas; the records say where their files are, so coqc re-checks them
    flags = [x for k, v in coq.items() for x in (f"--coq.{k}", str(v))]
    assert main(["eval", "--env", "coq", *flags, "--split", "cross", "--expander", "uniform", "--prover", "bfs",
                 "--decoding.n_samples", "64", "--search.n_expansions", "20", "--dump_path", str(tmp_path),
                 "--exp_id", "cross"]) == 0
    results = tmp_path / "eval" / "cross" / "eval_results.jsonl"
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["proved"] for r in records] == [True, True]
    assert records[0]["params"]["coq_cross_libraries"] == str(other)
    capsys.readouterr()
    assert main(["check", "--env", "coq", "--results", str(results)]) == 0
    assert "2 of 2 proofs accepted by coqc" in capsys.readouterr().out


@needs_coq
def test_a_library_file_requires_a_sibling_by_its_short_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Flocq's files do (`Require Import Zaux.`): the library's folder is bound to its name recursively (-R)
    in the replay, in the env's coqtop and for coqc, as its own build binds it."""
    import subprocess

    monkeypatch.setenv("HYPERPROVER_CACHE", str(tmp_path / "cache"))
    lib = tmp_path / "Mylib"
    lib.mkdir()
    (lib / "a.v").write_text("Definition three := 3.\n")
    (lib / "b.v").write_text("Require Import a.\nLemma three_eq : three = 3.\nProof. reflexivity. Qed.\n")
    subprocess.run(["coqc", "-R", str(lib), "Mylib", str(lib / "a.v")], check=True, capture_output=True)
    env = CoqEnv(CoqConfig(cross_libraries=str(lib)))
    try:
        (lemma,) = env.theorems("cross")
        assert lemma.label == "coq:Mylib/b.v#1:three_eq"
        assert env.apply(lemma.goal, "reflexivity").closes
    finally:
        env.close()


def test_each_context_binds_only_the_names_of_its_own_library(tmp_path: Path) -> None:
    lib = tmp_path / "Mylib"
    lib.mkdir()
    (lib / "a.v").write_text("Definition three := 3.\n")
    cfg = CoqConfig(libraries=str(lib), load_path="-Q proj P")
    assert cfg.context_args("Mylib/a.v") == ("-Q", "proj", "P", "-R", str(lib), "Mylib")
    assert cfg.context_args("ZArith/BinInt.v") == ("-Q", "proj", "P")  # the standard library's own files
    assert cfg.context_args("") == ("-Q", "proj", "P")  # goals typed by hand


@needs_coq
@pytest.mark.skipif(not (Path(USER_CONTRIB) / "ExtLib").is_dir(), reason="libcoq-ext-lib is not installed")
def test_a_library_in_use_does_not_change_how_a_standard_library_lemma_reads() -> None:
    """With ExtLib's folder bound by -R beside the standard library, the replayed prefix of ZArith/BinInt.v
    printed `Zpos p` as `pos p`, its lemmas' goals no longer restated, and every tactic on them failed."""
    from hyperprover.envs.coq.sentences import sentences

    path = Path(CoqConfig().library_root) / "ZArith" / "BinInt.v"
    index = next(i for i, x in enumerate(sentences(path.read_text())) if x.startswith("Lemma divide_pos_neg_l"))
    env = CoqEnv(CoqConfig(libraries="ext-lib"))
    try:
        env._enter(f"ZArith/BinInt.v#{index}")
        assert "Zpos p = Zpos p" in env.top.send("Check (forall p : positive, Zpos p = Zpos p).").text
        env._enter("ExtLib/Core/Any.v#2")  # a context of the library itself: coqtop restarts with its -R
        assert env.top.args == DEBIAN["ext-lib"].args() and env.top.n_starts == 2
    finally:
        env.close()


def test_the_cross_split_needs_cross_libraries() -> None:
    env = CoqEnv(CoqConfig())
    with pytest.raises(KeyError, match="--coq.cross_libraries, which is empty"):
        env.theorems("cross")
    env.close()


def test_data_needs_an_output_or_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.cli import main

    assert main(["data", "--env", "coq"]) == 2
    assert "give --out" in capsys.readouterr().err
    assert main(["data", "--env", "coq", "--libraries", "nope"]) == 2
    assert "unknown Coq library 'nope'" in capsys.readouterr().err


def test_the_setup_installs_every_named_library() -> None:
    """`make setup` installs the Debian package of each library a user can name, and checks its folder."""
    import re

    text = (Path(__file__).parents[1] / "Makefile").read_text().replace("\\\n", " ")
    names = re.search(r"^COQ_LIBRARIES := (.*)$", text, re.M)
    dirs = re.search(r"^COQ_LIBRARY_DIRS := (.*)$", text, re.M)
    assert names is not None and dirs is not None
    assert names[1].split() == list(DEBIAN)
    assert dirs[1].split() == ["Hammer", *(d for lib in DEBIAN.values() for d in lib.dirs)]


@needs_coq
def test_a_file_that_narrows_the_printing_does_not_stop_the_replay(tmp_path: Path) -> None:
    """A file may set its own printing options (ExtLib's goals came back on several lines): the steps whose goals
    do not read back are left out, the file's replay goes on."""
    from hyperprover.envs.coq.extract import replay

    # 40 columns: the goal as shown fits on a line, with Printing Implicit (`@length nat (@app nat ...`) it does not
    text = ("Require Import List.\nSet Printing Width 40.\n"
            "Lemma wide : forall l : list nat, length (nil ++ l) = length l.\nProof. intro l. reflexivity. Qed.\n"
            "Lemma after : 1 = 1.\nProof. reflexivity. Qed.\n")
    (tmp_path / "narrow.v").write_text(text)
    report = replay(tmp_path / "narrow.v", "narrow.v")
    assert not report.aborted
    assert [(m.name, m.status) for m in report.lemmas] == [("wide", "ok"), ("after", "ok")]

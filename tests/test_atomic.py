"""Files replaced whole: the old content survives a failed write, and no temporary file is left behind."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from hyperprover import atomic
from hyperprover.config import save_params, to_dict
from hyperprover.model.checkpoint import save_checkpoint
from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.online.config import OnlineConfig


def test_a_file_is_replaced_whole_and_its_folder_made(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "counts.json"
    atomic.write_text(path, "one\n")
    atomic.write_text(path, "two\n")
    assert path.read_text() == "two\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["counts.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("old\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half of the ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.replace_file(path, half_then_fail)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_the_temporary_is_a_hidden_sibling(tmp_path: Path) -> None:
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_bytes(b"1")

    atomic.replace_file(tmp_path / "x.pth", write)
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".x.pth.tmp")


def test_a_checkpoint_that_cannot_be_saved_keeps_the_last_one(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoint.pth"
    path.write_bytes(b"the last good checkpoint")

    def fail(obj: object, f: object) -> None:
        Path(str(f)).write_bytes(b"torn")
        raise RuntimeError("killed while saving")

    monkeypatch.setattr(torch, "save", fail)
    dictionary = Dictionary.build(Counter({w: 1 for w in "abc"}))
    dims = resolve(ModelConfig(emb_dim=16, n_layers=1, n_heads=2), len(dictionary), dictionary.pad)
    with pytest.raises(RuntimeError, match="killed while saving"):
        save_checkpoint(path, Seq2SeqTransformer(dims), dictionary, dims)
    assert path.read_bytes() == b"the last good checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_params_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    cfg = OnlineConfig()
    save_params(cfg, tmp_path / "launcher_params.json")
    assert json.loads((tmp_path / "launcher_params.json").read_text()) == to_dict(cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["launcher_params.json"]

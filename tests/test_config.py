import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperprover.config import (
    ConfigError,
    help_text,
    load_config,
    opt,
    save_params,
    section,
    split_argv,
)
from hyperprover.experiment import RunConfig


@dataclass
class ModelSection:
    enc_n_layers: int = opt(6, "encoder layers", min=1)
    dropout: float = opt(0.0, "dropout", min=0.0, max=1.0)
    share_inout_emb: bool = opt(True, "tie embeddings")
    positions: str = opt("learned", "position embeddings", choices=("learned", "sinusoidal"))


@dataclass
class BatchSection:
    size: int = opt(32, "sequences per batch", min=1)
    tokens: int | None = opt(None, "padded tokens per batch")


@dataclass
class Root(RunConfig):
    model: ModelSection = section(ModelSection)
    batch: BatchSection = section(BatchSection)
    tasks: str = opt("eq_bwd_rwalk_seq2seq", "tasks")


PRESETS = {"big": {"model": {"enc_n_layers": 12, "dropout": 0.1}, "batch.size": 8}}


def test_defaults():
    cfg = load_config(Root, [])
    assert cfg.model.enc_n_layers == 6 and cfg.batch.tokens is None and cfg.dump_path == "./dumped"


def test_precedence_preset_file_flag(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"model": {"enc_n_layers": 3}, "batch": {"size": 4}}))
    cfg = load_config(Root, ["--cfg", "big"], PRESETS)
    assert (cfg.model.enc_n_layers, cfg.model.dropout, cfg.batch.size) == (12, 0.1, 8)
    cfg = load_config(Root, ["--cfg", "big", "--config", str(f)], PRESETS)
    assert (cfg.model.enc_n_layers, cfg.model.dropout, cfg.batch.size) == (3, 0.1, 4)
    # flags win over both, in either spelling and whatever their position
    cfg = load_config(Root, ["--model.enc_n_layers=2", "--config", str(f), "--cfg", "big"], PRESETS)
    assert (cfg.model.enc_n_layers, cfg.model.dropout, cfg.batch.size) == (2, 0.1, 4)


def test_yaml_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  enc_n_layers: 5\nbatch.size: 7\n")
    cfg = load_config(Root, ["--config", str(f)])
    assert (cfg.model.enc_n_layers, cfg.batch.size) == (5, 7)


@pytest.mark.parametrize("text,value", [("true", True), ("TRUE", True), ("1", True), ("True", True),
                                        ("false", False), ("False", False), ("0", False), ("FALSE", False)])
def test_boolean_spellings(text, value):
    assert load_config(Root, ["--model.share_inout_emb", text]).model.share_inout_emb is value
    assert load_config(Root, [f"--model.share_inout_emb={text}"]).model.share_inout_emb is value


def test_bad_boolean():
    with pytest.raises(ConfigError, match="model.share_inout_emb.*true/false"):
        load_config(Root, ["--model.share_inout_emb", "maybe"])


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown option --model\.enc_n_layer; did you mean --model\.enc_n_layers"):
        load_config(Root, ["--model.enc_n_layer", "3"])
    with pytest.raises(ConfigError, match=r"did you mean --model\.enc_n_layers"):
        load_config(Root, ["--enc_n_layers", "3"])
    with pytest.raises(ConfigError, match="did you mean --cfg"):
        load_config(Root, ["--cgf", "big"], PRESETS)


def test_unknown_key_in_file(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"batch": {"sise": 3}}))
    with pytest.raises(ConfigError, match=r"--batch\.sise; did you mean --batch\.size"):
        load_config(Root, ["--config", str(f)])


def test_wrong_type_and_range():
    with pytest.raises(ConfigError, match="batch.size.*not a valid int"):
        load_config(Root, ["--batch.size", "many"])
    with pytest.raises(ConfigError, match="batch.size.*below the minimum"):
        load_config(Root, ["--batch.size", "0"])
    with pytest.raises(ConfigError, match="model.dropout.*above the maximum"):
        load_config(Root, ["--model.dropout", "1.5"])
    with pytest.raises(ConfigError, match="model.positions.*not one of learned, sinusoidal"):
        load_config(Root, ["--model.positions", "rotary"])
    with pytest.raises(ConfigError, match="unknown preset --nope"):
        load_config(Root, ["--cfg", "nope"], PRESETS)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(Root, ["--config", "/nonexistent/params.json"])


def test_optional_values():
    assert load_config(Root, ["--batch.tokens", "500"]).batch.tokens == 500
    assert load_config(Root, ["--batch.tokens", "none"]).batch.tokens is None


def test_params_json_round_trip(tmp_path):
    cfg = load_config(Root, ["--cfg", "big", "--model.positions", "sinusoidal", "--batch.tokens", "900",
                             "--exp_id", "abc"], PRESETS)
    save_params(cfg, tmp_path / "params.json")
    again = load_config(Root, ["--config", str(tmp_path / "params.json")])
    assert again == cfg


@given(st.integers(min_value=1, max_value=10**6), st.booleans(), st.floats(0, 1, allow_nan=False))
def test_flag_values_round_trip(n, b, x):
    cfg = load_config(Root, [f"--batch.size={n}", "--model.share_inout_emb", str(b), "--model.dropout", repr(x)])
    assert (cfg.batch.size, cfg.model.share_inout_emb, cfg.model.dropout) == (n, b, x)


def test_split_argv_errors():
    assert split_argv(["--a", "1", "--b=2", "--c"]) == [("a", "1"), ("b", "2"), ("c", None)]
    with pytest.raises(ConfigError, match="unexpected argument 'stray'"):
        split_argv(["stray"])


def test_help_lists_every_option_with_default():
    text = help_text(Root, "train", presets=PRESETS)
    for key in ("--model.enc_n_layers int (default: 6)", "--batch.tokens int | none (default: None)",
                "--debug.debug bool (default: False)", "--dump_path", "big"):
        assert key in text

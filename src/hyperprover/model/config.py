"""Model options (`--model.*`) and their resolution into concrete sizes.

The -1 defaults of the original (enc_emb_dim = -1 means emb_dim, ...) are kept so that the reference
command lines read the same; `resolve()` turns them into a frozen `ModelDims` the modules are built from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hyperprover.config import ConfigError, opt


@dataclass
class ModelConfig:
    emb_dim: int = opt(512, "base width (enc_emb_dim / dec_emb_dim default to it)", min=8)
    enc_emb_dim: int = opt(-1, "encoder width (-1: emb_dim)", min=-1)
    dec_emb_dim: int = opt(-1, "decoder width (-1: emb_dim)", min=-1)
    n_layers: int = opt(4, "base depth", min=1)
    enc_n_layers: int = opt(-1, "encoder layers (-1: n_layers)", min=-1)
    dec_n_layers: int = opt(-1, "decoder layers (-1: n_layers)", min=-1)
    n_heads: int = opt(8, "attention heads (widths must be divisible by it)", min=1)
    dropout: float = opt(0.0, "dropout on embeddings and residual branches", min=0.0, max=1.0)
    attention_dropout: float = opt(0.0, "dropout on attention probabilities", min=0.0, max=1.0)
    activation_dropout: float = opt(0.0, "dropout inside the feed-forward block", min=0.0, max=1.0)
    gelu_activation: bool = opt(False, "GELU instead of ReLU in the feed-forward block")
    share_inout_emb: bool = opt(True, "tie the decoder output projection to its input embedding")
    sinusoidal_embeddings: bool = opt(False, "frozen sinusoidal positions instead of learned ones")
    max_positions: int = opt(2048, "longest sequence the position table covers", min=8)
    pre_ln: bool = opt(True, "pre-LayerNorm blocks (stable without long warm-up); false: post-LN as the original")
    layer_dropout: float = opt(0.0, "probability of skipping a layer while training", min=0.0, max=1.0)
    enc_layer_dropout: float = opt(-1.0, "encoder layer drop (-1: layer_dropout)", min=-1.0, max=1.0)
    dec_layer_dropout: float = opt(-1.0, "decoder layer drop (-1: layer_dropout)", min=-1.0, max=1.0)
    min_layers: int = opt(0, "layers always kept when layer drop is on", min=0)
    enc_min_layers: int = opt(-1, "encoder min layers (-1: min_layers)", min=-1)
    dec_min_layers: int = opt(-1, "decoder min layers (-1: min_layers)", min=-1)
    amp: str = opt("bf16", "autocast dtype on GPU (CPU always runs fp32); fp16 adds a GradScaler",
                   choices=("bf16", "fp16", "none"))

    def __post_init__(self) -> None:
        # load_config builds this class through __init__: a bad combination fails with the options,
        # before a run loads data or makes its folder
        check(self)


@dataclass(frozen=True)
class ModelDims:
    """Resolved sizes and options: everything needed to rebuild the modules (stored in checkpoints)."""

    vocab_size: int
    pad_index: int
    enc_dim: int
    dec_dim: int
    enc_layers: int
    dec_layers: int
    n_heads: int
    dropout: float
    attention_dropout: float
    activation_dropout: float
    gelu: bool
    share_inout_emb: bool
    sinusoidal: bool
    max_positions: int
    pre_ln: bool
    enc_layer_dropout: float
    dec_layer_dropout: float
    enc_min_layers: int
    dec_min_layers: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelDims:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"model config is missing {sorted(missing)}")
        for f in dataclasses.fields(cls):  # a hand-edited file may hold "8" or 8.5 for a size
            v = d[f.name]
            ok = (isinstance(v, bool) if f.type == "bool" else
                  isinstance(v, int) and not isinstance(v, bool) if f.type == "int" else
                  isinstance(v, int | float) and not isinstance(v, bool))
            if not ok:
                raise ValueError(f"model_dims.{f.name} is {v!r}, not a {f.type}")
        return cls(**{k: d[k] for k in names})


def _pick(value: Any, default: Any) -> Any:
    return default if value == -1 else value


def check(cfg: ModelConfig) -> None:
    """Cross-option checks: every width divisible by the number of heads, min layers within the layers."""
    for key in ("enc_emb_dim", "dec_emb_dim"):
        given = getattr(cfg, key)
        key, dim = (key, given) if given != -1 else ("emb_dim", cfg.emb_dim)
        if cfg.n_heads >= 1 and dim % cfg.n_heads:
            raise ConfigError(f"--model.{key} {dim} is not divisible by --model.n_heads {cfg.n_heads} "
                              "(every head takes an equal share of the width)")
    for side in ("enc", "dec"):
        n = _pick(getattr(cfg, f"{side}_n_layers"), cfg.n_layers)
        key = f"{side}_min_layers" if getattr(cfg, f"{side}_min_layers") != -1 else "min_layers"
        m = getattr(cfg, key)
        if m > n:
            raise ConfigError(f"--model.{key} {m} exceeds the {n} {side}oder layers")


def resolve(cfg: ModelConfig, vocab_size: int, pad_index: int) -> ModelDims:
    """Apply the -1 defaults and check the options (again: fields may be set after construction);
    raises ConfigError naming the bad option."""
    check(cfg)
    enc_dim, dec_dim = _pick(cfg.enc_emb_dim, cfg.emb_dim), _pick(cfg.dec_emb_dim, cfg.emb_dim)
    dims = ModelDims(
        vocab_size=vocab_size, pad_index=pad_index, enc_dim=enc_dim, dec_dim=dec_dim,
        enc_layers=_pick(cfg.enc_n_layers, cfg.n_layers), dec_layers=_pick(cfg.dec_n_layers, cfg.n_layers),
        n_heads=cfg.n_heads, dropout=cfg.dropout, attention_dropout=cfg.attention_dropout,
        activation_dropout=cfg.activation_dropout, gelu=cfg.gelu_activation,
        share_inout_emb=cfg.share_inout_emb, sinusoidal=cfg.sinusoidal_embeddings,
        max_positions=cfg.max_positions, pre_ln=cfg.pre_ln,
        enc_layer_dropout=_pick(cfg.enc_layer_dropout, cfg.layer_dropout),
        dec_layer_dropout=_pick(cfg.dec_layer_dropout, cfg.layer_dropout),
        enc_min_layers=_pick(cfg.enc_min_layers, cfg.min_layers),
        dec_min_layers=_pick(cfg.dec_min_layers, cfg.min_layers),
    )
    return dims

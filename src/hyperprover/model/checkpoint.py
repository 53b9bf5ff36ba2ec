"""Checkpoints: one dict per file, written to a temp file then renamed, read with weights_only=True.

Every checkpoint holds the model weights, the resolved model sizes and the dictionary, so a checkpoint
alone rebuilds the model (provers, evaluation); trainer checkpoints add optimizer state and counters.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hyperprover.atomic import replace_file
from hyperprover.model.config import ModelDims
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.transformer import Seq2SeqTransformer

FORMAT_VERSION = 1
_REQUIRED = ("format_version", "model", "model_dims", "dictionary")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable, truncated, or not one of ours."""


def _strip_prefixes(state: dict[str, Any]) -> dict[str, Any]:
    # DDP ("module.") and torch.compile ("_orig_mod.") wrap parameter names
    out = {}
    for k, v in state.items():
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def save_checkpoint(path: str | Path, model: nn.Module, dictionary: Dictionary, dims: ModelDims,
                    **extra: Any) -> None:
    """Write atomically: readers (provers polling the file) never see a half-written checkpoint.

    `extra` holds plain values (ints, floats, strings, lists, dicts, tensors): optimizer state, counters,
    best metrics, params."""
    path = Path(path)
    state: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": _strip_prefixes(model.state_dict()),
        "model_dims": dims.to_dict(),
        "dictionary": dictionary.state(),
        **extra,
    }
    replace_file(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in first:  # torch's advice to drop weights_only is not ours to give
            first = "not a file of tensors and plain data"
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and cannot be read ({first[:200]})") from None
    if not isinstance(state, dict) or any(k not in state for k in _REQUIRED):
        missing = [k for k in _REQUIRED if not isinstance(state, dict) or k not in state]
        raise CheckpointError(f"{path} is not a hyperprover checkpoint (missing {', '.join(missing)})")
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {state['format_version']}; this code reads up to {FORMAT_VERSION}")
    if not isinstance(state["model"], dict):
        raise CheckpointError(f"checkpoint {path} is inconsistent: its 'model' is not a mapping of weights")
    try:
        dims = ModelDims.from_dict(state["model_dims"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} has an unusable model config: {e}") from None
    check_dims(dims, f"checkpoint {path}")
    bad = first_non_finite(state["model"])
    if bad:  # such weights propose garbage (or nothing) without any error: refuse them here
        raise CheckpointError(f"checkpoint {path} has non-finite weights, first in {bad}; was it saved by a "
                              "diverged run? Use an earlier checkpoint")
    return state


def first_non_finite(weights: dict[str, Any]) -> str | None:
    """The first tensor holding nan or inf, with how many of its values are, or None."""
    for name, t in weights.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                return f"{name} ({int((~finite).sum())} of {t.numel()} values are nan or inf)"
    return None


def check_dims(dims: ModelDims, where: str = "checkpoint") -> None:
    """Sizes that cannot go together (a hand-edited model_dims): raise CheckpointError saying so."""
    for name in ("vocab_size", "enc_dim", "dec_dim", "enc_layers", "dec_layers", "n_heads", "max_positions"):
        if getattr(dims, name) < 1:
            raise CheckpointError(f"{where} is inconsistent: model_dims.{name} is {getattr(dims, name)}")
    for side, dim in (("encoder", dims.enc_dim), ("decoder", dims.dec_dim)):
        if dim % dims.n_heads:
            raise CheckpointError(f"{where} is inconsistent: model_dims.n_heads {dims.n_heads} does not divide "
                                  f"the {side} width {dim} of its weights (was model_dims edited?)")


def model_from_state(state: dict[str, Any], device: str | torch.device = "cpu", where: str = "checkpoint",
                     ) -> tuple[Seq2SeqTransformer, Dictionary]:
    """Rebuild the model (in eval mode) and its frozen dictionary from a loaded checkpoint."""
    try:
        dims = ModelDims.from_dict(state["model_dims"])
        dico = Dictionary.from_state(state["dictionary"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{where} has an unusable model config or dictionary: {e}") from None
    if dims.vocab_size != len(dico):
        raise CheckpointError(f"{where} model has {dims.vocab_size} embeddings but its dictionary {len(dico)} words")
    check_dims(dims, where)
    try:
        model = Seq2SeqTransformer(dims)
    except (RuntimeError, ValueError, TypeError, AssertionError) as e:
        raise CheckpointError(f"{where} is inconsistent: its model_dims build no model ({_first_line(e)})") from None
    try:
        model.load_state_dict(_strip_prefixes(state["model"]))
    except RuntimeError as e:
        raise CheckpointError(f"{where} weights do not fit its model config: {_first_line(e)}") from None
    return model.to(device).eval(), dico


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Seq2SeqTransformer, Dictionary]:
    return model_from_state(load_checkpoint(path), device, f"checkpoint {path}")

"""Checkpoints: one dict per file, written to a temp file then renamed, read with weights_only=True.

Every checkpoint holds the model weights, the resolved model sizes and the dictionary, so a checkpoint
alone rebuilds the model (provers, evaluation); trainer checkpoints add optimizer state and counters.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    return state


def model_from_state(state: dict[str, Any], device: str | torch.device = "cpu",
                     ) -> tuple[Seq2SeqTransformer, Dictionary]:
    """Rebuild the model (in eval mode) and its frozen dictionary from a loaded checkpoint."""
    try:
        dims = ModelDims.from_dict(state["model_dims"])
        dico = Dictionary.from_state(state["dictionary"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint has an unusable model config or dictionary: {e}") from None
    if dims.vocab_size != len(dico):
        raise CheckpointError(f"checkpoint model has {dims.vocab_size} embeddings but its dictionary {len(dico)} words")
    model = Seq2SeqTransformer(dims)
    try:
        model.load_state_dict(_strip_prefixes(state["model"]))
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), dico


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Seq2SeqTransformer, Dictionary]:
    return model_from_state(load_checkpoint(path), device)

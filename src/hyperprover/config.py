"""Typed configs: dataclass defaults < preset (--cfg) < file (--config) < dotted flags.

Each area declares its own dataclass section with `opt(...)` fields (default, one-line help, optional
choices and bounds); a command's root config nests them. OmegaConf does the merging and type checks;
this module only translates flags and produces errors that name the key and the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hyperprover import atomic

T = TypeVar("T")
Preset = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ConfigError(ValueError):
    """A one-line, user-facing configuration error."""


def opt(default: Any, help: str, *, choices: Sequence[Any] | None = None,
        min: float | None = None, max: float | None = None) -> Any:
    """A config field with its one-line help and optional constraints."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "min": min, "max": max}
    return dataclasses.field(default=default, metadata=meta)


def load_ref(ref: str) -> Any:
    """The object a "module:name" reference names (the registries of systems and provers hold such references,
    so that naming a choice imports nothing until it is used)."""
    import importlib

    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def section(cls: type, help: str = "") -> Any:
    """A nested config section."""
    return dataclasses.field(default_factory=cls, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    key: str  # dotted
    type: Any  # the scalar type (Optional unwrapped)
    optional: bool
    default: Any
    help: str
    choices: tuple[Any, ...] | None
    min: float | None
    max: float | None


def _unwrap(tp: Any) -> tuple[Any, bool]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def iter_fields(schema: type, prefix: str = "") -> Iterator[FieldInfo]:
    """Every scalar field of a (nested) dataclass, depth first, with dotted keys."""
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        tp, optional = _unwrap(hints[f.name])
        key = prefix + f.name
        if dataclasses.is_dataclass(tp):
            yield from iter_fields(tp, key + ".")  # type: ignore[arg-type]
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        m = f.metadata
        yield FieldInfo(key, tp, optional, default, m.get("help", ""), m.get("choices"), m.get("min"),
                        m.get("max"))


def field_table(schema: type) -> dict[str, FieldInfo]:
    return {fi.key: fi for fi in iter_fields(schema)}


def _unknown(key: str, valid: Sequence[str], what: str = "option") -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not close:  # a typo in the leaf name under the right section
        leaf = key.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(leaf, [v.rsplit(".", 1)[-1] for v in valid], n=1, cutoff=0.6)
        close = [v for v in valid if v.rsplit(".", 1)[-1] == close[0]][:1] if close else []
    hint = f"; did you mean --{close[0]}?" if close else ""
    return ConfigError(f"unknown {what} --{key}{hint}")


def convert(fi: FieldInfo, raw: Any) -> Any:
    """Turn a flag string (or a JSON/YAML value) into the field's type, or raise ConfigError."""
    if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null") and fi.type is not str):
        if fi.optional:
            return None
        raise ConfigError(f"--{fi.key} may not be none (expected {fi.type.__name__})")
    try:
        if fi.type is bool:
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError
        if fi.type is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        if fi.type is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if fi.type is str:
            return str(raw)
    except (TypeError, ValueError):
        expected = "true/false/1/0" if fi.type is bool else fi.type.__name__
        raise ConfigError(f"--{fi.key}: {raw!r} is not a valid {expected}") from None
    raise ConfigError(f"--{fi.key}: unsupported field type {fi.type!r}")


def check_value(fi: FieldInfo, value: Any) -> None:
    if value is None:
        return
    if fi.choices is not None and value not in fi.choices:
        raise ConfigError(f"--{fi.key}: {value!r} is not one of {', '.join(map(str, fi.choices))}")
    if fi.min is not None and value < fi.min:
        raise ConfigError(f"--{fi.key}: {value!r} is below the minimum {fi.min}")
    if fi.max is not None and value > fi.max:
        raise ConfigError(f"--{fi.key}: {value!r} is above the maximum {fi.max}")


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + str(k)] = v
    return out


_SNIFF = 1 << 16  # bytes looked at to tell a text file from a binary one without reading it all


def binary_reason(head: bytes, complete: bool = True) -> str | None:
    """Why bytes (a file's start, or all of it when `complete`) are not UTF-8 text; None when they are."""
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed, not text (gunzip it first)"
    if b"\x00" in head:
        return "it is a binary file (it holds NUL bytes), not text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if not complete and e.reason == "unexpected end of data":
            return None  # the sniffed block ends inside a multi-byte character
        return f"it is not UTF-8 text (byte 0x{head[e.start]:02x} at offset {e.start})"
    return None


def _open_error(what: str, e: OSError) -> ConfigError:
    return ConfigError(f"{what}: {e.strerror or e}")


def read_text_file(path: str | Path, option: str = "") -> str:
    """The text of a file named by a user, or a ConfigError naming the option and the file and saying why
    it is no text file (missing, a folder, unreadable, binary or compressed)."""
    what = f"{option} {path}".strip()
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise _open_error(what, e) from None
    reason = binary_reason(data)
    if reason:
        raise ConfigError(f"{what}: {reason}")
    return data.decode("utf-8")


def check_text_file(path: str | Path, option: str = "") -> None:
    """Refuse a binary file from its first 64 KiB: for files read line by line or appended to."""
    what = f"{option} {path}".strip()
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError as e:
        raise _open_error(what, e) from None
    reason = binary_reason(head, complete=len(head) < _SNIFF)
    if reason:
        raise ConfigError(f"{what}: {reason}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--config {path}: no such file")
    text = read_text_file(p, "--config")
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse failure is the same user error
        raise ConfigError(f"--config {path}: cannot parse ({type(e).__name__}: {e})".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of options at the top level")
    return data


def split_argv(argv: Sequence[str]) -> list[tuple[str, str | None]]:
    """['--a.b', '1', '--c=2', '--flag'] -> [('a.b', '1'), ('c', '2'), ('flag', None)]."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if not tok.startswith("--") or tok == "--":
            raise ConfigError(f"unexpected argument {tok!r}; options are written --key value or --key=value")
        if "=" in tok:
            k, v = tok[2:].split("=", 1)
            pairs.append((k, v))
            i += 1
        elif i + 1 < len(argv) and not (argv[i + 1].startswith("--") and len(argv[i + 1]) > 2):
            pairs.append((tok[2:], argv[i + 1]))
            i += 2
        else:
            pairs.append((tok[2:], None))
            i += 1
    return pairs


def load_config(schema: type[T], argv: Sequence[str] = (), presets: Mapping[str, Preset] | None = None,
                ) -> T:
    """Resolve a config: dataclass defaults < --cfg preset < --config file < dotted flags."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    table = field_table(schema)
    presets = presets or {}
    preset_name: str | None = None
    files: list[str] = []
    flags: dict[str, Any] = {}
    for key, raw in split_argv(argv):
        if key == "cfg":
            preset_name = raw
        elif key == "config":
            if raw is None:
                raise ConfigError("--config needs a file path")
            files.append(raw)
        elif key not in table:
            raise _unknown(key, [*table, "cfg", "config"])
        elif raw is None:
            if table[key].type is not bool:
                raise ConfigError(f"--{key} needs a value")
            flags[key] = True  # a bare boolean flag means true
        else:
            flags[key] = convert(table[key], raw)

    layers: list[dict[str, Any]] = []
    if preset_name is not None:
        if preset_name not in presets:
            raise _unknown(preset_name, list(presets), "preset") if presets else ConfigError(
                f"--cfg {preset_name}: this command has no presets")
        p = presets[preset_name]
        layers.append(flatten(p() if callable(p) else p))
    for f in files:
        layers.append(flatten(read_config_file(f)))
    layers.append(flags)

    merged: dict[str, Any] = {}
    for layer in layers:
        for key, raw in layer.items():
            if key not in table:
                raise _unknown(key, list(table))
            merged[key] = convert(table[key], raw)
    for key, value in merged.items():
        check_value(table[key], value)
    for fi in table.values():
        if fi.key not in merged:
            check_value(fi, fi.default)

    base = OmegaConf.structured(schema)
    try:
        for key, value in merged.items():
            OmegaConf.update(base, key, value, merge=True)
        cfg = OmegaConf.to_object(base)
    except OmegaConfBaseException as e:
        raise ConfigError(str(e).splitlines()[0]) from None
    return typing.cast(T, cfg)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_params(cfg: Any, path: Path) -> None:
    """Write the resolved config as JSON (loadable again with --config), atomically."""
    atomic.write_text(path, json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")


def help_text(schema: type, command: str, description: str = "", presets: Mapping[str, Preset] | None = None,
              ) -> str:
    """`hyperprover CMD --help`: every option with its default and one-line help."""
    lines = [f"usage: hyperprover {command} [--cfg PRESET] [--config FILE] [--section.key VALUE ...]"]
    if description:
        lines += ["", description]
    lines += ["", "options (defaults < --cfg < --config < flags):",
              "  --cfg NAME                 preset: " + (", ".join(sorted(presets)) if presets else "(none)"),
              "  --config FILE              JSON or YAML file of options (a run's params.json reproduces it)"]
    for fi in iter_fields(schema):
        tname = fi.type.__name__ + (" | none" if fi.optional else "")
        extra = f" [{'|'.join(map(str, fi.choices))}]" if fi.choices else ""
        lines.append(f"  --{fi.key} {tname} (default: {fi.default!r}){extra}  {fi.help}")
    return "\n".join(lines)

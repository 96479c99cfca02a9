"""params.yaml access for the pipeline scripts: read and validate it, read a section, merge a profile over it."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .fileio import InputError


def load_params(path: str | Path = "params.yaml", validate: bool = True) -> dict:
    """params.yaml as a dict, checked against langcpt.params_schema (types, ranges, known keys only) before any
    stage does work: a bad value or an unknown key is an InputError naming the key and what was expected."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: not found (run from the repository root)")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8") from None
    if not isinstance(params, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    if validate:
        from .params_schema import validate_params

        validate_params(params, where=str(path), root=path.resolve().parent)
    return params


def section(params: dict, name: str, required: tuple[str, ...] = ()) -> dict:
    if name not in params or not isinstance(params[name], dict):
        raise InputError(f"params.yaml: missing section `{name}`")
    sec = params[name]
    for key in required:
        if key not in sec:
            raise InputError(f"params.yaml: missing key `{name}.{key}`")
    return sec


def merge(base: dict, override: dict, where: str = "") -> dict:
    """Deep-merge `override` into a copy of `base`; a key absent from base is an error (catches typos)."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        key = f"{where}{k}"
        if k not in out:
            raise InputError(f"profile: unknown key `{key}` (not in params.yaml)")
        if isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = merge(out[k], v, key + ".")
        else:
            out[k] = copy.deepcopy(v)
    return out

"""The source specs of `ingest.target_sources` / `ingest.general_sources`: their keys per kind and
`validate_sources`. Imports nothing heavy, so params_schema checks them without importing langcpt.ingest."""
from __future__ import annotations

from .fileio import InputError

FORMATS = {"debian": {"fortune", "roff", "html", "text"},
           "pypi": {"text", "markdown", "html", "jsonl", "yaml"},
           "local": {"auto", "text", "markdown", "html", "jsonl", "fortune", "roff", "yaml"}}
# kind -> (required keys, optional keys with defaults)
SPEC_KEYS = {
    "debian": ({"package", "include", "format"}, {"version": None, "exclude": [], "license": None}),
    "pypi": ({"package", "include", "format"},
             {"version": None, "exclude": [], "text_field": "text", "license": None}),
    "local": ({"path"}, {"format": "auto", "text_field": "text", "license": "unspecified"}),
    "hf": ({"dataset"}, {"config": None, "split": "train", "text_field": "text", "license": None}),
}
COMMON_KEYS = ({"name", "kind"}, {"max_docs": None})


def validate_sources(sources: list[dict]) -> list[dict]:
    """Check source specs; return them with defaults filled in. Raise InputError naming source and key."""
    if not isinstance(sources, list):
        raise InputError(f"sources: expected a list of source specs, got {type(sources).__name__}")
    out, names = [], set()
    for i, spec in enumerate(sources):
        where = f"sources[{i}]"
        if not isinstance(spec, dict):
            raise InputError(f"{where}: expected a mapping, got {type(spec).__name__}")
        if spec.get("name"):
            where += f" ({spec['name']!r})"
        kind = spec.get("kind")
        if kind not in SPEC_KEYS:
            raise InputError(f"{where}: unknown kind {kind!r} (expected one of {sorted(SPEC_KEYS)})")
        required, optional = SPEC_KEYS[kind][0] | COMMON_KEYS[0], {**SPEC_KEYS[kind][1], **COMMON_KEYS[1]}
        if missing := sorted(required - spec.keys()):
            raise InputError(f"{where}: missing key(s) {missing} for kind {kind!r}")
        if unknown := sorted(spec.keys() - required - optional.keys()):
            raise InputError(f"{where}: unknown key(s) {unknown} for kind {kind!r} "
                             f"(allowed: {sorted(required | optional.keys())})")
        spec = {**optional, **spec}
        if not isinstance(spec["name"], str) or not spec["name"] or spec["name"] in names:
            raise InputError(f"{where}: key 'name' must be a non-empty string unique among sources")
        names.add(spec["name"])
        if kind in FORMATS and spec["format"] not in FORMATS[kind]:
            raise InputError(f"{where}: key 'format' is {spec['format']!r}, expected one of {sorted(FORMATS[kind])}")
        for key in ("package", "path", "dataset", "split", "text_field"):
            if key in spec and not (isinstance(spec[key], str) and spec[key]):
                raise InputError(f"{where}: key {key!r} must be a non-empty string, got {spec[key]!r}")
        m = spec["max_docs"]
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 0):
            raise InputError(f"{where}: key 'max_docs' must be a non-negative integer or null, got {m!r}")
        for key in ("include", "exclude"):
            globs = spec.get(key)
            if globs is not None and (not isinstance(globs, list) or (key == "include" and not globs) or any(
                    not isinstance(g, str) or not g or g.startswith("/") or ".." in g.split("/") for g in globs)):
                raise InputError(f"{where}: key {key!r} must be a list of relative globs, got {globs!r}")
        out.append(spec)
    return out

"""Apply a params profile or preset (profiles/*.yaml) onto params.yaml: every key in it must exist in params.yaml.

    python pipelines/apply_profile.py profiles/gpu.yaml            # rewrites params.yaml (review with git diff)
    python pipelines/apply_profile.py profiles/eu-basque.yaml --out p.yaml
    make repro PRESET=eu-basque                                    # the same, then dvc repro

The rewrite keeps params.yaml's comments, key order and quoting (ruamel.yaml round trip); a value the profile
replaces takes the profile's layout and comments. A key the profile has but params.yaml lacks is an error
(typo guard) and nothing is written. `git checkout params.yaml` restores the committed defaults.
"""
import argparse
import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from langcpt.fileio import InputError, atomic_path
from langcpt.params import load_params, merge
from langcpt.params_schema import validate_params
from langcpt.stage import run_stage


def round_trip_yaml() -> YAML:
    y = YAML()  # round trip: comments, order, flow/block style and quotes survive
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long strings
    y.indent(mapping=2, sequence=4, offset=2)  # the layout of params.yaml
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def tail_slot(node):
    """(comment list, index) of the comment that ends the last line of a non-empty collection (ruamel keeps the
    comment lines *after* a value, e.g. the comment above the next key, in that slot), else None. A flow-style
    collection counts as one line."""
    slot = None
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node) and not node.fa.flow_style():
        key = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        items = node.ca.items.setdefault(key, [None] * (4 if isinstance(node, CommentedMap) else 2))
        slot = (items, 2 if isinstance(node, CommentedMap) else 0)
        node = node[key]
    return slot


def replace(doc, key, value) -> None:
    """doc[key] = value, keeping the comment lines that followed the old value (they belong to what comes next)."""
    old = tail_slot(doc[key])
    token = old[0][old[1]] if old else None
    doc[key] = value
    if token is None or "\n" not in token.value:
        return
    following = token.value[token.value.index("\n"):]  # drop the old value's own end-of-line comment
    new = tail_slot(value) or (doc.ca.items.setdefault(key, [None] * 4), 2)  # a scalar: the slot of its line
    mine = new[0][new[1]]
    token.value = (mine.value.split("\n", 1)[0] if mine else "") + following
    new[0][new[1]] = token


def overlay(doc, override) -> None:
    """Write `override` into the round-trip document `doc` in place (keys already checked by params.merge)."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            overlay(doc[key], value)
        else:
            replace(doc, key, value)


def apply_profile(profile: Path, params: Path) -> str:
    """params.yaml's text with `profile` applied; InputError for a missing/invalid profile or an unknown key."""
    if not profile.is_file():
        raise InputError(f"{profile}: no such profile")
    y = round_trip_yaml()
    try:
        override = y.load(profile.read_text(encoding="utf-8")) or {}
    except YAMLError as e:
        raise InputError(f"{profile}: not valid YAML: {e}") from None
    if not isinstance(override, dict):
        raise InputError(f"{profile}: expected a mapping of params.yaml sections at the top level")
    # validation only: an unknown key, or a value of the wrong type/range, raises InputError naming the key
    validate_params(merge(load_params(params), override), where=f"{params} + {profile}", root=params.resolve().parent)
    doc = y.load(params.read_text(encoding="utf-8"))
    overlay(doc, override)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=None, help="write here instead of overwriting --params")
    args = ap.parse_args()
    text = apply_profile(args.profile, args.params)
    with atomic_path(args.out or args.params) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"applied {args.profile} -> {args.out or args.params}")


if __name__ == "__main__":
    run_stage(main)

"""The README's stage map and Layout stay true: the map names exactly dvc.yaml's stages, and imports go one way
(pipelines/ and scripts/ import src/langcpt; the library imports neither them nor DVC)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _stage_map() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The stages", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```\n(.*?)```", section, re.S)[1]


def test_stage_map_names_every_stage_of_dvc_yaml_and_no_other():
    stages = set(yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    named = set()
    for line in _stage_map().splitlines():
        # a node: the line's first word after the drawing characters, then two spaces, an arrow or the line's end
        # (description lines that wrap go on with one space: "exact + MinHash-LSH ...")
        m = re.match(r"^[\s│├└─►▼]*([a-z_]+(?:, [a-z_]+)*)(?:\s{2,}|\s[─◄]|$)", line)
        if m:
            named |= set(m[1].split(", "))
    assert named - stages == set() and stages - named == set(), (
        f"README's stage map ('The stages') and dvc.yaml differ: stages not drawn {sorted(stages - named)}, "
        f"drawn but not in dvc.yaml {sorted(named - stages)}")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_library_imports_neither_stage_scripts_nor_dvc():
    bad = {str(p.relative_to(REPO)): sorted(_imports(p) & {"dvc", "pipelines", "scripts", "benchmarks", "tests"})
           for p in sorted((REPO / "src/langcpt").rglob("*.py"))}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"src/langcpt must not import these (README Layout: imports go one way): {bad}"

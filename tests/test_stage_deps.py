"""dvc.yaml: the code deps of every stage are exactly the files its script imports, so that editing one reruns it.

Each stage's `src/langcpt/**` and `pipelines/**` deps must equal the closure of imports (read with `ast`, imports
inside functions included, a package's `__init__.py` with it) that starts at the `pipelines/*.py` its `cmd` runs."""
import ast
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CODE = ("src/langcpt/", "pipelines/")


def module_file(name: str, script_dir: Path) -> Path | None:
    """The file of module `name` in src/langcpt or beside the stage script (sys.path[0]); a package's __init__.py."""
    parts = name.split(".")
    for base in [REPO / "src"] * (parts[0] == "langcpt") + [script_dir]:
        path = base.joinpath(*parts)
        for f in (path / "__init__.py", path.with_suffix(".py")):
            if f.is_file():
                return f
    return None


def imported_names(path: Path) -> set[str]:
    """Every module name `path` imports, anywhere in it; for `from m import n`, both m and m.n (n may be a module)."""
    package = list(path.relative_to(REPO / "src").parent.parts) if path.is_relative_to(REPO / "src") else []
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


def import_closure(script: Path) -> set[str]:
    """Repository-relative paths of `script` and every langcpt / pipelines file it imports, transitively."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path):
            parts = name.split(".")
            todo += [f for i in range(len(parts)) if (f := module_file(".".join(parts[:i + 1]), script.parent))]
    return {p.relative_to(REPO).as_posix() for p in seen}


def stages() -> dict[str, dict]:
    """name -> definition of every stage; a foreach/matrix stage by its `do` (or own) cmd and deps."""
    defined = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: d.get("do", d) for name, d in defined.items()}


@pytest.mark.parametrize("name", sorted(stages()))
def test_code_deps_are_the_import_closure_of_the_stage_script(name):
    stage = stages()[name]
    cmds = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
    scripts = [w for c in cmds for w in shlex.split(c) if w.startswith("pipelines/") and w.endswith(".py")]
    assert scripts, f"dvc.yaml stage {name}: its cmd runs no pipelines/*.py script: {cmds}"
    closure = set().union(*(import_closure(REPO / s) for s in scripts))
    deps = {d for d in stage.get("deps", []) if d.startswith(CODE)}
    missing, stale = sorted(closure - deps), sorted(deps - closure)
    if missing or stale:
        pytest.fail(f"dvc.yaml stage {name}: its code deps differ from what {', '.join(scripts)} imports"
                    + "".join(f"\n  add:    - {f}" for f in missing)
                    + "".join(f"\n  remove: - {f}" for f in stale), pytrace=False)


def test_the_closure_follows_imports_of_each_form():
    closure = import_closure(REPO / "pipelines/ingest.py")
    assert {"pipelines/ingest.py", "src/langcpt/__init__.py", "src/langcpt/ingest.py",  # from langcpt.x import y
            "src/langcpt/roff.py", "src/langcpt/sources.py"} <= closure  # from .x import y
    assert "src/langcpt/safety.py" not in closure  # params_schema checks safety.* through langcpt.referrals
    assert "src/langcpt/crisis_detector.py" in import_closure(REPO / "src/langcpt/safety.py")  # inside a function
    assert "src/langcpt/proficiency.py" in import_closure(REPO / "pipelines/eval_data.py")  # from langcpt import x
    assert "src/langcpt/safety.py" in import_closure(REPO / "src/langcpt/registry.py")  # from . import x

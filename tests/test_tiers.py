"""The test tiers (tests/conftest.py): the integration list names real test modules, and the tier split holds."""
from pathlib import Path

import conftest

TESTS = Path(__file__).parent


def test_every_listed_integration_module_exists():
    missing = sorted(m for m in conftest.INTEGRATION_MODULES if not (TESTS / f"{m}.py").is_file())
    assert not missing, f"tests/conftest.py INTEGRATION_MODULES names modules that do not exist: {missing}"


def test_the_pipeline_fixtures_exist():
    for name in conftest.INTEGRATION_FIXTURES:
        assert callable(getattr(conftest, name, None)), f"conftest has no fixture {name}"


def test_this_module_is_in_the_unit_tier(request):
    assert request.node.get_closest_marker("integration") is None


def test_a_test_using_the_tiny_pipeline_is_integration():
    """test_vocab.py is not listed: its tests that build the tiny pipeline are integration by their fixture."""
    import ast
    import subprocess
    import sys

    tree = ast.parse((TESTS / "test_vocab.py").read_text())
    uses = {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")
            and {a.arg for a in f.args.args} & conftest.INTEGRATION_FIXTURES}
    assert uses, "test_vocab.py no longer uses the tiny pipeline: pick another module for this test"
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "integration", "-p",
                          "no:cacheprovider", str(TESTS / "test_vocab.py")], capture_output=True, text=True,
                         cwd=TESTS.parent).stdout
    collected = {line.split("::")[1].split("[")[0] for line in out.splitlines() if "::" in line}
    assert collected == uses

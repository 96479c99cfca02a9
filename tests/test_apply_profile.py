"""pipelines/apply_profile.py on the real params.yaml and the real presets: comments kept, values applied, typos
rejected, and the presets switch back and forth."""
import subprocess
import sys

import yaml

from conftest import REPO
from langcpt.params import merge

PRESETS = ("de-german", "eu-basque", "en-mental-health")


def apply(profile, out, params=REPO / "params.yaml"):
    return subprocess.run([sys.executable, "pipelines/apply_profile.py", str(profile), "--params", str(params),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True)


def comments(text):
    return [line.split("#", 1)[1] for line in text.splitlines() if line.lstrip().startswith("#")]


def test_preset_applies_values_and_keeps_comments(tmp_path):
    params_text = (REPO / "params.yaml").read_text(encoding="utf-8")
    out = tmp_path / "params.yaml"
    proc = apply(REPO / "profiles" / "eu-basque.yaml", out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    expected = merge(yaml.safe_load(params_text), yaml.safe_load((REPO / "profiles/eu-basque.yaml").read_text()))
    assert yaml.safe_load(text) == expected
    assert expected["clean"]["language"] == "eu"
    assert [s["package"] for s in expected["ingest"]["target_sources"]] == ["libreoffice-help-eu"]
    # every full-line comment of params.yaml survives, in order (also the ones after a replaced list)
    assert comments(text) == comments(params_text)
    assert "  language: eu                 # str (ISO 639-1), default de: keep documents identified as this language" \
        in text.splitlines()
    # a key the preset does not touch keeps its line byte for byte
    assert "  block_size: 256              # int, default 256 (GPU profile 2048): tokens per packed training block" \
        in text.splitlines()


def test_presets_switch_back_to_the_committed_default(tmp_path):
    params_text = (REPO / "params.yaml").read_text(encoding="utf-8")
    for name in PRESETS:
        there, back = tmp_path / f"{name}.yaml", tmp_path / f"{name}-back.yaml"
        assert apply(REPO / "profiles" / f"{name}.yaml", there).returncode == 0
        assert apply(REPO / "profiles" / "de-german.yaml", back, params=there).returncode == 0
        assert yaml.safe_load(back.read_text()) == yaml.safe_load(params_text), name
        assert comments(back.read_text()) == comments(params_text)
    # the German preset is exactly the committed params.yaml (the two cannot drift apart)
    assert (tmp_path / "de-german.yaml").read_text(encoding="utf-8") == params_text


def test_mental_health_preset_names_its_licence():
    text = (REPO / "profiles" / "en-mental-health.yaml").read_text(encoding="utf-8")
    assert "CC-BY-NC-4.0" in text.splitlines()[0]
    assert yaml.safe_load(text)["ingest"]["target_sources"][0]["license"] == "CC-BY-NC-4.0"


def test_unknown_key_is_an_error_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "profiles" / "eu-basque.yaml").read_text().replace("  language: eu", "  langauge: eu"))
    out = tmp_path / "out.yaml"
    proc = apply(bad, out)
    assert proc.returncode == 1 and "clean.langauge" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    bad.write_text("clean: {language: eu}\nclean: {language: de}\n")  # duplicate keys: an error, not last-wins
    proc = apply(bad, out)
    assert proc.returncode == 1 and "not valid YAML" in proc.stderr and not out.exists()
    bad.write_text("- not a mapping\n")
    proc = apply(bad, out)
    assert proc.returncode == 1 and "expected a mapping" in proc.stderr and not out.exists()

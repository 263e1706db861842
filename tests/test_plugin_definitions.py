"""meltano.yml and the settings docs stay in step with what the plugins really accept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tap_fortnox.tap import TapFortnox
from target_senseworks.target import TargetSenseworks

ROOT = Path(__file__).resolve().parents[1]
MELTANO = yaml.safe_load((ROOT / "meltano.yml").read_text())
KINDS = {"string": {"string"}, "integer": {"integer"}, "number": {"decimal"}, "boolean": {"boolean"},
         "array": {"array"}}


def _plugin(kind: str, name: str) -> dict:
    return next(p for p in MELTANO["plugins"][kind] if p["name"] == name)


@pytest.mark.parametrize(("kind", "name", "cls"), [("extractors", "tap-fortnox", TapFortnox),
                                                   ("loaders", "target-senseworks", TargetSenseworks)])
def test_meltano_declares_every_setting_as_the_plugin_does(kind: str, name: str, cls: type) -> None:
    declared = {s["name"]: s for s in _plugin(kind, name)["settings"]}
    # The SDK adds its built-in settings (stream maps, flattening, batch) to the class's
    # schema once a plugin has been created; Meltano knows those from the capabilities.
    builtin: dict = {"type": "object", "properties": {}}
    cls.append_builtin_config(builtin)
    schema = {k: v for k, v in cls.config_jsonschema["properties"].items()
              if k not in builtin["properties"]}
    assert set(declared) == set(schema)
    for setting, prop in schema.items():
        meltano = declared[setting]
        assert bool(meltano.get("sensitive")) == bool(prop.get("secret")), setting
        assert meltano.get("description"), f"{setting} needs a description in meltano.yml"
        types = set(prop.get("type", [])) if isinstance(prop.get("type"), list) else {prop.get("type")}
        types.discard("null")
        if meltano["kind"] == "options":
            assert {o["value"] for o in meltano["options"]} == set(prop.get("enum") or [
                o["value"] for o in meltano["options"]]), setting
        elif meltano["kind"] == "date_iso8601":
            assert prop.get("format") in ("date", "date-time"), setting
        else:
            assert any(meltano["kind"] in KINDS.get(t, set()) for t in types), (setting, types)


def test_custom_plugins_never_ask_the_hub() -> None:
    for kind in ("extractors", "loaders"):
        for plugin in MELTANO["plugins"][kind]:
            assert plugin.get("namespace") or plugin.get("inherit_from"), plugin["name"]
            assert plugin.get("pip_url") or plugin.get("inherit_from"), plugin["name"]
    assert MELTANO["send_anonymous_usage_stats"] is False


@pytest.mark.parametrize("plugin", ["tap-fortnox", "target-senseworks"])
def test_settings_reference_is_current(plugin: str) -> None:
    about = subprocess.run([str(Path(sys.executable).parent / plugin), "--about", "--format=markdown"],
                           capture_output=True, text=True, check=True).stdout
    written = (ROOT / "docs" / "settings" / f"{plugin}.md").read_text()
    assert about == written, f"docs/settings/{plugin}.md is stale: run scripts/generate-docs.sh"

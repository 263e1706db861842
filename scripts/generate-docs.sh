#!/usr/bin/env bash
# Regenerate the plugins' settings reference from their own --about output.
# tests/test_plugin_definitions.py fails when these files are not current.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/tap-fortnox --about --format=markdown > docs/settings/tap-fortnox.md
.venv/bin/target-senseworks --about --format=markdown > docs/settings/target-senseworks.md

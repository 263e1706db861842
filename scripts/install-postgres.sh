#!/usr/bin/env bash
# Install PostgreSQL server binaries (initdb, pg_ctl) for the target's tests, if missing.
# Idempotent: does nothing when /usr/lib/postgresql/*/bin/initdb already exists.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "PostgreSQL already installed: $(ls -d /usr/lib/postgresql/*/bin/initdb | tr '\n' ' ')"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends postgresql
ls -d /usr/lib/postgresql/*/bin/initdb

#!/usr/bin/env bash
# The main job on a fresh clone, against the bundled Fortnox sandbox:
# set up, start the sandbox, `meltano run tap-fortnox target-senseworks`, show the ledger, stop.
set -euo pipefail
cd "$(dirname "$0")/.."

export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
MELTANO_VERSION=4.4.1

make --no-print-directory venv
if [ ! -x .venv-meltano/bin/meltano ]; then
  echo "== installing Meltano $MELTANO_VERSION into .venv-meltano"
  python3 -m venv .venv-meltano
  .venv-meltano/bin/python -m pip install --quiet --upgrade pip
  .venv-meltano/bin/python -m pip install --quiet "meltano==$MELTANO_VERSION"
fi
MELTANO=.venv-meltano/bin/meltano
echo "== meltano install"
$MELTANO install

port=${FORTNOX_SANDBOX_PORT:-8765}
if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
  port=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  echo "== port 8765 is taken; the sandbox uses $port"
fi
export TAP_FORTNOX_API_URL="http://127.0.0.1:$port" TAP_FORTNOX_AUTH_URL="http://127.0.0.1:$port/oauth-v1"

mkdir -p output
echo "== starting the Fortnox sandbox on 127.0.0.1:$port (log: output/sandbox.log)"
# Three companies with three years each; 300 vouchers a year keeps the first run (every
# document downloaded at Fortnox's real 25 requests per 5 s) to a couple of minutes.
.venv/bin/fortnox-sandbox serve --port "$port" --profile demo --vouchers-per-year 300 \
  > output/sandbox.log 2>&1 &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true; wait $sandbox 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then break; fi
  kill -0 $sandbox 2>/dev/null || { cat output/sandbox.log; exit 1; }
  sleep 0.1
done

# A new ledger needs whole years: if output/senseworks.db is not there (a fresh clone, or
# it was deleted while Meltano's state was kept), read everything again.
refresh=()
[ -f output/senseworks.db ] || refresh=(--full-refresh)
echo "== meltano run ${refresh[*]} tap-fortnox target-senseworks"
$MELTANO run "${refresh[@]}" tap-fortnox target-senseworks

echo "== senseworks status"
.venv/bin/senseworks status --database-url "sqlite:///$PWD/output/senseworks.db"

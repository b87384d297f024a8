#!/usr/bin/env bash
# Schemathesis (from PyPI, in its own venv) against a freshly built `andi` on a new SQLite
# file: all checks, all phases, three times: with an admin key, a read-only key and no key.
# Each run is bounded by ST_MAX_TIME seconds (default 80, so the three stay under the 6
# minutes CI allows on 2 cores); any failure fails the script. ANDI_BIN names a prebuilt
# binary; ST_VENV where the venv lives (kept between runs, so a second run installs nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

venv="${ST_VENV:-${HOME}/.cache/andi/schemathesis-venv}"
if ! "${venv}/bin/st" --version 2>/dev/null | grep -q ' 4\.'; then
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
"${venv}/bin/st" --version

if [ -z "${ANDI_BIN:-}" ]; then
  cargo build --bin andi
  ANDI_BIN="${root}/target/debug/andi"
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "${server}" ]; then kill "${server}" 2>/dev/null || true; fi
  rm -rf "${work}"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://${work}/andi.db?mode=rwc"
"${ANDI_BIN}" migrate >/dev/null
"${ANDI_BIN}" workspace create fuzz --name "Schemathesis" >/dev/null
admin=$("${ANDI_BIN}" key create --workspace fuzz --name st-admin --role admin 2>/dev/null)
reader=$("${ANDI_BIN}" key create --workspace fuzz --name st-reader --role viewer 2>/dev/null)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Schemathesis sends thousands of requests without a key or with a made-up one from this one
# address: the per-address throttle of failed authentications would answer them all 429.
ANDI_LISTEN="127.0.0.1:${port}" ANDI_POLICY_DIR="${root}/policies" \
  ANDI_MAX_AUTH_FAILURES_PER_IP=0 RUST_LOG=warn \
  "${ANDI_BIN}" serve >"${work}/server.log" 2>&1 &
server=$!
url="http://127.0.0.1:${port}"
for _ in $(seq 1 50); do
  curl -fsS "${url}/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

export PYTHONPATH="${root}/tests/schemathesis" SCHEMATHESIS_HOOKS=hooks
failed=0
run() {
  local name=$1
  shift
  printf '\n--- schemathesis: %s ---\n' "${name}"
  # From the temporary directory: Schemathesis keeps a cache in the working directory.
  if ! (cd "${work}" && "${venv}/bin/st" --no-color \
    --config-file "${root}/tests/schemathesis/schemathesis.toml" run "${url}/api/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-time "${ST_MAX_TIME:-80}" --workers 2 --seed 1 \
    --request-timeout 10 \
    --report junit --report-dir "${work}/report-${name}" \
    "$@"); then
    failed=1
  fi
}
# The key goes in both headers, so the value Schemathesis generates for either is replaced
# by it (the server accepts the two when they carry the same key).
run admin -H "Authorization: Bearer ${admin}" -H "x-api-key: ${admin}"
run read-only -H "Authorization: Bearer ${reader}" -H "x-api-key: ${reader}"
run no-key

if [ "${failed}" -ne 0 ]; then
  echo "schemathesis found failures; the server's log:" >&2
  tail -n 50 "${work}/server.log" >&2
  exit 1
fi

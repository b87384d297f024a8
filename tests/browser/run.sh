#!/usr/bin/env bash
# Runs the console's browser test: installs Debian's chromium and playwright-core when
# missing, builds `andi` unless ANDI_BIN names one, then drives the console headless.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
if [ -z "${ANDI_BIN:-}" ]; then
  (cd ../.. && cargo build --bin andi)
  ANDI_BIN="$(cd ../.. && pwd)/target/debug/andi"
  export ANDI_BIN
fi
node --test console.test.mjs

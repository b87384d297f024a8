#!/usr/bin/env bash
# Load test: the release server on SQLite and on PostgreSQL, driven by wrk on loopback,
# beside a bare axum server (examples/bare_axum.rs: one route, a static JSON body, no layers)
# started on the same machine for the whole run, the ceiling every route is compared with.
#
# For each database it creates a workspace with keys and 20 object definitions, plus 1,000
# definitions in 50 other workspaces (so the key's workspace is a small slice), then runs
# ROUNDS rounds of, in turn:
#   bare      GET / on the bare axum server   the ceiling: axum alone
#   healthz   GET /healthz                    Andi's fixed cost: no key, no database
#   key       GET /api/key, valid key
#   limited   GET /api/key, a key with a rate limit it never reaches (the cost of counting:
#             one upsert per request)
#   objects   GET /api/objects, valid key
#   forbidden GET /api/objects, key without objects.read (403)
#   unknown   GET /api/objects, well-formed unknown key (401)
# and prints requests/s, p50 and p99 per run, then each route's mean requests/s and its
# ratios to the bare server and to /healthz. wrk and the servers share this machine's cores.
#
#   bash bench/load.sh                       # both databases
#   BACKENDS=sqlite DURATION=3s bash bench/load.sh
#
# Settings (environment): BACKENDS (sqlite postgres), ROUNDS (3), DURATION (5s per run),
# THREADS (1) and CONNECTIONS (32) for wrk, PORT (18080), BARE_PORT (18081),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-sqlite postgres}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18080}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BARE_PORT=${BARE_PORT:-18081}
BASE="http://127.0.0.1:${PORT}"
BARE="http://127.0.0.1:${BARE_PORT}"
ROUTES=${ROUTES:-bare healthz key limited objects forbidden unknown}

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin andi --example bare_axum
ANDI="$PWD/target/release/andi"
WORK=$(mktemp -d)
SERVER_PID=""
BARE_PID=""
PG_DB=""

cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$BARE_PID" ]]; then kill "$BARE_PID" 2>/dev/null || true; wait "$BARE_PID" 2>/dev/null || true; fi
  if [[ -n "$PG_DB" ]]; then psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A well-formed key that no server here knows: minted in a scratch database.
"$ANDI" workspace create scratch --name Scratch --database-url "sqlite://$WORK/scratch.db?mode=rwc" >/dev/null
UNKNOWN_KEY=$("$ANDI" key create --workspace scratch --name unknown --permission objects.read \
  --database-url "sqlite://$WORK/scratch.db?mode=rwc" 2>/dev/null)

start_server() {
  RUST_LOG=warn ANDI_LISTEN="127.0.0.1:${PORT}" ANDI_POLICY_DIR="$PWD/policies" \
    "$ANDI" serve --database-url "$1" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

start_bare() {
  BARE_LISTEN="127.0.0.1:${BARE_PORT}" "$PWD/target/release/examples/bare_axum" >"$WORK/bare.log" 2>&1 &
  BARE_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BARE/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the bare axum server did not start; its log:" >&2
  cat "$WORK/bare.log" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

create_definitions() { # KEY COUNT PREFIX
  for n in $(seq 1 "$2"); do
    printf '{"name":"%s %d","attributes":{"amount":{"type":"number"},"note":{"type":"text"}}}\n' "$3" "$n"
  done | while read -r body; do
    curl -fsS -o /dev/null -X POST "$BASE/api/objects" -H "Authorization: Bearer $1" \
      -H 'content-type: application/json' -d "$body"
  done
}

# Runs wrk once and prints "requests/s p50 p99" (latencies in ms).
measure() { # URL KEY
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency)
  [[ -n "$2" ]] && args+=(-H "Authorization: Bearer $2")
  timeout 120 wrk "${args[@]}" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

run_backend() { # NAME DATABASE_URL
  local name=$1 url=$2
  local setup=(--database-url "$url")
  "$ANDI" workspace create load --name Load "${setup[@]}" >/dev/null
  local writer reader denied
  writer=$("$ANDI" key create --workspace load --name writer --permission objects.write "${setup[@]}" 2>/dev/null)
  reader=$("$ANDI" key create --workspace load --name reader --role viewer "${setup[@]}" 2>/dev/null)
  denied=$("$ANDI" key create --workspace load --name no-objects --permission workspaces.read "${setup[@]}" 2>/dev/null)
  limited=$("$ANDI" key create --workspace load --name limited --role viewer --rate-limit 1000000000/1d "${setup[@]}" 2>/dev/null)
  local others=()
  for w in $(seq 1 50); do
    "$ANDI" workspace create "other-$w" --name "Other $w" "${setup[@]}" >/dev/null
    others+=("$("$ANDI" key create --workspace "other-$w" --name writer --permission objects.write "${setup[@]}" 2>/dev/null)")
  done

  start_server "$url"
  create_definitions "$writer" 20 "Load object"
  for key in "${others[@]}"; do create_definitions "$key" 20 "Other object"; done
  local listed
  listed=$(curl -fsS "$BASE/api/objects" -H "Authorization: Bearer $reader" | grep -o '"handle"' | wc -l)
  echo "[$name] the key's workspace lists $listed definitions; 1,000 more in 50 other workspaces" >&2
  for code in "key:$reader:200" "objects:$reader:200" "forbidden:$denied:403" "unknown:$UNKNOWN_KEY:401"; do
    IFS=: read -r route key want <<<"$code"
    local path=/api/objects; [[ $route == key ]] && path=/api/key
    got=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$path" -H "Authorization: Bearer $key")
    [[ $got == "$want" ]] || { echo "[$name] $route answered $got, expected $want" >&2; exit 1; }
  done

  for round in $(seq 1 "$ROUNDS"); do
    for route in $ROUTES; do
      case $route in
        bare) result=$(measure "$BARE/" "") ;;
        healthz) result=$(measure "$BASE/healthz" "") ;;
        key) result=$(measure "$BASE/api/key" "$reader") ;;
        limited) result=$(measure "$BASE/api/key" "$limited") ;;
        objects) result=$(measure "$BASE/api/objects" "$reader") ;;
        forbidden) result=$(measure "$BASE/api/objects" "$denied") ;;
        unknown) result=$(measure "$BASE/api/objects" "$UNKNOWN_KEY") ;;
      esac
      echo "$name $route $round $result" >>"$WORK/results"
      printf '%-8s %-10s round %d  %8s req/s  p50 %7s ms  p99 %7s ms\n' "$name" "$route" "$round" $result
    done
  done
  stop_server
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk: $THREADS thread(s), $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds"
start_bare
for backend in $BACKENDS; do
  case $backend in
    sqlite) run_backend sqlite "sqlite://$WORK/andi.db?mode=rwc" ;;
    postgres)
      PG_DB="andi_load_$$"
      psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
      run_backend postgres "${PG_ADMIN_URL%/*}/$PG_DB"
      psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null
      PG_DB=""
      ;;
    *) echo "unknown backend $backend (sqlite, postgres)" >&2; exit 1 ;;
  esac
done

echo
echo "summary (mean of $ROUNDS rounds; × bare = route req/s / bare axum req/s, × healthz = route req/s / /healthz req/s, both in the same backend's rounds)"
awk '
  { rps[$1" "$2] += $4; p50[$1" "$2] += $5; p99[$1" "$2] += $6; n[$1" "$2]++ }
  END {
    split("sqlite postgres", backends, " "); split("bare healthz key limited objects forbidden unknown", routes, " ")
    printf "%-8s %-10s %10s %10s %10s %8s %10s\n", "backend", "route", "req/s", "p50 ms", "p99 ms", "× bare", "× healthz"
    for (b = 1; b <= 2; b++) for (r = 1; r <= 7; r++) {
      k = backends[b] " " routes[r]; if (!(k in n)) continue
      mean = rps[k] / n[k]
      bare = "-"; healthz = "-"
      if ((backends[b] " bare") in n) bare = sprintf("%.2f", mean / (rps[backends[b] " bare"] / n[backends[b] " bare"]))
      if ((backends[b] " healthz") in n) healthz = sprintf("%.2f", mean / (rps[backends[b] " healthz"] / n[backends[b] " healthz"]))
      printf "%-8s %-10s %10.0f %10.3f %10.3f %8s %10s\n", backends[b], routes[r], mean, p50[k]/n[k], p99[k]/n[k], bare, healthz
    }
  }' "$WORK/results"

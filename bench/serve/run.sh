#!/usr/bin/env bash
# HTTP benchmark of `modelry serve` against the bare Starlette floor, side by side in one run.
#
# Single-instance requests on loopback: each server pinned to core $SERVER_CPU, wrk to core
# $LOAD_CPU (1 thread, $CONNS connections), a $WARM s warm-up, then $DUR s measured; systems
# interleaved floor, v1, v2, floor, v1, v2 ($ROUNDS rounds). Writes the raw results under $OUT,
# prints a markdown table and appends it, with the exact command, to bench/RESULTS.md.
#
# Usage: bench/serve/run.sh
# Env:   CSV (bank-additional-full.csv; default ../shared/data/...), MODELRY_HOME (a registry that
#        holds model "bank", or where to train it; default /tmp/modelry-bench-home), MODEL=bank,
#        DUR=15 WARM=5 CONNS=8 ROUNDS=2 SERVER_CPU=0 LOAD_CPU=1 PORT=8080 FLOOR_PORT=8001,
#        OUT (default /tmp/modelry-bench-serve), NO_RESULTS=1 (do not append to RESULTS.md),
#        SERVE_ARGS (extra `modelry serve` options, e.g. --batching).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=$ROOT/.venv/bin/python
MODELRY=$ROOT/.venv/bin/modelry
CSV=${CSV:-$ROOT/../shared/data/bank_marketing_additional/bank-additional-full.csv}
export MODELRY_HOME=${MODELRY_HOME:-/tmp/modelry-bench-home}
MODEL=${MODEL:-bank}
DUR=${DUR:-15} WARM=${WARM:-5} CONNS=${CONNS:-8} ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-8080} FLOOR_PORT=${FLOOR_PORT:-8001}
OUT=${OUT:-/tmp/modelry-bench-serve}
SERVE_ARGS=${SERVE_ARGS:-}
COMMAND="bench/serve/run.sh (DUR=$DUR WARM=$WARM CONNS=$CONNS ROUNDS=$ROUNDS SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU SERVE_ARGS='$SERVE_ARGS')"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
mkdir -p "$OUT/logs"
rm -f "$OUT/results.jsonl"

if ! "$MODELRY" models show "$MODEL" >/dev/null 2>&1; then
  echo "== training $MODEL into $MODELRY_HOME"
  "$MODELRY" train "$CSV" --target y --drop duration --name "$MODEL" >"$OUT/logs/train.log" 2>&1
fi
"$PY" "$HERE/payloads.py" "$CSV" "$OUT/payloads"

PIDS=()
start() {  # name, command...: its own process group, pinned to the server core
  local name=$1; shift
  setsid taskset -c "$SERVER_CPU" "$@" >"$OUT/logs/$name.log" 2>&1 &
  PIDS+=($!)
}
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM -- -"$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

start floor "$PY" -m uvicorn --app-dir "$HERE" floor_starlette:app --host 127.0.0.1 \
  --port "$FLOOR_PORT" --no-access-log --log-level warning
# shellcheck disable=SC2086
start modelry "$MODELRY" serve --host 127.0.0.1 --port "$PORT" --models "$MODEL" $SERVE_ARGS

url_of() {
  case $1 in
    floor) echo "http://127.0.0.1:$FLOOR_PORT/predict" ;;
    v1) echo "http://127.0.0.1:$PORT/v1/models/$MODEL:predict" ;;
    v2) echo "http://127.0.0.1:$PORT/v2/models/$MODEL/infer" ;;
  esac
}
body_of() { case $1 in floor) echo "$OUT/payloads/const.json" ;; *) echo "$OUT/payloads/$1.json" ;; esac; }

for sys in floor v1 v2; do
  ok=""
  for _ in $(seq 1 150); do
    code=$(curl -s -o "$OUT/logs/$sys.response.json" -w '%{http_code}' -X POST \
      -H 'Content-Type: application/json' --data-binary @"$(body_of $sys)" "$(url_of $sys)" || true)
    [[ $code == 200 ]] && { ok=1; break; }
    sleep 0.2
  done
  [[ -n $ok ]] || { echo "$sys did not answer 200 (last $code); see $OUT/logs"; exit 1; }
  echo "== $sys ready: $(head -c 160 "$OUT/logs/$sys.response.json")"
done

for round in $(seq 1 "$ROUNDS"); do
  for sys in floor v1 v2; do
    url=$(url_of $sys) body=$(body_of $sys)
    BODY_FILE=$body taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARM}s" --timeout 10s \
      -s "$HERE/post.lua" "$url" >"$OUT/logs/r$round-$sys.warmup.txt" 2>&1
    BODY_FILE=$body taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s --latency \
      -s "$HERE/post.lua" "$url" >"$OUT/logs/r$round-$sys.wrk.txt" 2>&1
    line=$(grep '^RESULT ' "$OUT/logs/r$round-$sys.wrk.txt" | sed 's/^RESULT //')
    echo "{\"round\": $round, \"system\": \"$sys\", \"wrk\": ${line:-null}}" >>"$OUT/results.jsonl"
    echo "   round $round $sys: ${line:-wrk failed}"
  done
done

stop_all
trap - EXIT
"$PY" "$HERE/summarize.py" "$OUT/results.jsonl" --command "$COMMAND" >"$OUT/table.md"
{
  echo
  echo "In process, no sockets (\`bench/serve/inproc.py\`, core $SERVER_CPU): µs per request through"
  echo "the ASGI app, with the real model and with its predict replaced by a constant:"
  echo
  echo '```'
  taskset -c "$SERVER_CPU" "$PY" "$HERE/inproc.py" "$MODELRY_HOME" "$OUT/payloads" --model "$MODEL" | sed 's/^/model    /'
  taskset -c "$SERVER_CPU" "$PY" "$HERE/inproc.py" "$MODELRY_HOME" "$OUT/payloads" --model "$MODEL" --stub-model | sed 's/^/stubbed  /'
  echo '```'
} >>"$OUT/table.md"
cat "$OUT/table.md"
if [[ -z ${NO_RESULTS:-} ]]; then
  { echo; cat "$OUT/table.md"; } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md"
fi

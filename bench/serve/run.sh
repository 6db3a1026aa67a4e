#!/usr/bin/env bash
# HTTP benchmark of `modelry serve` against the bare Starlette floor and the peers the founding
# document's users would compare it with, side by side in one run.
#
# Single-instance requests on loopback: each server pinned to core $SERVER_CPU, wrk to core
# $LOAD_CPU (1 thread, $CONNS connections), a $WARM s warm-up, then $DUR s measured; systems
# interleaved floor, v1, v2, seed, mlserver, then the reverse order, ... ($ROUNDS rounds). Writes
# the raw results under $OUT, prints a markdown table and appends it, with the exact command, to
# bench/history.md (the dated log; bench/RESULTS.md is the hand-kept summary).
#
# Peers (started exactly as ../shared/anchors/run_round.sh starts them, see README.md for setup):
#   seed      the founding document's Flask + Keras app (anchors' seed_app.py, Flask dev server,
#             127.0.0.1:5000), body [[62 preprocessed floats]] ($ART/payloads/seed_flask.json)
#   mlserver  Seldon MLServer 1.7.1, mlserver_sklearn MLPClassifier(64,32), V2 on 127.0.0.1:8080,
#             body $ART/payloads/mlserver_v2.json (the same 62 floats)
# A peer whose venv, anchors copy or artifacts are missing is skipped with a message.
#
# Usage: bench/serve/run.sh
# Env:   CSV (bank-additional-full.csv; default ../shared/data/...), MODELRY_HOME (a registry that
#        holds model "bank", or where to train it; default /tmp/modelry-bench-home), MODEL=bank,
#        DUR=15 WARM=5 CONNS=8 ROUNDS=2 SERVER_CPU=0 LOAD_CPU=1 PORT=8090 FLOOR_PORT=8001,
#        OUT (default /tmp/modelry-bench-serve), NO_RESULTS=1 (do not append to history.md),
#        SERVE_ARGS (extra `modelry serve` options, e.g. --batching),
#        PEERS="seed mlserver" (empty: none), ANCHORS=/tmp/anchors (a copy of ../shared/anchors),
#        ART=/tmp/bench-art (anchors' prepare_artifacts.sh), VENV_TF=/tmp/venv-tf,
#        VENV_MLSERVER=/tmp/venv-mlserver.
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
PORT=${PORT:-8090} FLOOR_PORT=${FLOOR_PORT:-8001}
OUT=${OUT:-/tmp/modelry-bench-serve}
SERVE_ARGS=${SERVE_ARGS:-}
PEERS=${PEERS-seed mlserver}
ANCHORS=${ANCHORS:-/tmp/anchors} ART=${ART:-/tmp/bench-art}
VENV_TF=${VENV_TF:-/tmp/venv-tf} VENV_MLSERVER=${VENV_MLSERVER:-/tmp/venv-mlserver}
SEED_PORT=5000 MLSERVER_PORT=8080  # fixed by the anchors (Flask default; mlserver/settings.json)
COMMAND="bench/serve/run.sh (DUR=$DUR WARM=$WARM CONNS=$CONNS ROUNDS=$ROUNDS SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU SERVE_ARGS='$SERVE_ARGS' PEERS='$PEERS')"

# Which peers can run: each needs its venv, the anchors copy and the anchors' artifacts.
missing() { local f; for f in "$@"; do [[ -e $f ]] || { echo "$f"; return; }; done; }
RUN_PEERS=()
for peer in $PEERS; do
  case $peer in
    seed) need=$(missing "$VENV_TF/bin/python" "$ANCHORS/seed_app.py" "$ART/model.keras" \
            "$ART/payloads/seed_flask.json") ;;
    mlserver) need=$(missing "$VENV_MLSERVER/bin/mlserver" "$ANCHORS/mlserver/settings.json" \
            "$ANCHORS/mlserver/model-settings.json.in" "$ART/mlp_sklearn.joblib" \
            "$ART/payloads/mlserver_v2.json") ;;
    *) echo "unknown peer '$peer' (PEERS takes: seed mlserver)"; exit 2 ;;
  esac
  if [[ -n $need ]]; then
    echo "== skipping peer $peer: $need is missing (setup: bench/serve/README.md, section Peers)"
  else
    RUN_PEERS+=("$peer")
  fi
done

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
mkdir -p "$OUT/logs"
rm -f "$OUT/results.jsonl"

if ! "$MODELRY" models show "$MODEL" >/dev/null 2>&1; then
  echo "== training $MODEL into $MODELRY_HOME"
  "$MODELRY" train "$CSV" --target y --drop duration --name "$MODEL" >"$OUT/logs/train.log" 2>&1
fi
"$PY" "$HERE/payloads.py" "$CSV" "$OUT/payloads"

# A server already listening on one of our ports would be measured instead of ours.
port_of_peer() { case $1 in seed) echo "$SEED_PORT" ;; mlserver) echo "$MLSERVER_PORT 8081 8082" ;; esac; }
for port in "$FLOOR_PORT" "$PORT" $(for p in "${RUN_PEERS[@]}"; do port_of_peer "$p"; done); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use on 127.0.0.1: stop what listens there (or set PORT/FLOOR_PORT)"
    exit 1
  fi
done

declare -A PID_OF=()
start() {  # name, command...: its own process group, pinned to the server core
  local name=$1; shift
  setsid taskset -c "$SERVER_CPU" "$@" >"$OUT/logs/$name.log" 2>&1 &
  PID_OF[$name]=$!
}
stop() {  # name: TERM its process group, KILL it after 10 s
  local pid=${PID_OF[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM -- -"$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 -- -"$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID_OF[$1]"
}
stop_all() { local name; for name in "${!PID_OF[@]}"; do stop "$name"; done; }
trap stop_all EXIT

start floor "$PY" -m uvicorn --app-dir "$HERE" floor_starlette:app --host 127.0.0.1 \
  --port "$FLOOR_PORT" --no-access-log --log-level warning
# shellcheck disable=SC2086
start modelry "$MODELRY" serve --host 127.0.0.1 --port "$PORT" --models "$MODEL" $SERVE_ARGS
for peer in "${RUN_PEERS[@]}"; do
  case $peer in
    seed) start seed env ART="$ART" "$VENV_TF/bin/python" "$ANCHORS/seed_app.py" ;;
    mlserver)  # repo dir: settings.json + bank-mlp/model-settings.json (@ART@ -> $ART), as the anchors
      repo=$OUT/mlserver-repo
      rm -rf "$repo" && mkdir -p "$repo/bank-mlp"
      cp "$ANCHORS/mlserver/settings.json" "$repo/"
      sed "s#@ART@#$ART#" "$ANCHORS/mlserver/model-settings.json.in" >"$repo/bank-mlp/model-settings.json"
      start mlserver bash -c "cd '$repo' && exec '$VENV_MLSERVER/bin/mlserver' start '$repo'" ;;
  esac
done

url_of() {
  case $1 in
    floor) echo "http://127.0.0.1:$FLOOR_PORT/predict" ;;
    v1) echo "http://127.0.0.1:$PORT/v1/models/$MODEL:predict" ;;
    v2) echo "http://127.0.0.1:$PORT/v2/models/$MODEL/infer" ;;
    seed) echo "http://127.0.0.1:$SEED_PORT/predict" ;;
    mlserver) echo "http://127.0.0.1:$MLSERVER_PORT/v2/models/bank-mlp/infer" ;;
  esac
}
body_of() {
  case $1 in
    floor) echo "$OUT/payloads/const.json" ;;
    seed) echo "$ART/payloads/seed_flask.json" ;;
    mlserver) echo "$ART/payloads/mlserver_v2.json" ;;
    *) echo "$OUT/payloads/$1.json" ;;
  esac
}
proc_of() { case $1 in v1 | v2) echo modelry ;; *) echo "$1" ;; esac; }

# Ready = one request answered 200 (up to 120 s: Keras and MLServer take a while to load).
SYSTEMS=()
for sys in floor v1 v2 "${RUN_PEERS[@]}"; do
  ok="" code=000 deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    code=$(curl -s -m 30 -o "$OUT/logs/$sys.response.json" -w '%{http_code}' -X POST \
      -H 'Content-Type: application/json' --data-binary @"$(body_of $sys)" "$(url_of $sys)" || true)
    [[ $code == 200 ]] && { ok=1; break; }
    kill -0 "${PID_OF[$(proc_of $sys)]}" 2>/dev/null || break
    sleep 0.2
  done
  if [[ -z $ok ]]; then
    case $sys in
      floor | v1 | v2) echo "$sys did not answer 200 (last $code); see $OUT/logs"; exit 1 ;;
      *) echo "== skipping peer $sys: it did not answer 200 (last $code); see $OUT/logs/$sys.log"
        stop "$sys"; continue ;;
    esac
  fi
  SYSTEMS+=("$sys")
  echo "== $sys ready: $(head -c 160 "$OUT/logs/$sys.response.json")"
done

# CPU time the hypervisor gave elsewhere during the measurements (/proc/stat "steal"), as a share
# of all CPU time: the noise this VM adds to every figure.
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
read -r TOTAL_BEFORE STEAL_BEFORE < <(cpu_ticks)

# CPU seconds (user + system) that a server's processes (its session: `start` runs each in its own)
# used so far. Per request, this is the cost the hypervisor's steal leaves out: the throughput
# ratio swings with the machine, this one much less (see summarize.py).
HZ=$(getconf CLK_TCK)
session_cpu() {
  awk -v sid="$1" -v hz="$HZ" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " ");
    if (f[4] == sid) t += f[12] + f[13] } END { printf "%.2f", t / hz }' /proc/[0-9]*/stat 2>/dev/null
}

# wrk stops at -d; `timeout` only guards against a wrk that hangs (a stuck server must not stall
# the run); a failed measurement is recorded as null and the run goes on.
# Even rounds run the systems in reverse order, so that none always follows the same one.
for round in $(seq 1 "$ROUNDS"); do
  order=("${SYSTEMS[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#SYSTEMS[@]} - 1; i >= 0; i--)); do order+=("${SYSTEMS[i]}"); done
  fi
  for sys in "${order[@]}"; do
    url=$(url_of $sys) body=$(body_of $sys)
    BODY_FILE=$body timeout $((WARM + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARM}s" \
      --timeout 10s -s "$HERE/post.lua" "$url" >"$OUT/logs/r$round-$sys.warmup.txt" 2>&1 || true
    sid=${PID_OF[$(proc_of $sys)]}
    cpu_before=$(session_cpu "$sid")
    BODY_FILE=$body timeout $((DUR + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" \
      --timeout 10s --latency -s "$HERE/post.lua" "$url" >"$OUT/logs/r$round-$sys.wrk.txt" 2>&1 || true
    cpu=$(awk -v a="$cpu_before" -v b="$(session_cpu "$sid")" 'BEGIN{printf "%.2f", b - a}')
    line=$(grep '^RESULT ' "$OUT/logs/r$round-$sys.wrk.txt" | sed 's/^RESULT //' || true)
    echo "{\"round\": $round, \"system\": \"$sys\", \"wrk\": ${line:-null}, \"server_cpu_s\": $cpu}" \
      >>"$OUT/results.jsonl"
    echo "   round $round $sys: ${line:-wrk failed} server CPU ${cpu} s"
  done
done

read -r TOTAL_AFTER STEAL_AFTER < <(cpu_ticks)
STEAL_PCT=$(awk -v s=$((STEAL_AFTER - STEAL_BEFORE)) -v t=$((TOTAL_AFTER - TOTAL_BEFORE)) \
  'BEGIN{printf "%.1f", t ? 100 * s / t : 0}')
stop_all
trap - EXIT
"$PY" "$HERE/summarize.py" "$OUT/results.jsonl" --command "$COMMAND" >"$OUT/table.md"
{
  echo
  echo "Hypervisor steal during the measurements: $STEAL_PCT % of the machine's CPU time."
  echo
  echo "In process, no sockets (\`bench/serve/inproc.py --concurrency 4\`, core $SERVER_CPU): µs per request"
  echo "through the ASGI app, four requests at a time (so that batching joins them, as under wrk), with"
  echo "the real model and with its predict replaced by a constant:"
  echo
  echo '```'
  taskset -c "$SERVER_CPU" "$PY" "$HERE/inproc.py" "$MODELRY_HOME" "$OUT/payloads" --model "$MODEL" --concurrency 4 | sed 's/^/model    /'
  taskset -c "$SERVER_CPU" "$PY" "$HERE/inproc.py" "$MODELRY_HOME" "$OUT/payloads" --model "$MODEL" --stub-model --concurrency 4 | sed 's/^/stubbed  /'
  echo '```'
} >>"$OUT/table.md"
cat "$OUT/table.md"
if [[ -z ${NO_RESULTS:-} ]]; then
  { echo; cat "$OUT/table.md"; } >>"$ROOT/bench/history.md"
  echo "appended to bench/history.md"
fi

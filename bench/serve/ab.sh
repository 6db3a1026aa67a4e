#!/usr/bin/env bash
# Interleaved A/B of two source trees of modelry under the same load: is a change faster?
#
# A = the `src` of another checkout (e.g. `git worktree add /tmp/ab-base HEAD~1`), B = this
# checkout's `src`; both run with this checkout's venv, each through PYTHONPATH (so that both
# import the same way: in an A/A check, B run through the editable install instead measured 9 %
# slower than A for identical code). Each pair starts a fresh `modelry serve` on core
# $SERVER_CPU, warms it with wrk for 2 s, then measures $DUR s with wrk on core $LOAD_CPU
# (1 thread, $CONNS connections) and the server process's CPU time over that window; pairs
# alternate A,B then B,A. Prints each measurement and the medians: req/s, p99 and CPU µs per
# request (user + system of the server process; the hypervisor's steal is not charged to it).
#
# Usage: bench/serve/ab.sh A_SRC [PAIRS]
#        A_API=v1 B_API=v2 bench/serve/ab.sh src [PAIRS]    (V2 against V1 in this tree)
# Env:   MODELRY_HOME (a registry holding $MODEL; default /tmp/modelry-bench-home), MODEL=bank,
#        API=v1|v2|v2b (default v1; v2b: V2 with binary tensors, as tritonclient sends them;
#        A_API and B_API set each side apart), PAYLOADS (default /tmp/modelry-bench-serve/payloads, from
#        payloads.py), DUR=4 CONNS=8 SERVER_CPU=0 LOAD_CPU=1 PORT=8090, SERVE_ARGS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
A_SRC=${1:?usage: bench/serve/ab.sh A_SRC [PAIRS]}
PAIRS=${2:-6}
export MODELRY_HOME=${MODELRY_HOME:-/tmp/modelry-bench-home}
MODEL=${MODEL:-bank} API=${API:-v1} PAYLOADS=${PAYLOADS:-/tmp/modelry-bench-serve/payloads}
A_API=${A_API:-$API} B_API=${B_API:-$API}
DUR=${DUR:-4} CONNS=${CONNS:-8} SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-8090} SERVE_ARGS=${SERVE_ARGS:-}
[[ -d $A_SRC/modelry ]] || { echo "$A_SRC/modelry is not a modelry source tree"; exit 2; }
url_of() {
  case $1 in
    v1) echo "http://127.0.0.1:$PORT/v1/models/$MODEL:predict" ;;
    v2 | v2b) echo "http://127.0.0.1:$PORT/v2/models/$MODEL/infer" ;;
    *) echo "API must be v1, v2 or v2b" >&2; exit 2 ;;
  esac
}
url_of "$A_API" >/dev/null
url_of "$B_API" >/dev/null
body_of() { case $1 in v2b) echo "$PAYLOADS/v2b.bin" ;; *) echo "$PAYLOADS/$1.json" ;; esac; }
header_length_of() { [[ $1 == v2b ]] && cat "$PAYLOADS/v2b.header-length" || true; }
for api in "$A_API" "$B_API"; do
  [[ -f $(body_of "$api") ]] || {
    echo "$(body_of "$api") is missing: run bench/serve/payloads.py (see README.md)"; exit 2; }
done
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is already in use on 127.0.0.1"; exit 1
fi
OUT=$(mktemp)
SERVER=""
stop() { [[ -n $SERVER ]] && { kill -TERM -- -"$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; SERVER=""; }
trap stop EXIT

measure() {  # label, source tree, API
  local URL BODY HEADER_LENGTH
  URL=$(url_of "$3") BODY=$(body_of "$3") HEADER_LENGTH=$(header_length_of "$3")
  export HEADER_LENGTH
  # shellcheck disable=SC2086
  PYTHONPATH=$2 setsid taskset -c "$SERVER_CPU" "$ROOT/.venv/bin/modelry" serve --host 127.0.0.1 \
    --port "$PORT" --models "$MODEL" $SERVE_ARGS >"$OUT.log" 2>&1 &
  SERVER=$!
  local extra=()
  [[ -n $HEADER_LENGTH ]] && extra=(-H "Inference-Header-Content-Length: $HEADER_LENGTH")
  for _ in $(seq 100); do
    curl -s -o /dev/null -X POST "${extra[@]}" --data-binary @"$BODY" "$URL" && break
    sleep 0.2
  done
  BODY_FILE=$BODY taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s -s "$HERE/post.lua" "$URL" >/dev/null
  local before after line
  before=$(awk '{print $14 + $15}' /proc/"$SERVER"/stat)
  line=$(BODY_FILE=$BODY taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency \
    -s "$HERE/post.lua" "$URL" | sed -n 's/^RESULT //p')
  after=$(awk '{print $14 + $15}' /proc/"$SERVER"/stat)
  stop
  echo "$1 $line $((after - before)) $(getconf CLK_TCK)" | tee -a "$OUT"
}

for pair in $(seq "$PAIRS"); do
  if ((pair % 2)); then measure A "$A_SRC" "$A_API"; measure B "$ROOT/src" "$B_API"
  else measure B "$ROOT/src" "$B_API"; measure A "$A_SRC" "$A_API"; fi
done >/dev/null

"$ROOT/.venv/bin/python" - "$OUT" <<'PY'
import json
import statistics as st
import sys

rows = {"A": [], "B": []}
for line in open(sys.argv[1]):
    label, rest = line.split(" ", 1)
    result, ticks, hz = rest.rsplit(" ", 2)
    r = json.loads(result)
    r["cpu_us"] = int(ticks) / int(hz) / r["requests"] * 1e6
    rows[label].append(r)
for label, rs in rows.items():
    print(label, " ".join(f"{r['rps']:.0f}/{r['cpu_us']:.0f}µs" for r in rs))
med = {k: {m: st.median(r[m] for r in rs) for m in ("rps", "lat_p99_ms", "cpu_us")}
       for k, rs in rows.items()}
pairs = [round(b["rps"] / a["rps"], 3) for a, b in zip(rows["A"], rows["B"])]
print(f"req/s median A {med['A']['rps']:.0f}, B {med['B']['rps']:.0f}: B/A "
      f"{med['B']['rps'] / med['A']['rps']:.3f} (pairs {pairs}, median {st.median(pairs):.3f})")
cpu_pairs = [b["cpu_us"] / a["cpu_us"] for a, b in zip(rows["A"], rows["B"])]
print(f"CPU µs/request median A {med['A']['cpu_us']:.0f}, B {med['B']['cpu_us']:.0f}: B/A "
      f"{med['B']['cpu_us'] / med['A']['cpu_us']:.3f} (median of pairs {st.median(cpu_pairs):.3f})")
print(f"p99 ms median A {med['A']['lat_p99_ms']:.2f}, B {med['B']['lat_p99_ms']:.2f}")
PY
rm -f "$OUT" "$OUT.log"

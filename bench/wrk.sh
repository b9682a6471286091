#!/bin/sh
# POST /v1/checks from Debian's wrk (bench/wrk/checks.lua: varied household documents, see its header) against
# a running `fangpin serve`, on loopback, for a bounded time:
#
#   bench/wrk.sh TOKEN [PORT] [SECONDS] [CONNECTIONS] [COUNTY]
#
# TOKEN: a bearer token of a user of COUNTY (default 130434) who may check households (`fangpin users add NAME
# --role surveyor --county 130434` prints one). Defaults: port 8000, 15 s, 16 connections, 2 wrk threads.
# Every check is stored: run it against a database made for benchmarking. `python bench/api.py --wrk` does
# the same on a fresh server and database of its own, beside bench/api.py's own client.
set -eu
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
TOKEN=$1 PORT=${2:-8000} SECONDS_=${3:-15} CONNECTIONS=${4:-16} COUNTY=${5:-130434}
exec wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_}s" --timeout 10s --latency -s "$(dirname "$0")/wrk/checks.lua" \
    "http://127.0.0.1:$PORT" -- "$TOKEN" "$COUNTY"

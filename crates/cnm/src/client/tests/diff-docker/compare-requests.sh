#!/usr/bin/env bash
# Sends each command of request-cases.txt with the docker CLI and with cnm to a recording fake
# daemon (API 1.50, docker 28's maximum) and compares the requests byte for byte.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cnm=${CNM:-$here/../../../../../../target/debug/cnm}
work=$(mktemp -d /tmp/cnm-requests.XXXXXX)
python3 "$here/request-recorder.py" "$work/s.sock" "$work/req.log" 1.50 2>/dev/null &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$work/s.sock" ] && break; sleep 0.1; done
export DOCKER_HOST=unix://$work/s.sock
same=0 total=0
while read -r line; do
  total=$((total+1))
  rm -f "$work/req.log"; eval "docker $line" >/dev/null 2>&1; mv "$work/req.log" "$work/d.req" 2>/dev/null || echo none >"$work/d.req"
  eval "$cnm $line" >/dev/null 2>&1; mv "$work/req.log" "$work/c.req" 2>/dev/null || echo none >"$work/c.req"
  if cmp -s "$work/d.req" "$work/c.req"; then same=$((same+1)); else echo "DIFF: $line"; diff "$work/d.req" "$work/c.req"; fi
done <"$here/request-cases.txt"
echo "== $same of $total requests identical"
[ "$same" = "$total" ]

# Side-by-side comparison of `docker network ...` and `cnm network ...` on the same daemon:
# stdout, stderr and exit status must be identical (cnm's own name in usage errors aside).
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/ref-cli/docker.sock}
CNM=${CNM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../../../.." && pwd)/target/debug/cnm}
PASS=0; FAIL=0; FAILED=()
W=$(mktemp -d /tmp/cnm-diff-docker.XXXXXX); trap 'rm -rf "$W"' EXIT
norm() { sed -E -e 's/[0-9a-f]{64}/<ID64>/g' -e 's/\b[0-9a-f]{12}\b/<ID12>/g' \
  -e 's#(172\.[0-9]+|192\.168)\.[0-9]+\.[0-9]+(/[0-9]+)?#POOL-IP#g' \
  -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+( \+0000 UTC|Z)/<TIME>/g' || { echo "norm failed" >&2; exit 2; }; }
run_docker() { docker "$@" >$W/d.out 2>$W/d.err <${STDIN:-/dev/null}; echo $? >$W/d.rc; }
run_cnm() { $CNM -H "$DOCKER_HOST" "$@" >$W/c.out 2>$W/c.err <${STDIN:-/dev/null}; echo $? >$W/c.rc; sed -i 's/cnm/docker/g' $W/c.err; }
verdict() {
  local desc=$1
  if [ -n "${NORM:-}" ]; then for f in d.out d.err c.out c.err; do norm <$W/$f >$W/$f.n; mv $W/$f.n $W/$f; done; fi
  # The daemon lists pruned networks in Go map order (random): compare them as sets.
  if [ -n "${SORT:-}" ]; then for f in d.out c.out; do sort <$W/$f >$W/$f.s; mv $W/$f.s $W/$f; done; fi
  if cmp -s $W/d.out $W/c.out && cmp -s $W/d.err $W/c.err && cmp -s $W/d.rc $W/c.rc; then
    PASS=$((PASS+1)); echo "ok   $desc"
  else
    FAIL=$((FAIL+1)); FAILED+=("$desc"); echo "FAIL $desc (rc docker=$(cat $W/d.rc) cnm=$(cat $W/c.rc))"
    diff <(cat $W/d.out) <(cat $W/c.out) | head -20 | sed 's/^/   out: /'
    diff <(cat $W/d.err) <(cat $W/c.err) | head -20 | sed 's/^/   err: /'
  fi
}
# same DESC ARGS... : read-only command, run against the same state.
same() { local desc=$1; shift; run_docker "$@"; run_cnm "$@"; verdict "$desc"; }
# paired DESC SETUP CLEANUP ARGS... : state-changing command, each side from the same state.
paired() { local desc=$1 setup=$2 cleanup=$3; shift 3
  eval "$setup" >/dev/null 2>&1; run_docker "$@"; eval "$cleanup" >/dev/null 2>&1
  eval "$setup" >/dev/null 2>&1; run_cnm "$@"; eval "$cleanup" >/dev/null 2>&1
  NORM=1 verdict "$desc"; }
summary() { echo "== $PASS passed, $FAIL failed"; for f in "${FAILED[@]}"; do echo "   failed: $f"; done; }

#!/usr/bin/env bash
# Records what the real docker CLI prints, and the daemon JSON it printed it from, for the
# client's golden tests (tests/golden_network.rs). Run against the reference daemon:
#   eval "$(/work/shared/tools/ref-dockerd start)"; crates/cnm/src/client/tests/record-goldens.sh
# Each case is NAME.args (one argument per line), NAME.out, NAME.err and NAME.rc.
set -euo pipefail
sock=${DOCKER_HOST#unix://}
dir=$(cd "$(dirname "$0")" && pwd)/golden
rm -rf "$dir"; mkdir -p "$dir"
q() { docker "$@" >/dev/null 2>&1 || true; }

q rm -f gc1 gc2
for n in $(docker network ls -q --filter type=custom); do q network rm "$n"; done
q network create --label tier=front --subnet 10.60.0.0/24 --gateway 10.60.0.254 --ip-range 10.60.0.128/25 \
  --aux-address spare=10.60.0.10 -o com.docker.network.bridge.name=brfront front-2
q network create --label tier=back --label com.example.owner_team=net-ops back-10
q network create --ipv6 --subnet fd00:60::/64 --subnet 10.61.0.0/24 --internal v6-1
q network create --config-only --label tier=none --subnet 10.62.0.0/24 empty
docker run -d --name gc1 --network front-2 bb sleep 1d >/dev/null
docker run -d --name gc2 --network front-2 bb sleep 1d >/dev/null

api=v$(docker version -f '{{.Server.APIVersion}}')
curl -sf --unix-socket "$sock" "http://x/$api/networks" >"$dir/networks.json"
for n in front-2 back-10 v6-1 empty bridge host none; do
  curl -sf --unix-socket "$sock" "http://x/$api/networks/$n" >"$dir/network-$n.json"
done

case_() { local name=$1; shift; printf '%s\n' "$@" >"$dir/$name.args"
  set +e; docker "$@" >"$dir/$name.out" 2>"$dir/$name.err"; echo $? >"$dir/$name.rc"; set -e; }
case_ ls network ls
case_ ls-q network ls -q
case_ ls-no-trunc network ls --no-trunc
case_ ls-q-no-trunc network ls -q --no-trunc
case_ ls-json network ls --format json
case_ ls-raw network ls --format raw
case_ ls-raw-q network ls --format raw -q
case_ ls-table-custom network ls --format 'table {{.Name}}\t{{.Label "tier"}}\t{{.IPv6}}\t{{.Internal}}\t{{.CreatedAt}}'
case_ ls-table-label-header network ls --format 'table {{.ID}}\t{{.Label "com.example.owner_team"}}\t{{.Labels}}'
case_ ls-template network ls --format '{{.Name}}={{.Driver}}/{{.Scope}} {{upper .Name}} {{json .Name}} {{pad .ID 1 1}}|{{truncate .Name 3}}'
case_ ls-unknown-field network ls --format '{{.Name}} {{.Bogus}}'
case_ ls-unknown-func network ls --format '{{bogus .Name}}'
case_ inspect network inspect front-2
case_ inspect-builtin network inspect bridge host none
case_ inspect-several-missing network inspect front-2 nope v6-1 nope2
case_ inspect-all-missing network inspect nope
case_ inspect-json network inspect -f json front-2 empty
case_ inspect-name network inspect -f '{{.Name}}' front-2 back-10 v6-1 empty
case_ inspect-id-fallback network inspect -f '{{.Id}}' front-2
case_ inspect-json-dot network inspect -f '{{json .}}' front-2 v6-1 host
case_ inspect-structs network inspect -f '{{.IPAM}}|{{.IPAM.Config}}|{{.ConfigFrom}}|{{.Options}}|{{.Peers}}|{{.Created}}' front-2 v6-1 none
case_ inspect-containers network inspect -f '{{.Containers}}' front-2
case_ inspect-range network inspect -f '{{range $id, $c := .Containers}}{{$c.Name}}:{{$c.IPv4Address}} {{end}}' front-2
case_ inspect-index network inspect -f '{{index .Labels "tier"}}|{{index .Labels "nope"}}|{{.Labels.nope}}|{{.Labels.tier}}' front-2 back-10
case_ inspect-unknown-field network inspect -f '{{.Bogus}}' front-2
case_ inspect-parse-error network inspect -f '{{.Name' front-2
case_ inspect-json-parts network inspect -f '{{json .IPAM}} {{json .Containers}} {{json .Labels}} {{json .Created}}' front-2 empty

q rm -f gc1 gc2
for n in front-2 back-10 v6-1 empty; do q network rm $n; done
echo "recorded $(ls "$dir"/*.args | wc -l) cases in $dir"

#!/usr/bin/env bash
# Compares `docker network ...` with `cnm network ...` against the daemon at $DOCKER_HOST
# (the reference dockerd: eval "$(/work/shared/tools/ref-dockerd start)"). Needs the `bb` image
# for connect/disconnect. Removes everything it creates.
set -u
. "$(dirname "$0")/lib.sh"
d() { docker "$@" >/dev/null 2>&1; }
cleanup_all() { for n in $(docker network ls -q --filter type=custom); do docker network rm $n >/dev/null 2>&1; done; }
docker rm -f c1 c2 >/dev/null 2>&1; cleanup_all

# create: the body must create the same network (compare docker's own inspect of it).
created_same() { local desc=$1; shift
  run_docker network create "$@" cx; docker network inspect cx >$W/d.insp 2>&1; d network rm cx
  run_cnm network create "$@" cx; docker network inspect cx >$W/c.insp 2>&1; d network rm cx
  cat $W/d.insp >>$W/d.out; cat $W/c.insp >>$W/c.out; NORM=1 verdict "$desc"; }
created_same "create plain"
created_same "create all IPAM flags" --subnet 10.10.0.0/16 --ip-range 10.10.1.0/24 --gateway 10.10.0.254 \
  --aux-address a=10.10.0.5 --aux-address b=10.10.0.6 --ipam-opt x=y --label l1=v1 --label l2 \
  -o com.docker.network.bridge.name=brx -o mtu=1400 --internal --attachable
created_same "create ipv6 two subnets csv" --ipv6 --subnet 10.11.0.0/24,fd00:11::/64 --gateway fd00:11::1 --gateway 10.11.0.1
created_same "create --ipv6=false --ipv4" --ipv6=false --ipv4 --subnet 10.12.0.0/24
created_same "create -d null" -d null
created_same "create --scope local --ipam-driver default" --scope local --ipam-driver default
created_same "create --config-only" --config-only --subnet 10.13.0.0/24
d network create --config-only --subnet 10.14.0.0/24 cfg
created_same "create --config-from" --config-from cfg
d network rm cfg
created_same "create --internal=false --attachable=true" --internal=false --attachable=true
same "create: every ip-range needs a subnet" network create --ip-range 10.0.0.0/24 e1
same "create: overlapping subnets" network create --subnet 10.20.0.0/16 --subnet 10.20.1.0/24 e1
same "create: same subnet twice" network create --subnet 10.20.0.0/16 --subnet 10.20.0.0/16 e1
same "create: two ranges one subnet" network create --subnet 10.20.0.0/16 --subnet 10.30.0.0/16 --ip-range 10.20.1.0/24 --ip-range 10.20.2.0/24 e1
same "create: two gateways one subnet" network create --subnet 10.20.0.0/16 --subnet 10.30.0.0/16 --gateway 10.20.0.1 --gateway 10.20.0.2 e1
same "create: no matching subnet for range" network create --subnet 10.20.0.0/16 --ip-range 10.30.1.0/24 e1
same "create: no matching subnet for gateway" network create --subnet 10.20.0.0/16 --gateway 10.30.0.1 e1
same "create: no matching subnet for aux" network create --subnet 10.20.0.0/16 --aux-address x=10.30.0.1 e1
same "create: invalid subnet" network create --subnet 10.20.0.0/16 --subnet foo e1
same "create: invalid ip-range" network create --subnet 10.20.0.0/16 --ip-range foo/24 e1
paired "create: daemon accepts host bits" "" "d network rm e1" network create --subnet 10.20.0.1/16 e1
same "create: label empty name" network create --label =x e1
same "create: label whitespace" network create --label "a b=c" e1
same "create: bad bool" network create --ipv6=maybe e1
same "create: no name" network create
same "create: two names" network create a b
same "create: predefined name" network create bridge
same "create: bad csv" network create --subnet 'a"b' e1
d network create dup
same "create: duplicate name" network create dup
d network rm dup

# ls
d network create --label l1=v1 --label com.example.some-label=x --subnet 10.40.0.0/24 n-2
d network create --label l1=other n-10
d network create -d null --internal n-1
d network create --ipv6 --subnet fd00:40::/64 net6
ID=$(docker network inspect -f '{{.Id}}' n-2)
same "ls" network ls
same "list alias" network list
same "ls -q" network ls -q
same "ls --no-trunc" network ls --no-trunc
same "ls -q --no-trunc" network ls -q --no-trunc
# (docker joins labels in Go map order, i.e. randomly: JSON rows only for networks with <= 1 label)
same "ls --format json" network ls --format json --filter type=builtin
same "ls --format json custom" network ls --format json -f name=n-10 -f name=n-1
same "ls --format table" network ls --format table
same "ls --format raw" network ls --format raw
same "ls --format raw -q" network ls --format raw -q
same "ls --format table custom" network ls --format 'table {{.Name}}\t{{.Label "l1"}}\t{{.IPv6}}\t{{.Internal}}\t{{.Driver}}'
same "ls --format table label header" network ls --format 'table {{.ID}}\t{{.Label "com.example.some-label"}}'
same "ls --format Label" network ls --format '{{.Name}}: {{.Label "l1"}}|{{.Label "com.example.some-label"}}'
# (docker joins labels in Go map order, i.e. randomly: compare single-label networks only)
same "ls --format Labels" network ls --format '{{.Name}} {{.Labels}}' --filter name=n-10
same "ls --format CreatedAt" network ls --format '{{.Name}} {{.CreatedAt}}'
same "ls --format IPv4/6" network ls --format '{{.IPv4}} {{.IPv6}} {{.Internal}} {{.Scope}}'
same "ls --format funcs" network ls --format '{{upper .Name}} {{title .Driver}} {{lower "X"}} {{pad .Scope 1 2}}|{{truncate .ID 4}} {{join (split .Name "-") "+"}} {{json .Name}}'
same "ls --format table pad" network ls --format 'table {{pad .Name 2 2}}\t{{.Driver}}'
same "ls --format -q custom" network ls -q --format '{{.Name}}'
same "ls --format json quiet" network ls -q --format json --filter name=n-1
same "ls --format trailing tab" network ls --format 'table {{.Name}}\t'
same "ls --format unknown field" network ls --format '{{.Foo}}'
same "ls --format unknown func" network ls --format '{{nope .Name}}'
same "ls --format unclosed" network ls --format '{{.Name'
same "ls filter driver" network ls -f driver=bridge
same "ls filter driver null" network ls --filter driver=null
same "ls filter id prefix" network ls -f id=${ID:0:6}
same "ls filter label key" network ls -f label=l1
same "ls filter label k=v" network ls -f label=l1=v1
same "ls filter two labels" network ls -f label=l1 -f label=com.example.some-label
same "ls filter name" network ls -f name=n-
same "ls filter name regex" network ls -f 'name=^n-1'
same "ls filter scope" network ls -f scope=local
same "ls filter type custom" network ls -f type=custom
same "ls filter type builtin" network ls -f type=builtin
same "ls filter type bad" network ls -f type=foo
same "ls filter dangling true" network ls -f dangling=true
same "ls filter dangling false" network ls -f dangling=false
same "ls filter dangling bad" network ls -f dangling=maybe
same "ls filter unknown key" network ls -f foo=bar
same "ls filter bad format" network ls -f foo
same "ls filter upper-case key" network ls -f 'Name = n-1'
same "ls extra argument" network ls extra
same "ls --format trim and json" network ls --format '{{- json .ID}} {{.Name -}}'
same "ls --format table json" network ls --format 'table {{json .Name}}\t{{.ID}}'
same "ls env host (no -H)" network ls

# inspect
same "inspect one" network inspect n-2
same "inspect builtin" network inspect bridge host none
same "inspect several" network inspect n-2 n-10 net6
same "inspect by id prefix" network inspect ${ID:0:5}
same "inspect one missing" network inspect n-2 nope n-10
same "inspect all missing" network inspect nope nope2
same "inspect all missing -f" network inspect -f '{{.Name}}' nope nope2
same "inspect -f missing" network inspect -f '{{.Name}}' n-2 nope
same "inspect -v" network inspect -v n-2
same "inspect -f json" network inspect -f json n-2 n-10
same "inspect -f json missing" network inspect --format json nope
same "inspect -f Name" network inspect -f '{{.Name}}' n-2 n-10
same "inspect -f Id (raw fallback)" network inspect -f '{{.Id}}' n-2
same "inspect -f ID (typed)" network inspect -f '{{.ID}}' n-2
same "inspect -f json ." network inspect -f '{{json .}}' n-2 net6
same "inspect -f json .IPAM" network inspect -f '{{json .IPAM}}' n-2
same "inspect -f IPAM" network inspect -f '{{.IPAM}}' n-2 n-1
same "inspect -f IPAM.Config" network inspect -f '{{.IPAM.Config}}' n-2 net6
same "inspect -f range Config" network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}};{{end}}' n-2 net6
same "inspect -f Created" network inspect -f '{{.Created}}' n-2
same "inspect -f json Created" network inspect -f '{{json .Created}}' n-2
same "inspect -f struct fields" network inspect -f '{{.ConfigFrom}} {{.Options}} {{.Labels}} {{.Containers}} {{.Peers}} {{.EnableIPv4}} {{.EnableIPv6}}' n-2
same "inspect -f index label" network inspect -f '{{index .Labels "l1"}}|{{index .Labels "nope"}}|' n-2
same "inspect -f Labels.nope" network inspect -f '{{.Labels.nope}}' n-2
same "inspect -f Labels.l1" network inspect -f '{{.Labels.l1}}' n-2
same "inspect -f unknown field" network inspect -f '{{.Nope}}' n-2
same "inspect -f mixed Id and Created" network inspect -f '{{.Id}} {{.Created}}' n-2
same "inspect -f range labels" network inspect -f '{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}' n-2
same "inspect -f if" network inspect -f '{{if .Internal}}internal{{else}}external{{end}}' n-1 n-2
same "inspect -f printf" network inspect -f '{{printf "%s/%v" .Name .EnableIPv6}}' n-2
same "inspect -f parse error" network inspect -f '{{.Name' n-2
same "inspect -f unknown func" network inspect -f '{{nope .}}' n-2
same "inspect -f dot" network inspect -f '{{.}}' n-2 n-1
same "inspect -f trim markers" network inspect -f '{{- .Name -}} , {{- .Driver }}' n-2
same "inspect -f println/len" network inspect -f '{{println .Name}}{{len .Labels}} {{len .IPAM.Config}}' n-2
same "inspect -f with" network inspect -f '{{with .IPAM.Config}}{{(index . 0).Subnet}}{{end}}' n-2
same "inspect -f IPAM.Options" network inspect -f '{{.IPAM.Options}} {{.IPAM.Driver}} {{json .IPAM.Options}} {{json .Options}}' n-2
same "inspect -f nested json" network inspect -f '{{json .ConfigFrom}} {{json .IPAM.Config}}' n-2 net6
same "inspect -f eq" network inspect -f '{{if eq .Driver "bridge"}}br{{else}}other{{end}}' n-1 n-2
same "inspect -f upper json" network inspect -f '{{upper .Name}} {{title .Scope}} {{split .Name "-"}} {{join (split .Name "-") ":"}}' n-2
same "inspect -f variables" network inspect -f '{{$n := .Name}}{{range .IPAM.Config}}{{$n}}:{{.Subnet}} {{end}}' n-2 net6
same "inspect no args" network inspect
same "inspect empty name" network inspect ''

# rm
paired "rm one" "d network create r1" "d network rm r1" network rm r1
paired "remove alias" "d network create r1" "d network rm r1" network remove r1
paired "rm several with missing" "d network create r1; d network create r2" "d network rm r1 r2" network rm r1 nope r2 nope2
paired "rm -f missing" "d network create r1" "d network rm r1" network rm -f r1 nope
same "rm missing" network rm nope
same "rm builtin" network rm bridge
same "rm no args" network rm
same "rm empty name" network rm ''

# connect / disconnect (containers on the reference daemon)
d network create --subnet 10.50.0.0/24 cn1
d network create --subnet 10.51.0.0/24 cn2
docker run -d --name c1 --network cn1 bb sleep 1d >/dev/null
docker run -d --name c2 --network cn1 bb sleep 1d >/dev/null
same "inspect with containers" network inspect cn1
same "inspect -f Containers" network inspect -f '{{.Containers}}' cn1
same "inspect -f range Containers" network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}};{{end}}' cn1
same "ls filter dangling with containers" network ls -f dangling=false
CONN_CLEAN="d network disconnect -f cn2 c1"
paired "connect plain" "" "$CONN_CLEAN" network connect cn2 c1
paired "connect --ip --alias" "" "$CONN_CLEAN" network connect --ip 10.51.0.77 --alias a1 --alias a2,a3 cn2 c1
paired "connect --driver-opt --link-local-ip" "" "$CONN_CLEAN" network connect --driver-opt k=v --link-local-ip 169.254.1.1 cn2 c1
paired "connect --gw-priority" "" "$CONN_CLEAN" network connect --gw-priority 5 cn2 c1
paired "connect --link on user network" "" "$CONN_CLEAN" network connect --link c2:x cn2 c1
same "connect bad ip" network connect --ip 10.99.0.1 cn2 c1
same "connect missing container" network connect cn2 nope
same "connect missing network" network connect nope c1
same "connect already connected" network connect cn1 c1
same "connect bad driver-opt" network connect --driver-opt foo cn2 c1
same "connect bad link" network connect --link a:b:c cn2 c1
same "connect bad gw-priority" network connect --gw-priority x cn2 c1
same "connect one arg" network connect cn2
same "connect empty container" network connect cn2 ''
d network connect --alias zz cn2 c1
same "inspect -f after connect" network inspect -f '{{json .Containers}}' cn2
paired "disconnect" "d network connect cn2 c1" "$CONN_CLEAN" network disconnect cn2 c1
paired "disconnect -f" "d network connect cn2 c1" "$CONN_CLEAN" network disconnect -f cn2 c1
same "disconnect not connected" network disconnect cn2 c2
same "disconnect missing container" network disconnect cn2 nope
same "disconnect missing network" network disconnect nope c1
same "disconnect no args" network disconnect
same "rm network in use" network rm cn1

docker rm -f c1 c2 >/dev/null 2>&1
cleanup_all
# prune
PRUNE_SETUP="d network create --label keep=1 p1; d network create --label drop=1 p2; d network create p3"
PRUNE_CLEAN="d network rm p1 p2 p3"
SORT=1 paired "prune --force --filter label" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune --force --filter label=drop
SORT=1 paired "prune filter label!=" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune -f --filter 'label!=keep'
SORT=1 paired "prune filter until" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune -f --filter until=1h
SORT=1 paired "prune filter until past" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune -f --filter until=2000-01-01T00:00:00Z
SORT=1 paired "prune nothing" "" "" network prune -f --filter label=none
echo y >$W/yes; echo n >$W/no
STDIN=$W/yes SORT=1 paired "prune prompt yes" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune --filter label=drop
STDIN=$W/no SORT=1 paired "prune prompt no" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune
SORT=1 paired "prune prompt eof" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune
same "prune bad filter" network prune -f --filter foo=bar
same "prune two untils" network prune -f --filter until=1h --filter until=2h
same "prune extra arg" network prune x

SORT=1 paired "prune -f (everything)" "$PRUNE_SETUP" "$PRUNE_CLEAN" network prune -f
summary

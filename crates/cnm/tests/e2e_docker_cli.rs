//! End to end with the real `docker` CLI: one scenario walks every `docker network` subcommand
//! and flag, plus the error cases, and compares each step group with golden files recorded from
//! the reference daemon (Docker 20.10, `/work/shared/tools/ref-dockerd`).
//!
//! - Default: starts `cnm daemon` in a private `TestHost` (root needed, else a loud skip) and
//!   verifies every group against `tests/snapshots/e2e_docker_cli__*.snap`; all mismatching
//!   groups are listed at the end. Snapshots are never written in this mode.
//! - `CNM_E2E_REFERENCE_DOCKER_HOST=unix:///…` (see `scripts/record-goldens`): runs the same
//!   scenario against that reference daemon and (re)writes the snapshots; with
//!   `CNM_E2E_VERIFY_ONLY=1` as well, it compares instead (shows the goldens are reproducible).
//!
//! The CLI is pinned to API 1.41 (`DOCKER_API_VERSION`), the newest the reference speaks, so both
//! daemons answer the same API version. "Containers" are `docker run bb` on the reference and
//! `cnm sandbox create` on cnm; only `docker network …` output reaches the snapshots.
//! Determinism: the CLI sorts `ls` by name; inspected networks hold at most one container when
//! printed as JSON (map order follows random ids); prune output is sorted; dynamic subnets are
//! only shown for networks created before any network is removed (Docker 20.10 moves on to the
//! next pool after a removal, current Docker reuses the lowest free one).

mod support;

use support::{Mode, ReferenceDaemon, Session, StepOptions, TestHost};

const SUITE: &str = "e2e_docker_cli";
const API_VERSION: &str = "1.41";
const REFERENCE_ENV: &str = "CNM_E2E_REFERENCE_DOCKER_HOST";
/// With the reference: compare with the goldens instead of writing them (are they reproducible?).
const VERIFY_ONLY_ENV: &str = "CNM_E2E_VERIFY_ONLY";

#[test]
fn docker_network_cli_matches_reference_daemon() {
    match std::env::var(REFERENCE_ENV) {
        Ok(host) if !host.is_empty() => {
            let reference = ReferenceDaemon::new(&host);
            if std::env::var(VERIFY_ONLY_ENV).is_ok_and(|v| v == "1") {
                set_insta_update(&[("INSTA_UPDATE", "no"), ("INSTA_FORCE_PASS", "0")]);
                run_scenario(&reference, Mode::Verify, true);
            } else {
                set_insta_update(&[("INSTA_UPDATE", "always"), ("INSTA_FORCE_PASS", "1")]);
                run_scenario(&reference, Mode::Record, true);
            }
        }
        _ => {
            if !support::root_or_loud_skip("e2e_docker_cli") {
                return;
            }
            // Goldens come from the reference only: never let a cnm run rewrite them.
            set_insta_update(&[("INSTA_UPDATE", "no"), ("INSTA_FORCE_PASS", "0")]);
            let host = TestHost::new(&[]);
            run_scenario(&host, Mode::Verify, false);
        }
    }
}

fn set_insta_update(vars: &[(&str, &str)]) {
    for (key, value) in vars {
        // SAFETY: called first thing in the test, before this process starts any thread that
        // could read the environment; libtest's main thread only waits for the result.
        unsafe { std::env::set_var(key, value) };
    }
}

fn run_scenario(target: &dyn support::Target, mode: Mode, against_reference: bool) {
    let mut s = Session::new(target, mode, SUITE, &[("DOCKER_API_VERSION", API_VERSION)]);
    if against_reference {
        assert_reference_is_fresh(&s);
    }
    predefined_networks(&mut s);
    create_networks(&mut s);
    create_errors(&mut s);
    ls_filters(&mut s);
    ls_formats(&mut s);
    inspect_forms(&mut s);
    connect(&mut s);
    disconnect(&mut s);
    rm(&mut s);
    prune(&mut s);
    ambiguous_prefix(&mut s);
    s.docker("network ls");
    s.snapshot("final_state", "only the predefined networks are left");
    s.finish();
}

/// The goldens depend on a fresh daemon (first dynamic subnet, no leftovers).
fn assert_reference_is_fresh(s: &Session) {
    let containers = s.docker_quiet("ps -aq");
    let networks = s.docker_quiet("network ls --format {{.Name}}");
    assert!(
        containers.trim().is_empty() && networks.split_whitespace().count() == 3,
        "the reference daemon has leftovers (containers: {containers:?}, networks: {networks:?}); \
         record with scripts/record-goldens, which starts a fresh one"
    );
}

fn id_of(s: &Session, network: &str) -> String {
    s.docker_quiet(&format!("network inspect -f {{{{.Id}}}} {network}"))
        .trim()
        .to_owned()
}

fn predefined_networks(s: &mut Session) {
    s.docker("network ls");
    s.docker("network ls --no-trunc");
    s.docker("network ls -q");
    s.docker("network inspect bridge");
    s.docker("network inspect host");
    s.docker("network inspect none");
    s.snapshot(
        "predefined_networks",
        "ls and full inspect of bridge, host and none on a fresh daemon",
    );
}

fn create_networks(s: &mut Session) {
    s.docker("network create plain");
    s.docker("network inspect plain");
    s.snapshot(
        "create_default_bridge",
        "a user-defined bridge with every default: the first dynamic subnet",
    );

    s.docker(
        "network create --driver bridge --subnet 10.10.0.0/16 --ip-range 10.10.5.0/24 --gateway 10.10.0.254 \
         --aux-address host1=10.10.0.10 --aux-address host2=10.10.5.0 --ipam-driver default --ipam-opt foo=bar \
         --opt com.docker.network.bridge.name=br-ipam --opt com.docker.network.driver.mtu=1400 --label env=test \
         ipam-net",
    );
    s.docker("network inspect ipam-net");
    s.snapshot(
        "create_ipam_options",
        "subnet, ip-range, gateway, aux addresses, IPAM and driver options, a label",
    );

    s.docker("network create --ipv6 --subnet 10.20.0.0/24 --subnet fd00:20::/64 dual");
    s.docker("network inspect dual");
    s.snapshot(
        "create_ipv6",
        "dual-stack bridge: --ipv6 with an IPv4 and an IPv6 subnet",
    );

    s.docker("network create --internal --label env=prod internal-net");
    s.docker("network inspect internal-net");
    s.docker("network create --attachable --label tier attach-net");
    s.docker("network inspect attach-net");
    s.snapshot(
        "create_internal_attachable",
        "--internal and --attachable, a label without a value",
    );

    s.docker(
        "network create --config-only --subnet 10.30.0.0/24 --gateway 10.30.0.1 \
         --opt com.docker.network.bridge.enable_icc=false --label cfg=1 cfg-only",
    );
    s.docker("network create --config-from cfg-only from-cfg");
    s.docker("network inspect cfg-only");
    s.docker("network inspect from-cfg");
    s.snapshot(
        "create_config_only",
        "--config-only and a network created --config-from it",
    );
}

fn create_errors(s: &mut Session) {
    s.docker("network create plain");
    // `network create ''`: Docker 20.10 answers `network with name  already exists` (a bug);
    // cnm answers as current Docker does, `invalid name: name is empty` (unit-tested).
    s.docker("network create bridge");
    s.comment("names are not validated beyond emptiness:");
    s.docker("network create 'bad name!'");
    s.docker("network rm 'bad name!'");
    s.docker("network create --subnet 10.10.0.0/24 overlap");
    s.docker("network create --ipv6 --subnet 10.21.0.0/24 --subnet fd00:20::/80 overlap6");
    s.comment("the CLI itself matches gateways, ranges and aux addresses to subnets:");
    s.docker("network create --subnet 10.40.0.0/24 --gateway 10.41.0.1 gw-outside");
    s.docker("network create --subnet 10.40.0.0/24 --ip-range 10.41.0.0/24 range-outside");
    s.docker("network create --subnet 10.40.0.0/24 --aux-address a=10.41.0.9 aux-outside");
    s.docker("network create --gateway 10.40.0.1 no-subnet");
    s.docker("network create --opt com.docker.network.bridge.name=br-ipam same-bridge");
    s.docker("network create --opt com.docker.network.driver.mtu=abc bad-mtu");
    s.docker("network create --config-from cfg-only --subnet 10.31.0.0/24 from-cfg-subnet");
    s.docker("network create --config-from missing-cfg from-missing");
    s.comment("an unknown driver is looked up as a plugin for ~15 s first:");
    s.docker("network create --driver nosuchdriver bad-driver");
    s.snapshot(
        "create_errors",
        "duplicate, empty, predefined and unvalidated names; overlaps; bad options",
    );
}

fn ls_filters(s: &mut Session) {
    let plain_id = id_of(s, "plain");
    let ipam_id = id_of(s, "ipam-net");
    let by_full_id = format!("id={plain_id}");
    let by_id_prefix = format!("id={}", &ipam_id[..12]);
    let filters = [
        "driver=bridge",
        "driver=null",
        &by_full_id,
        &by_id_prefix,
        "name=plain",
        "name=net",
        "name=^in",
        "label=env",
        "label=env=prod",
        "label=tier",
        "scope=local",
        "scope=swarm",
        "type=builtin",
        "type=custom",
        // dangling=true/false: Docker 20.10 lists every custom network as dangling (a bug
        // fixed later); cnm follows current Docker (no endpoints), tested in e2e_network.rs.
    ];
    for filter in filters {
        s.docker(&format!("network ls --filter {filter}"));
    }
    s.docker("network ls --filter driver=bridge --filter name=net");
    s.docker("network ls --filter type=builtin --filter type=custom");
    s.docker("network ls --filter type=bogus");
    s.docker("network ls --filter bogus=1");
    s.docker("network ls --filter dangling=maybe");
    s.docker("network ls --filter dangling=true --filter dangling=false");
    s.snapshot(
        "ls_filters",
        "every docker network ls --filter key, combinations and invalid filters",
    );
}

fn ls_formats(s: &mut Session) {
    s.docker(
        "network ls --format \
         'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}\t{{.CreatedAt}}'",
    );
    s.docker("network ls --format json");
    s.docker(r#"network ls --format '{{.Name}}: {{.Label "env"}}'"#);
    s.docker("network ls --format 'table {{.Name}}\t{{.Label \"env\"}}'");
    s.docker("network ls --format raw --filter name=plain");
    s.docker("network ls -q");
    s.docker("network ls -q --no-trunc");
    s.docker("network ls -q --filter label=env");
    s.docker("network ls --no-trunc --filter name=plain");
    s.docker("network ls --format {{.Nope}}");
    s.snapshot(
        "ls_formats",
        "docker network ls --format (table, json, raw, .Label), -q, --no-trunc",
    );
}

fn inspect_forms(s: &mut Session) {
    let plain_id = id_of(s, "plain");
    s.docker(
        "network inspect --format \
         '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.EnableIPv6}} {{.ConfigOnly}}' internal-net",
    );
    s.docker("network inspect -f '{{json .IPAM}}' ipam-net");
    s.docker(
        "network inspect -f '{{json .Labels}} {{json .Options}} {{.ConfigFrom.Network}}' from-cfg",
    );
    s.docker("network inspect --format json plain");
    s.docker("network inspect -v plain");
    s.docker(&format!("network inspect -f {{{{.Name}}}} {plain_id}"));
    s.docker(&format!(
        "network inspect -f {{{{.Id}}}} {}",
        &plain_id[..12]
    ));
    s.docker("network inspect -f {{.Name}} plain dual");
    s.docker("network inspect nosuch");
    s.docker("network inspect -f {{.Name}} plain nosuch dual");
    s.docker("network inspect -f {{.Nope}} plain");
    s.snapshot(
        "inspect_forms",
        "inspect by name, id and id prefix; --format, -v, several and missing networks",
    );
}

/// Lists a network's containers one per line (sorted afterwards), for networks with several.
fn list_containers(s: &mut Session, network: &str) {
    let template =
        "'{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.IPv6Address}}{{println}}{{end}}'";
    s.docker_sorted(&format!("network inspect -f {template} {network}"));
}

fn connect(s: &mut Session) {
    s.target().start_container("c1", "plain");
    s.docker("network inspect plain");
    s.target().start_container("c2", "internal-net");
    s.docker("network inspect internal-net");
    s.docker("network connect --ip 10.10.5.50 ipam-net c1");
    s.docker("network inspect ipam-net");
    s.docker("network connect --ip 10.10.5.50 ipam-net c2");
    s.comment("the first dynamic address comes from the ip-range, whose .0 is an aux address:");
    s.docker("network connect ipam-net c2");
    list_containers(s, "ipam-net");
    s.docker("network connect --ip 10.20.0.50 --ip6 fd00:20::50 dual c1");
    s.docker("network inspect dual");
    s.docker(
        "network connect --alias web --alias www --driver-opt com.example.key=value attach-net c1",
    );
    s.docker("network inspect attach-net");
    s.docker("network connect --link c1:db attach-net c2");
    list_containers(s, "attach-net");
    s.docker("network connect from-cfg c2");
    s.docker("network inspect from-cfg");
    s.docker("network connect bridge c1");
    s.docker("network inspect bridge");
    s.snapshot(
        "connect",
        "connect with --ip, --ip6, --alias, --link, --driver-opt, and what inspect shows",
    );

    s.docker("network connect plain c1");
    s.docker("network connect --ip 10.99.0.5 dual c2");
    s.docker("network connect --ip 172.18.0.50 plain c2");
    s.docker("network connect --ip 172.17.0.9 bridge c2");
    s.docker("network connect --alias x bridge c2");
    s.docker("network connect cfg-only c2");
    s.docker("network connect nosuch-net c1");
    s.docker("network connect plain nosuch-ctr");
    s.docker("network connect --driver-opt no-equals plain c2");
    s.snapshot(
        "connect_errors",
        "already connected, bad static IPs, aliases on bridge, config-only, missing objects",
    );
}

fn disconnect(s: &mut Session) {
    s.docker("network disconnect attach-net c2");
    s.docker("network disconnect -f dual c1");
    s.docker("network disconnect bridge c1");
    list_containers(s, "attach-net");
    s.docker("network inspect -f '{{len .Containers}}' dual");
    s.docker("network disconnect dual c1");
    s.docker("network disconnect plain nosuch-ctr");
    s.docker("network disconnect -f plain nosuch-ctr");
    s.docker("network disconnect nosuch-net c1");
    s.snapshot(
        "disconnect",
        "disconnect and disconnect -f, not connected, missing container or network",
    );
}

fn rm(s: &mut Session) {
    let attach_id = id_of(s, "attach-net");
    s.docker("network rm plain");
    s.docker("network rm nosuch");
    s.docker("network rm -f nosuch");
    s.docker("network rm bridge");
    s.docker("network rm host none");
    s.docker("network rm cfg-only");
    s.docker("network rm nosuch dual");
    s.target().rm_container("c1");
    s.target().rm_container("c2");
    s.comment("c1 and c2 are gone:");
    s.docker("network rm plain internal-net");
    s.docker(&format!("network rm {}", &attach_id[..12]));
    s.docker("network rm from-cfg cfg-only");
    s.docker("network ls");
    s.snapshot(
        "rm",
        "rm with active endpoints, missing, predefined, in-use config, several, by id prefix",
    );
}

fn prune(s: &mut Session) {
    s.docker("network create --label prune=yes --label owner=e2e prune-a");
    s.docker("network create --label prune=yes prune-b");
    s.docker("network create --label prune=no prune-c");
    s.docker("network ls --filter label=prune=yes --filter label=owner");
    s.docker("network ls --filter label=prune");
    let answer_no = StepOptions {
        stdin: Some(b"n\n"),
        ..Default::default()
    };
    s.docker_with("network prune --filter label=prune=no", answer_no);
    s.docker("network prune -f --filter until=1h");
    s.docker("network prune -f --filter until=1h --filter until=2h");
    s.docker_sorted("network prune -f --filter label=prune=yes");
    s.docker("network prune -f --filter 'label!=prune=no'");
    s.docker("network prune -f --filter until=4102444800");
    s.docker("network prune -f");
    s.docker("network ls");
    s.snapshot(
        "prune",
        "prune with label, label!, until (duration, two untils, unix time), the prompt, -f",
    );
}

/// Makes config-only networks (no address pools used) until exactly two network ids start with
/// the same letter, then addresses them by that one-letter prefix. The letter is masked.
fn ambiguous_prefix(s: &mut Session) {
    let mut made = Vec::new();
    let prefix = loop {
        let ids = s.docker_quiet("network ls -q --no-trunc");
        // Not 'f': the mask would also hit the `f` of the command's `-f`.
        let shared_by_two =
            ('b'..='e').find(|c| ids.lines().filter(|id| id.starts_with(*c)).count() == 2);
        if let Some(letter) = shared_by_two {
            break letter.to_string();
        }
        assert!(
            made.len() < 64,
            "no id prefix shared by exactly two networks after {} tries",
            made.len()
        );
        let name = format!("amb-{}", made.len() + 1);
        s.docker_quiet(&format!("network create --config-only {name}"));
        made.push(name);
    };
    let masked = || StepOptions {
        masks: vec![(prefix.clone(), "<prefix>".into())],
        ..Default::default()
    };
    s.docker_with(
        &format!("network inspect -f {{{{.Name}}}} {prefix}"),
        masked(),
    );
    s.docker_with(&format!("network rm {prefix}"), masked());
    for name in &made {
        s.docker_quiet(&format!("network rm {name}"));
    }
    s.snapshot(
        "ambiguous_id_prefix",
        "an id prefix shared by two networks (<prefix> is one hex letter)",
    );
}

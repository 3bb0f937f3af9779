//! `docker network ...` on macvlan and ipvlan networks, compared with golden files recorded from
//! the reference daemon (Docker 20.10, `/work/shared/tools/ref-dockerd`), as
//! `tests/e2e_docker_cli.rs` does for bridges (`support::session`).
//!
//! - Default: a private `TestHost` with veth parents `lan0`…`lan5`; every group is verified
//!   against `tests/snapshots/macvlan__*.snap`; snapshots are never written in this mode.
//! - Recording (root): start a fresh reference daemon, then run this test against it; the test
//!   makes the same parents inside the reference's namespace and removes them at the end:
//!   ```text
//!   /work/shared/tools/ref-dockerd stop macvlan; eval "$(/work/shared/tools/ref-dockerd start macvlan)"
//!   CNM_MACVLAN_REFERENCE_DOCKER_HOST=$DOCKER_HOST CNM_MACVLAN_REFERENCE_NETNS=ref-macvlan \
//!     cargo nextest run -p cnm --test macvlan golden --no-capture
//!   /work/shared/tools/ref-dockerd stop macvlan
//!   ```
//!   (`CNM_MACVLAN_VERIFY_ONLY=1` compares instead of writing: are the goldens reproducible?)
//!
//! Where Docker 20.10 differs from current Docker, which cnm follows, the scenario avoids the
//! difference and `macvlan.rs` tests cnm's behaviour instead:
//! - 20.10 reserves the subnet's first address as gateway even without `--gateway` (current:
//!   no gateway, trap 31), so every subnet here has an explicit `--gateway` or static addresses;
//! - 20.10 allows one macvlan network per parent (current: many, except passthru, whose
//!   conflict messages differ too), so every macvlan network has its own parent;
//! - 20.10 misspells `-o parent interface does was not found`, and, without dummy links in
//!   this kernel, cannot create networks without a parent (cnm uses an ifb stand-in);
//! - kernel-dependent outcomes (ipvlan and 802.1q links) stay out of the goldens.

use crate::lan::{ip, private_host, sh};
use crate::support::{Mode, ReferenceDaemon, Session, Target};

const SUITE: &str = "macvlan";
const API_VERSION: &str = "1.41";
const REFERENCE_ENV: &str = "CNM_MACVLAN_REFERENCE_DOCKER_HOST";
const REFERENCE_NETNS_ENV: &str = "CNM_MACVLAN_REFERENCE_NETNS";
const VERIFY_ONLY_ENV: &str = "CNM_MACVLAN_VERIFY_ONLY";
const PARENTS: [&str; 6] = ["lan0", "lan1", "lan2", "lan3", "lan4", "lan5"];

#[test]
fn golden_docker_network_cli_matches_reference_daemon() {
    match std::env::var(REFERENCE_ENV) {
        Ok(docker_host) if !docker_host.is_empty() => {
            let netns =
                std::env::var(REFERENCE_NETNS_ENV).unwrap_or_else(|_| "ref-macvlan".to_owned());
            let reference = ReferenceDaemon::new(&docker_host);
            let mode = if std::env::var(VERIFY_ONLY_ENV).is_ok_and(|v| v == "1") {
                set_insta(&[("INSTA_UPDATE", "no"), ("INSTA_FORCE_PASS", "0")]);
                Mode::Verify
            } else {
                set_insta(&[("INSTA_UPDATE", "always"), ("INSTA_FORCE_PASS", "1")]);
                Mode::Record
            };
            let in_reference = |args: &[&str]| {
                let mut all = vec!["-n", netns.as_str()];
                all.extend_from_slice(args);
                ip(&all);
            };
            plug_parents(in_reference);
            let _unplug = Unplug(netns.clone());
            run_scenario(&reference, mode, true);
        }
        _ => {
            let Some(host) = private_host("golden_docker_network_cli_matches_reference_daemon")
            else {
                return;
            };
            set_insta(&[("INSTA_UPDATE", "no"), ("INSTA_FORCE_PASS", "0")]);
            plug_parents(|args| {
                ip(args);
            });
            run_scenario(&host, Mode::Verify, false);
        }
    }
}

/// Removes the parents from the reference's namespace, also when the scenario panics.
struct Unplug(String);

impl Drop for Unplug {
    fn drop(&mut self) {
        for parent in PARENTS {
            let _ = sh("ip", &["-n", &self.0, "link", "del", parent]);
        }
    }
}

fn set_insta(vars: &[(&str, &str)]) {
    for (key, value) in vars {
        // SAFETY: set before this test starts any thread that reads the environment.
        unsafe { std::env::set_var(key, value) };
    }
}

/// A veth pair per parent, both ends up (the peer end stands for the LAN).
fn plug_parents(ip: impl Fn(&[&str])) {
    for parent in PARENTS {
        let peer = format!("{parent}p");
        ip(&["link", "add", parent, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", parent, "up"]);
        ip(&["link", "set", &peer, "up"]);
    }
}

fn run_scenario(target: &dyn Target, mode: Mode, against_reference: bool) {
    let mut s = Session::new(target, mode, SUITE, &[("DOCKER_API_VERSION", API_VERSION)]);
    if against_reference {
        let networks = s.docker_quiet("network ls --format {{.Name}}");
        let containers = s.docker_quiet("ps -aq");
        assert!(
            networks.split_whitespace().count() == 3 && containers.trim().is_empty(),
            "record against a fresh reference daemon (networks: {networks:?}, containers: {containers:?})"
        );
    }
    create(&mut s);
    connect(&mut s);
    errors(&mut s);
    remove(&mut s);
    s.finish();
}

fn create(s: &mut Session) {
    s.docker("network create -d macvlan -o parent=lan0 --subnet 10.50.0.0/24 --gateway 10.50.0.1 mv-bridge");
    s.docker("network inspect mv-bridge");
    s.docker(
        "network create -d macvlan -o parent=lan1 -o macvlan_mode=private --subnet 10.51.0.0/24 --gateway 10.51.0.1 \
         --ip-range 10.51.0.128/25 --aux-address router=10.51.0.2 --label env=lan mv-private",
    );
    s.docker("network inspect mv-private");
    s.docker(
        "network create -d macvlan -o parent=lan2 -o macvlan_mode=vepa --ipv6 --subnet 10.52.0.0/24 --gateway 10.52.0.1 \
         --subnet fd00:52::/64 --gateway fd00:52::1 mv-dual",
    );
    s.docker("network inspect mv-dual");
    s.docker(
        "network create -d macvlan -o parent=lan3 -o macvlan_mode=passthru --internal --subnet 10.53.0.0/24 \
         --gateway 10.53.0.1 mv-pass",
    );
    s.docker("network inspect mv-pass");
    s.docker("network create -d ipvlan -o parent=lan4 -o ipvlan_mode=l3 -o ipvlan_flag=private --subnet 10.54.0.0/24 iv-l3");
    s.docker("network inspect iv-l3");
    s.docker("network ls --filter driver=macvlan");
    s.docker("network ls --filter driver=ipvlan");
    s.docker("network inspect --format '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{json .Options}}' mv-bridge iv-l3");
    s.snapshot("create", "macvlan in every mode (own parents), ip-range, aux address, dual stack, internal; ipvlan L3");
}

fn list_containers(s: &mut Session, network: &str) {
    let template =
        "'{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.IPv6Address}}{{println}}{{end}}'";
    s.docker_sorted(&format!("network inspect -f {template} {network}"));
}

fn connect(s: &mut Session) {
    s.target().start_container("c1", "mv-bridge");
    s.docker("network inspect mv-bridge");
    s.target().start_container("c2", "mv-private");
    s.docker("network connect --ip 10.51.0.200 mv-private c1");
    s.comment("the dynamic address comes from the ip-range:");
    list_containers(s, "mv-private");
    s.docker("network connect --ip 10.52.0.50 --ip6 fd00:52::50 mv-dual c1");
    s.docker("network inspect mv-dual");
    s.docker("network connect mv-pass c2");
    list_containers(s, "mv-pass");
    s.docker("network connect mv-bridge c2");
    list_containers(s, "mv-bridge");
    s.docker("network disconnect mv-dual c1");
    s.docker("network inspect -f '{{len .Containers}}' mv-dual");
    s.snapshot(
        "connect",
        "containers on macvlan networks: dynamic, --ip, --ip6, ip-range, passthru, disconnect",
    );
}

fn errors(s: &mut Session) {
    s.docker("network rm mv-bridge");
    s.docker("network create -d macvlan -o parent=lan5 -o macvlan_mode=bogus bad-mode");
    s.docker("network create -d macvlan -o parent=lo loop");
    s.docker("network create -d macvlan -o parent=nosuch missing");
    s.docker("network create -d macvlan -o parent=a.b.c bad-format");
    s.docker("network create -d macvlan -o parent=lan5.abc bad-vid");
    s.docker("network create -d macvlan -o parent=lan5.5000 big-vid");
    s.docker("network create -d macvlan -o parent=lan5 --subnet 10.50.0.0/24 overlap");
    s.docker("network create -d macvlan -o parent=lan5 --ipam-driver null no-pool");
    s.docker("network create -d ipvlan -o parent=lan5 -o ipvlan_mode=l4 bad-ipvlan-mode");
    s.docker("network create -d ipvlan -o parent=lo ipvlan-loop");
    s.docker("network create -d ipvlan -o parent=lan4 --subnet 10.55.0.0/24 iv-second");
    s.docker("network ls");
    s.snapshot("errors", "active endpoints, bad modes, bad and missing parents, VLAN names, overlap, empty pool, one ipvlan per parent");
}

fn remove(s: &mut Session) {
    s.target().rm_container("c1");
    s.target().rm_container("c2");
    s.docker("network rm mv-bridge mv-private mv-dual mv-pass iv-l3");
    s.docker("network ls");
    s.snapshot("rm", "the networks go once their containers are gone");
}

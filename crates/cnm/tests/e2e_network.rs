//! Real packets and real crashes: each test runs a cnm daemon in its own network namespace
//! (`TestHost`), drives it through the API and the `docker` CLI, and checks the kernel.
//!
//! - connectivity on a user-defined bridge, and a sandbox on two networks;
//! - disconnect removes the interface and frees the address;
//! - restart restores networks (recreating a deleted bridge) and drops sandboxes whose
//!   namespace is gone, freeing their addresses;
//! - crash: SIGKILL in the middle of a create/connect loop, restart, and state and kernel agree.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::TestHost;
use support::api::{api, ip_json, nsenter};
use support::invariants;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "command failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn create_sandbox(host: &TestHost, name: &str, networks: &[&str]) -> String {
    let nets: Vec<Value> = networks
        .iter()
        .map(|n| serde_json::json!({ "Network": n }))
        .collect();
    let body = serde_json::json!({ "Name": name, "Networks": nets }).to_string();
    let (code, out) = api(host, "POST", "/sandboxes/create", Some(&body));
    assert_eq!(code, 201, "create sandbox {name}: {out}");
    serde_json::from_str::<Value>(&out).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sandbox(host: &TestHost, name: &str) -> Value {
    let (code, out) = api(host, "GET", &format!("/sandboxes/{name}"), None);
    assert_eq!(code, 200, "inspect sandbox {name}: {out}");
    serde_json::from_str(&out).unwrap()
}

fn ip_of(host: &TestHost, sandbox_name: &str, network: &str) -> String {
    sandbox(host, sandbox_name)["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ping(host: &TestHost, from: &str, to_ip: &str) -> bool {
    let key = sandbox(host, from)["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    nsenter(&key, &["busybox", "ping", "-c", "1", "-W", "2", to_ip])
        .status
        .success()
}

#[test]
fn sandboxes_on_a_bridge_reach_each_other_and_a_sandbox_on_two_networks_reaches_both() {
    if !support::root_or_loud_skip("connectivity") {
        return;
    }
    let host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "front"]));
    ok(host.docker(&["network", "create", "back"]));
    create_sandbox(&host, "web", &["front"]);
    create_sandbox(&host, "db", &["back"]);
    create_sandbox(&host, "app", &["front", "back"]);
    let web = ip_of(&host, "web", "front");
    let db = ip_of(&host, "db", "back");
    assert!(ping(&host, "app", &web), "app -> web on front");
    assert!(ping(&host, "app", &db), "app -> db on back");
    assert!(
        ping(&host, "web", &ip_of(&host, "app", "front")),
        "web -> app"
    );
    // The default route goes through the first network by name (back < front).
    let key = sandbox(&host, "app")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let routes = ip_json(Some(&key), &["route", "show", "default"]);
    let gateway = sandbox(&host, "app")["NetworkSettings"]["Networks"]["back"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(routes[0]["gateway"], Value::String(gateway), "{routes:?}");
}

#[test]
fn disconnect_removes_the_interface_and_the_address_is_reused() {
    if !support::root_or_loud_skip("disconnect") {
        return;
    }
    let host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "--subnet", "10.40.0.0/24", "n1"]));
    ok(host.docker(&["network", "create", "n2"]));
    create_sandbox(&host, "one", &["n2"]);
    ok(host.docker(&["network", "connect", "n1", "one"]));
    let key = sandbox(&host, "one")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let names = |key: &str| -> BTreeSet<String> {
        ip_json(Some(key), &["link", "show"])
            .iter()
            .map(|l| l["ifname"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&key),
        BTreeSet::from(["lo".into(), "eth0".into(), "eth1".into()])
    );
    assert_eq!(ip_of(&host, "one", "n1"), "10.40.0.2");
    ok(host.docker(&["network", "disconnect", "n1", "one"]));
    assert_eq!(names(&key), BTreeSet::from(["lo".into(), "eth0".into()]));
    // No veth of the endpoint is left on the host either.
    let veths = ip_json(None, &["link", "show", "type", "veth"]).len();
    assert_eq!(veths, 1, "only the n2 endpoint's veth remains");
    create_sandbox(&host, "two", &["n1"]);
    assert_eq!(
        ip_of(&host, "two", "n1"),
        "10.40.0.2",
        "the freed address is handed out again"
    );
    // Reconnecting the first sandbox gets the lowest free interface name again.
    ok(host.docker(&["network", "connect", "n1", "one"]));
    assert_eq!(
        names(&key),
        BTreeSet::from(["lo".into(), "eth0".into(), "eth1".into()])
    );
    assert!(ping(&host, "one", "10.40.0.2"));
}

#[test]
fn dangling_filter_follows_current_docker() {
    if !support::root_or_loud_skip("dangling") {
        return;
    }
    let host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "used"]));
    ok(host.docker(&["network", "create", "unused"]));
    create_sandbox(&host, "s1", &["used"]);
    let ls = |filter: &str| {
        ok(host.docker(&["network", "ls", "--format", "{{.Name}}", "--filter", filter]))
    };
    assert_eq!(ls("dangling=true"), "unused");
    assert_eq!(
        ls("dangling=false").lines().collect::<Vec<_>>(),
        vec!["bridge", "host", "none", "used"]
    );
}

#[test]
fn restart_recreates_a_deleted_bridge_and_drops_sandboxes_whose_namespace_is_gone() {
    if !support::root_or_loud_skip("restart") {
        return;
    }
    let mut host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "--subnet", "10.41.0.0/24", "keep"]));
    create_sandbox(&host, "a1", &["keep"]);
    create_sandbox(&host, "b1", &["keep"]);
    let id = ok(host.docker(&["network", "inspect", "-f", "{{.Id}}", "keep"]));
    let bridge = format!("br-{}", &id[..12]);
    let b1_key = sandbox(&host, "b1")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    host.stop();
    // Someone deletes the bridge and removes a sandbox's namespace while cnm is down.
    assert!(
        Command::new("ip")
            .args(["link", "del", &bridge])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("umount")
            .arg(&b1_key)
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_file(&b1_key).unwrap();
    host.start();
    assert_eq!(
        ip_json(None, &["link", "show", &bridge]).len(),
        1,
        "bridge recreated"
    );
    assert_eq!(
        api(&host, "GET", "/sandboxes/b1", None).0,
        404,
        "sandbox without a namespace is dropped"
    );
    assert!(ok(host.docker(&["network", "inspect", "-f", "{{len .Containers}}", "keep"])) == "1");
    // a1 was re-plumbed onto the new bridge, and b1's address is free again.
    create_sandbox(&host, "c1", &["keep"]);
    assert_eq!(ip_of(&host, "c1", "keep"), "10.41.0.3");
    assert!(
        ping(&host, "c1", &ip_of(&host, "a1", "keep")),
        "c1 -> a1 after the bridge came back"
    );
}

/// The create/connect loop the crash test interrupts, as a shell script of API calls.
const LOOP: &str = r#"
api() { curl -sf -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' "$@"; }
i=$START
while :; do
  api -X POST http://cnm/networks/create -d "{\"Name\":\"n$i\"}" || exit 0
  api -X POST http://cnm/sandboxes/create -d "{\"Name\":\"s$i\",\"Networks\":[{\"Network\":\"n$i\"}]}" || exit 0
  api -X POST http://cnm/networks/base/connect -d "{\"Container\":\"s$i\"}" || exit 0
  j=$((i-1)); k=$((i-2))
  api -X POST http://cnm/networks/base/disconnect -d "{\"Container\":\"s$j\"}"
  api -X DELETE "http://cnm/sandboxes/s$k?force=1"
  api -X DELETE "http://cnm/networks/n$k"
  i=$((i+1))
done
"#;

#[test]
fn crash_in_a_create_connect_loop_converges_with_no_leak() {
    if !support::root_or_loud_skip("crash") {
        return;
    }
    let mut host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "--subnet", "10.50.0.0/16", "base"]));
    let rounds = 8;
    for round in 0..rounds {
        let mut worker = Command::new("bash")
            .args(["-c", LOOP])
            .env("SOCK", host.socket_path())
            .env("START", (round * 1000).to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill somewhere inside the loop: after a varying number of operations.
        std::thread::sleep(Duration::from_millis(150 + 97 * (round as u64 % 5)));
        host.kill9();
        let _ = worker.wait();
        host.start();
        invariants::check(&host, &format!("round {round}"));
        let (_, body) = api(&host, "GET", "/sandboxes", None);
        let count = serde_json::from_str::<Vec<Value>>(&body)
            .map(|v| v.len())
            .unwrap_or(0);
        eprintln!(
            "crash round {round}: killed mid-loop, restarted, {count} sandboxes consistent with the kernel"
        );
    }
    // After removing everything, nothing is held: the first pool and address come back.
    let (_, body) = api(&host, "GET", "/sandboxes", None);
    for sb in serde_json::from_str::<Vec<Value>>(&body).unwrap() {
        let name = sb["Name"].as_str().unwrap();
        assert_eq!(
            api(&host, "DELETE", &format!("/sandboxes/{name}?force=1"), None).0,
            204
        );
    }
    ok(host.docker(&["network", "prune", "-f"]));
    invariants::check(&host, "after cleanup");
    ok(host.docker(&["network", "create", "fresh"]));
    let subnet = ok(host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "fresh",
    ]));
    assert_eq!(subnet, "172.18.0.0/16", "no pool leaked across crashes");
    ok(host.docker(&["network", "create", "--subnet", "10.50.0.0/16", "base"]));
    create_sandbox(&host, "last", &["base"]);
    assert_eq!(
        ip_of(&host, "last", "base"),
        "10.50.0.2",
        "no address leaked across crashes"
    );
}

#[test]
fn ipv6_null_host_and_adopted_namespaces() {
    if !support::root_or_loud_skip("namespaces") {
        return;
    }
    let host = TestHost::new(&[]);
    // IPv6: dual-stack bridge, addresses from the given subnet, ping6 between sandboxes.
    ok(host.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:77::/64",
        "--subnet",
        "10.77.0.0/24",
        "v6",
    ]));
    create_sandbox(&host, "six-a", &["v6"]);
    create_sandbox(&host, "six-b", &["v6"]);
    let b = sandbox(&host, "six-b");
    let b6 = b["NetworkSettings"]["Networks"]["v6"]["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b6, "fd00:77::3");
    assert_eq!(
        b["NetworkSettings"]["Networks"]["v6"]["IPv6Gateway"],
        "fd00:77::1"
    );
    let a_key = sandbox(&host, "six-a")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let out = nsenter(
        &a_key,
        &["busybox", "ping", "-6", "-c", "1", "-W", "2", &b6],
    );
    assert!(out.status.success(), "ping6: {}", text(&out));
    let routes = ip_json(Some(&a_key), &["-6", "route", "show", "default"]);
    assert_eq!(routes[0]["gateway"], "fd00:77::1", "{routes:?}");

    // none: only loopback.
    create_sandbox(&host, "lonely", &["none"]);
    let key = sandbox(&host, "lonely")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let links: Vec<String> = ip_json(Some(&key), &["link"])
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(links, vec!["lo"]);
    let (code, body) = api(
        &host,
        "POST",
        "/networks/v6/connect",
        Some(r#"{"Container":"lonely"}"#),
    );
    assert_eq!(code, 400, "{body}");

    // host: the sandbox is the daemon's own namespace, which is never removed.
    create_sandbox(&host, "hosty", &["host"]);
    let key = sandbox(&host, "hosty")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let bridges = ip_json(Some(&key), &["link", "show", "type", "bridge"]);
    assert!(
        !bridges.is_empty(),
        "a host-mode sandbox sees the daemon's bridges"
    );
    assert_eq!(
        api(&host, "DELETE", "/sandboxes/hosty?force=1", None).0,
        204
    );
    assert!(
        !ip_json(None, &["link", "show", "type", "bridge"]).is_empty(),
        "the daemon's namespace survives"
    );

    // --netns: adopt a namespace made by someone else; cnm plumbs it and never deletes it.
    let path = host.dir().join("runtime-ns");
    assert!(Command::new("touch").arg(&path).status().unwrap().success());
    let made = Command::new("unshare")
        .arg(format!("--net={}", path.display()))
        .arg("true")
        .status()
        .unwrap();
    assert!(made.success());
    let body = serde_json::json!({"Name": "adopted", "NetnsPath": path.display().to_string(), "Networks": [{"Network": "v6"}]});
    let (code, out) = api(&host, "POST", "/sandboxes/create", Some(&body.to_string()));
    assert_eq!(code, 201, "{out}");
    let ns = path.display().to_string();
    assert!(
        nsenter(&ns, &["busybox", "ping", "-c", "1", "-W", "2", "10.77.0.3"])
            .status
            .success()
    );
    assert_eq!(
        api(&host, "DELETE", "/sandboxes/adopted?force=1", None).0,
        204
    );
    let links: Vec<String> = ip_json(Some(&ns), &["link"])
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        links,
        vec!["lo"],
        "the adopted namespace is left, minus cnm's interface"
    );
    let _ = Command::new("umount").arg(&path).status();
}

#[test]
fn sandboxes_find_each_other_by_name_on_user_defined_networks_only() {
    if !support::root_or_loud_skip("dns") {
        return;
    }
    let host = TestHost::new(&[]);
    ok(host.docker(&["network", "create", "apps"]));
    create_sandbox(&host, "web", &["apps"]);
    create_sandbox(&host, "cli", &["bridge"]);
    ok(host.docker(&["network", "connect", "--alias", "api", "apps", "cli"]));
    let key = sandbox(&host, "web")["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let lookup = |name: &str| text(&nsenter(&key, &["busybox", "nslookup", name, "127.0.0.11"]));
    let cli_ip = ip_of(&host, "cli", "apps");
    assert!(lookup("cli").contains(&cli_ip), "{}", lookup("cli"));
    assert!(
        lookup("cli.apps").contains(&cli_ip),
        "{}",
        lookup("cli.apps")
    );
    assert!(lookup("api").contains(&cli_ip), "{}", lookup("api"));
    // The sandbox's resolv.conf names the embedded resolver.
    let resolv =
        std::fs::read_to_string(sandbox(&host, "web")["ResolvConfPath"].as_str().unwrap()).unwrap();
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    // Ping by name goes through the resolver and the bridge (hosts and resolv.conf are the
    // sandbox's, as `cnm sandbox exec` mounts them).
    let ping = host.in_netns("web", &["busybox", "ping", "-c", "1", "-W", "2", "cli"]);
    assert!(
        ping.status.success() && text(&ping).contains(&cli_ip),
        "{}",
        text(&ping)
    );
    // On the default bridge there is no embedded DNS.
    create_sandbox(&host, "plain", &["bridge"]);
    let resolv =
        std::fs::read_to_string(sandbox(&host, "plain")["ResolvConfPath"].as_str().unwrap())
            .unwrap();
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    // Disconnect removes the name at once.
    ok(host.docker(&["network", "disconnect", "apps", "cli"]));
    assert!(!lookup("cli").contains(&cli_ip), "{}", lookup("cli"));
}

#[test]
fn dynamic_subnets_avoid_host_routes_added_while_running() {
    if !support::root_or_loud_skip("host routes") {
        return;
    }
    let host = TestHost::new(&[]);
    // A connected subnet appears on the host after the daemon started: IPAM must see it.
    for args in [
        vec!["link", "add", "h0", "type", "veth", "peer", "name", "h1"],
        vec!["addr", "add", "172.18.0.5/16", "dev", "h0"],
        vec!["link", "set", "h1", "up"],
        vec!["link", "set", "h0", "up"],
    ] {
        assert!(
            Command::new("ip").args(&args).status().unwrap().success(),
            "ip {args:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    ok(host.docker(&["network", "create", "after-route"]));
    let subnet = ok(host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "after-route",
    ]));
    assert_eq!(
        subnet, "172.19.0.0/16",
        "172.18.0.0/16 is the host's own subnet"
    );
    // And once the route is gone, its pool is free again.
    assert!(
        Command::new("ip")
            .args(["link", "del", "h0"])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    ok(host.docker(&["network", "create", "after-del"]));
    let subnet = ok(host.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "after-del",
    ]));
    assert_eq!(subnet, "172.18.0.0/16");
}

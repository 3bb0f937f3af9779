//! Root integration tests of the embedded resolver: real queries from inside sandbox
//! namespaces to 127.0.0.11:53, and forwarding to upstream responders the test runs itself.
//!
//! Each test first moves into a private network + mount namespace (`support::private_host`);
//! that namespace plays the daemon's, with `lo` up so the test's upstream responders can listen
//! on 127.0.0.1. Sandboxes are namespaces made with `osl::netns::create`, `lo` up. No packet
//! leaves namespaces the test made. Run with `cargo nextest run -p cnm-core --test resolver`;
//! not root → each test prints `SKIP: needs root`.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cnm_core::osl::{Netlink, netns};
use cnm_core::resolver::{RecordTable, Resolver, ResolverConfig, build_query};
use cnm_types::Id;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use support::PrivateHost;

const FRONT: &str = "front";
const BACK: &str = "back";

/// The private host, a resolver, and three sandboxes: web on front, db on back, api on both.
struct Fixture {
    host: PrivateHost,
    resolver: Resolver,
    web: (Id, PathBuf),
    db: (Id, PathBuf),
    api: (Id, PathBuf),
}

fn fixture(config: ResolverConfig) -> Option<Fixture> {
    let host = support::private_host()?;
    let sandboxes: Vec<(Id, PathBuf)> = ["web", "db", "api"]
        .iter()
        .map(|name| (Id::random(), host.path(&format!("netns/{name}"))))
        .collect();
    host.block_on(async {
        set_lo_up(&Netlink::current().expect("netlink in the test namespace")).await;
        for (_, path) in &sandboxes {
            netns::create(path).expect("create sandbox netns");
            set_lo_up(&Netlink::open_in(path).expect("netlink in sandbox")).await;
        }
    });
    let [web, db, api]: [(Id, PathBuf); 3] = sandboxes.try_into().unwrap();
    let resolver = host.block_on(async { Resolver::new(config) });
    resolver.set_records(records(&web.0, &db.0, &api.0));
    host.block_on(async {
        for (id, path) in [&web, &db, &api] {
            resolver
                .start(id, path, None)
                .await
                .expect("start resolver");
        }
    });
    Some(Fixture {
        host,
        resolver,
        web,
        db,
        api,
    })
}

async fn set_lo_up(netlink: &Netlink) {
    let lo = netlink
        .link_by_name("lo")
        .await
        .expect("query lo")
        .expect("lo exists");
    netlink.set_up(lo.index).await.expect("lo up");
}

fn network_id(c: char) -> Id {
    Id::parse(&c.to_string().repeat(64)).unwrap()
}

fn records(web: &Id, db: &Id, api: &Id) -> RecordTable {
    let (front, back) = (network_id('a'), network_id('b'));
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut builder = RecordTable::builder();
    builder
        .add_network(front.clone(), FRONT)
        .add_network(back.clone(), BACK);
    builder.add_endpoint(
        front.clone(),
        web.clone(),
        names(&["web", "www", web.short()]),
        Some(Ipv4Addr::new(10, 0, 0, 2)),
        Some("fd00::2".parse().unwrap()),
    );
    builder.add_endpoint(
        back.clone(),
        db.clone(),
        names(&["db", "database"]),
        Some(Ipv4Addr::new(10, 1, 0, 2)),
        None,
    );
    builder.add_endpoint(
        front,
        api.clone(),
        names(&["api", "www"]),
        Some(Ipv4Addr::new(10, 0, 0, 3)),
        None,
    );
    builder.add_endpoint(
        back,
        api.clone(),
        names(&["api"]),
        Some(Ipv4Addr::new(10, 1, 0, 3)),
        None,
    );
    builder.build()
}

fn quick_config(upstreams: Vec<SocketAddr>) -> ResolverConfig {
    ResolverConfig {
        upstreams,
        // Long enough that a loaded CI machine never hits them by accident; the tests that
        // measure a hedge or an idle timeout compare against these values.
        upstream_timeout: Duration::from_secs(3),
        hedge_after: Duration::from_millis(300),
        tcp_idle_timeout: Duration::from_secs(2),
        ..ResolverConfig::default()
    }
}

// ---- clients, inside a sandbox -------------------------------------------------------------

const SERVER: &str = "127.0.0.11:53";

fn udp_client(sandbox: &Path) -> UdpSocket {
    netns::run_in(sandbox, || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client");
        socket.connect(SERVER).expect("connect client");
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        socket
    })
    .expect("enter sandbox")
}

fn tcp_client(sandbox: &Path) -> TcpStream {
    let stream = netns::run_in(sandbox, || TcpStream::connect(SERVER))
        .expect("enter sandbox")
        .expect("connect 127.0.0.11:53/tcp");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    stream
}

fn query(id: u16, name: &str, record_type: RecordType) -> Vec<u8> {
    build_query(id, name, record_type).expect("build query")
}

fn ask_udp(socket: &UdpSocket, name: &str, record_type: RecordType) -> Message {
    let id: u16 = rand::random();
    socket.send(&query(id, name, record_type)).expect("send");
    let mut buffer = [0u8; 4096];
    loop {
        let len = socket
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("no UDP answer for {name}: {e}"));
        let reply = Message::from_vec(&buffer[..len]).expect("decode reply");
        if reply.id == id {
            return reply;
        }
    }
}

fn send_tcp(stream: &mut TcpStream, id: u16, name: &str, record_type: RecordType) {
    use std::io::Write;
    let message = query(id, name, record_type);
    let mut framed = (message.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&message);
    stream.write_all(&framed).expect("write TCP query");
}

fn read_tcp(stream: &mut TcpStream) -> Message {
    use std::io::Read;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).expect("read TCP length");
    let mut reply = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut reply).expect("read TCP reply");
    Message::from_vec(&reply).expect("decode TCP reply")
}

fn ask_tcp(stream: &mut TcpStream, name: &str, record_type: RecordType) -> Message {
    let id: u16 = rand::random();
    send_tcp(stream, id, name, record_type);
    let reply = read_tcp(stream);
    assert_eq!(reply.id, id);
    reply
}

fn addresses(reply: &Message) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = list.iter().map(|s| s.parse().unwrap()).collect();
    out.sort();
    out
}

// ---- upstream responders, in the test's own ("daemon") namespace -----------------------------

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// A answers `answer` for every A query, over UDP and TCP.
    Answer,
    /// SERVFAIL for everything.
    ServFail,
    /// UDP: TC set and no answer; TCP: three addresses.
    TruncateUdp,
}

struct Upstream {
    address: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
}

fn upstream_reply(query: &[u8], behaviour: Behaviour, answer: Ipv4Addr, over_tcp: bool) -> Vec<u8> {
    let request = Message::from_vec(query).expect("upstream got a valid query");
    let mut reply = Message::response(request.id, request.op_code);
    reply.metadata.recursion_desired = request.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(request.queries.iter().cloned());
    let owner = request.queries[0].name().clone();
    let a = |ip: Ipv4Addr| Record::from_rdata(owner.clone(), 30, RData::A(A(ip)));
    match behaviour {
        Behaviour::Answer => {
            reply.add_answer(a(answer));
        }
        Behaviour::ServFail => reply.metadata.response_code = ResponseCode::ServFail,
        Behaviour::TruncateUdp if over_tcp => {
            for last in 1..=3 {
                reply.add_answer(a(Ipv4Addr::new(192, 0, 2, last)));
            }
        }
        Behaviour::TruncateUdp => reply.metadata.truncation = true,
    }
    reply.to_vec().unwrap()
}

fn spawn_upstream(
    host: &PrivateHost,
    address: SocketAddr,
    behaviour: Behaviour,
    answer: Ipv4Addr,
) -> Upstream {
    let udp_queries = Arc::new(AtomicUsize::new(0));
    let tcp_queries = Arc::new(AtomicUsize::new(0));
    let (udp, tcp) = host.block_on(async {
        (
            tokio::net::UdpSocket::bind(address)
                .await
                .expect("bind upstream udp"),
            tokio::net::TcpListener::bind(address)
                .await
                .expect("bind upstream tcp"),
        )
    });
    let counter = udp_queries.clone();
    host.runtime.spawn(async move {
        let mut buffer = [0u8; 4096];
        while let Ok((len, peer)) = udp.recv_from(&mut buffer).await {
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = upstream_reply(&buffer[..len], behaviour, answer, false);
            let _ = udp.send_to(&reply, peer).await;
        }
    });
    let counter = tcp_queries.clone();
    host.runtime.spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = tcp.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                while let Ok(len) = stream.read_u16().await {
                    let mut query = vec![0u8; len as usize];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let reply = upstream_reply(&query, behaviour, answer, true);
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&reply);
                    let _ = stream.write_all(&framed).await;
                }
            });
        }
    });
    Upstream {
        address,
        udp_queries,
        tcp_queries,
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

// ---- tests ---------------------------------------------------------------------------------

#[test]
fn local_names_aliases_network_suffix_aaaa_and_case() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    let a = |name: &str| {
        let reply = ask_udp(&web, name, RecordType::A);
        assert_eq!(reply.response_code, ResponseCode::NoError, "{name}");
        reply.answers.iter().for_each(|r| assert_eq!(r.ttl, 600));
        addresses(&reply)
    };
    assert_eq!(a("web"), ips(&["10.0.0.2"]));
    assert_eq!(
        a("API"),
        ips(&["10.0.0.3"]),
        "first shared network wins, case-insensitive"
    );
    assert_eq!(a("api.front."), ips(&["10.0.0.3"]));
    assert_eq!(
        a(&format!("{}.", f.web.0.short())),
        ips(&["10.0.0.2"]),
        "short id"
    );
    assert_eq!(
        a("www"),
        ips(&["10.0.0.2", "10.0.0.3"]),
        "shared alias: every address"
    );

    let aaaa = ask_udp(&web, "web.front", RecordType::AAAA);
    assert_eq!(addresses(&aaaa), ips(&["fd00::2"]));
    let nodata = ask_udp(&web, "api", RecordType::AAAA);
    assert_eq!(
        (nodata.response_code, nodata.answers.len()),
        (ResponseCode::NoError, 0),
        "NODATA"
    );

    // The same over TCP.
    let mut stream = tcp_client(&f.web.1);
    assert_eq!(
        addresses(&ask_tcp(&mut stream, "WEB.FRONT.", RecordType::A)),
        ips(&["10.0.0.2"])
    );

    // api sees back through its second network, by plain name and by name.network.
    let api = udp_client(&f.api.1);
    assert_eq!(
        addresses(&ask_udp(&api, "database", RecordType::A)),
        ips(&["10.1.0.2"])
    );
    assert_eq!(
        addresses(&ask_udp(&api, "api.back", RecordType::A)),
        ips(&["10.1.0.3"])
    );
}

#[test]
fn round_robin_shuffles_shared_names() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..100 {
        let reply = ask_udp(&web, "www", RecordType::A);
        assert_eq!(reply.answers.len(), 2);
        let RData::A(first) = &reply.answers[0].data else {
            panic!("not A")
        };
        firsts.insert(first.0);
    }
    assert_eq!(
        firsts.len(),
        2,
        "both addresses must come first sometimes over 100 queries"
    );
}

#[test]
fn ptr_and_nxdomain() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    let ptr = |name: &str| {
        let reply = ask_udp(&web, name, RecordType::PTR);
        match reply.answers.first().map(|r| &r.data) {
            Some(RData::PTR(target)) => target.0.to_ascii(),
            other => panic!("no PTR for {name}: {other:?} ({:?})", reply.response_code),
        }
    };
    assert_eq!(
        ptr("3.0.0.10.in-addr.arpa."),
        "api.front.",
        "first name, not the alias"
    );
    assert_eq!(
        ptr("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."),
        "web.front."
    );

    let started = Instant::now();
    let miss = ask_udp(&web, "nosuchname", RecordType::A);
    assert_eq!(miss.response_code, ResponseCode::NXDomain);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered locally, not forwarded"
    );
}

#[test]
fn a_sandbox_sees_only_the_networks_it_is_on() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    let db = udp_client(&f.db.1);
    // web (front) and db (back) share no network.
    assert_eq!(
        ask_udp(&web, "db", RecordType::A).response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(
        ask_udp(&db, "web", RecordType::A).response_code,
        ResponseCode::NXDomain
    );
    // db sees api only through back, with back's address.
    assert_eq!(
        addresses(&ask_udp(&db, "api", RecordType::A)),
        ips(&["10.1.0.3"])
    );
    assert_eq!(addresses(&ask_udp(&db, "www", RecordType::A)).len(), 0);
    // No PTR across networks either: 10.0.0.2 (web on front) is unknown to db. With no
    // upstreams it cannot be forwarded, so SERVFAIL, not a name.
    let reply = ask_udp(&db, "2.0.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        (reply.response_code, reply.answers.len()),
        (ResponseCode::ServFail, 0)
    );
}

#[test]
fn busybox_nslookup_resolves_a_peer() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    if !Path::new("/bin/busybox").exists() {
        panic!("/bin/busybox missing: install busybox-static (scripts/test does)");
    }
    let output = std::process::Command::new("nsenter")
        .arg(format!("--net={}", f.web.1.display()))
        .args(["/bin/busybox", "nslookup", "api.front", "127.0.0.11"])
        .output()
        .expect("run nsenter busybox");
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        text.contains("10.0.0.3"),
        "busybox nslookup did not print api's address"
    );
}

#[test]
fn forwards_other_names_over_udp_and_tcp() {
    // The upstream runs in the fixture's private host, so it is added once that exists.
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let upstream = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5302"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 10),
    );
    f.resolver.set_upstreams(vec![upstream.address]);
    let web = udp_client(&f.web.1);
    let reply = ask_udp(&web, "example.test", RecordType::A);
    assert_eq!(addresses(&reply), ips(&["192.0.2.10"]));
    assert_eq!(reply.queries[0].name().to_ascii(), "example.test.");
    let mut stream = tcp_client(&f.web.1);
    let reply = ask_tcp(&mut stream, "example.test", RecordType::A);
    assert_eq!(addresses(&reply), ips(&["192.0.2.10"]));
    assert_eq!(upstream.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(
        upstream.tcp_queries.load(Ordering::SeqCst),
        1,
        "TCP client → TCP upstream"
    );
    // Local names never reach the upstream.
    ask_udp(&web, "web", RecordType::A);
    ask_udp(&web, "nosuchname", RecordType::A);
    assert_eq!(upstream.udp_queries.load(Ordering::SeqCst), 1);
    let stats = f.resolver.stats();
    assert_eq!(
        (
            stats.forwarded,
            stats.local_answers,
            stats.upstream_failures
        ),
        (2, 2, 0),
        "{stats:?}"
    );
}

#[test]
fn a_silent_first_upstream_costs_one_hedge_then_is_asked_last() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    // Bound, never read: queries to it vanish without an ICMP error, like a dead resolver.
    let black_hole = f
        .host
        .block_on(async { UdpSocket::bind("127.0.0.1:5301").expect("bind black hole") });
    let good = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5302"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 20),
    );
    f.resolver
        .set_upstreams(vec![addr("127.0.0.1:5301"), good.address]);
    let web = udp_client(&f.web.1);

    let started = Instant::now();
    let reply = ask_udp(&web, "first.example", RecordType::A);
    let first = started.elapsed();
    assert_eq!(addresses(&reply), ips(&["192.0.2.20"]));
    // Hedge at 300 ms, not the 3 s per-server timeout (nor Docker's 4 s).
    assert!(
        first >= Duration::from_millis(250) && first < Duration::from_secs(2),
        "{first:?}"
    );

    let started = Instant::now();
    let reply = ask_udp(&web, "second.example", RecordType::A);
    let second = started.elapsed();
    assert_eq!(addresses(&reply), ips(&["192.0.2.20"]));
    assert!(
        second < Duration::from_millis(250),
        "the silent server is asked last now: {second:?}"
    );
    println!("failover: first query {first:?}, next query {second:?}");
    drop(black_hole);
}

#[test]
fn servfail_moves_on_to_the_next_upstream_and_all_failing_is_servfail() {
    // No hedge within the test's bounds: only a failure can start the next server early.
    let config = ResolverConfig {
        hedge_after: Duration::from_secs(2),
        ..quick_config(Vec::new())
    };
    let Some(f) = fixture(config) else {
        return;
    };
    let failing = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5303"),
        Behaviour::ServFail,
        Ipv4Addr::UNSPECIFIED,
    );
    let good = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5304"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 30),
    );
    f.resolver
        .set_upstreams(vec![failing.address, good.address]);
    let web = udp_client(&f.web.1);
    let started = Instant::now();
    assert_eq!(
        addresses(&ask_udp(&web, "x.example", RecordType::A)),
        ips(&["192.0.2.30"])
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "SERVFAIL → next server at once"
    );
    assert_eq!(failing.udp_queries.load(Ordering::SeqCst), 1);

    f.resolver.set_upstreams(vec![failing.address]);
    let reply = ask_udp(&web, "y.example", RecordType::A);
    assert_eq!(reply.response_code, ResponseCode::ServFail);
    // A closed port answers with ICMP unreachable: also a quick failure, not a timeout.
    f.resolver.set_upstreams(vec![addr("127.0.0.1:5399")]);
    let started = Instant::now();
    assert_eq!(
        ask_udp(&web, "z.example", RecordType::A).response_code,
        ResponseCode::ServFail
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn no_upstreams_is_a_quick_servfail() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    let started = Instant::now();
    let reply = ask_udp(&web, "example.com", RecordType::A);
    assert_eq!(reply.response_code, ResponseCode::ServFail);
    assert_eq!(reply.queries[0].name().to_ascii(), "example.com.");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_truncated_udp_answer_is_retried_over_tcp() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let upstream = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5305"),
        Behaviour::TruncateUdp,
        Ipv4Addr::UNSPECIFIED,
    );
    f.resolver.set_upstreams(vec![upstream.address]);
    let web = udp_client(&f.web.1);
    let reply = ask_udp(&web, "big.example", RecordType::A);
    assert!(!reply.truncation);
    assert_eq!(
        addresses(&reply),
        ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    );
    assert_eq!(upstream.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(upstream.tcp_queries.load(Ordering::SeqCst), 1);
}

#[test]
fn per_sandbox_upstreams_replace_the_default_ones() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let default = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5306"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 61),
    );
    let own = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5307"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 62),
    );
    f.resolver.set_upstreams(vec![default.address]);
    // A second start only updates the upstreams of a sandbox already served.
    f.host
        .block_on(f.resolver.start(&f.db.0, &f.db.1, Some(vec![own.address])))
        .expect("restart");
    assert_eq!(
        addresses(&ask_udp(&udp_client(&f.db.1), "q.example", RecordType::A)),
        ips(&["192.0.2.62"])
    );
    assert_eq!(
        addresses(&ask_udp(&udp_client(&f.web.1), "q.example", RecordType::A)),
        ips(&["192.0.2.61"])
    );
}

#[test]
fn tcp_queries_can_be_pipelined() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let mut stream = tcp_client(&f.web.1);
    let names = ["web", "api", "www", "nosuchname"];
    for (i, name) in names.iter().enumerate() {
        send_tcp(&mut stream, 100 + i as u16, name, RecordType::A);
    }
    let mut replies: Vec<Message> = (0..names.len()).map(|_| read_tcp(&mut stream)).collect();
    replies.sort_by_key(|r| r.id);
    assert_eq!(addresses(&replies[0]), ips(&["10.0.0.2"]));
    assert_eq!(addresses(&replies[1]), ips(&["10.0.0.3"]));
    assert_eq!(addresses(&replies[2]), ips(&["10.0.0.2", "10.0.0.3"]));
    assert_eq!(replies[3].response_code, ResponseCode::NXDomain);
}

#[test]
fn a_stalled_tcp_client_blocks_nobody_and_is_dropped_after_the_idle_timeout() {
    use std::io::{Read, Write};
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let mut stalled = tcp_client(&f.web.1);
    stalled
        .set_read_timeout(Some(Duration::from_secs(6)))
        .unwrap();
    stalled
        .write_all(&[0])
        .expect("send one byte of a length prefix");
    let connected = Instant::now();

    // UDP and another TCP client are served meanwhile, at once.
    let started = Instant::now();
    let web = udp_client(&f.web.1);
    assert_eq!(
        addresses(&ask_udp(&web, "web", RecordType::A)),
        ips(&["10.0.0.2"])
    );
    let mut other = tcp_client(&f.web.1);
    assert_eq!(
        addresses(&ask_tcp(&mut other, "api", RecordType::A)),
        ips(&["10.0.0.3"])
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The server closes the stalled connection after the 2 s idle timeout.
    let mut byte = [0u8; 1];
    let read = stalled.read(&mut byte);
    let closed_after = connected.elapsed();
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "expected EOF, got {read:?}"
    );
    assert!(
        closed_after >= Duration::from_millis(1800) && closed_after < Duration::from_secs(4),
        "{closed_after:?}"
    );
}

#[test]
fn tcp_connections_over_the_cap_are_closed_and_udp_still_works() {
    use std::io::Read;
    let config = ResolverConfig {
        max_tcp_connections: 2,
        tcp_idle_timeout: Duration::from_secs(5),
        ..quick_config(Vec::new())
    };
    let Some(f) = fixture(config) else { return };
    let _held: Vec<TcpStream> = (0..2).map(|_| tcp_client(&f.web.1)).collect();
    std::thread::sleep(Duration::from_millis(50));
    let mut third = tcp_client(&f.web.1);
    let mut byte = [0u8; 1];
    let read = third.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "third connection must be closed: {read:?}"
    );
    assert_eq!(
        addresses(&ask_udp(&udp_client(&f.web.1), "web", RecordType::A)),
        ips(&["10.0.0.2"])
    );
}

#[test]
fn oversize_and_garbage_datagrams_are_survived() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    web.send(&vec![0u8; 9000]).expect("send oversize");
    web.send(&[1, 2, 3]).expect("send runt");
    web.send(&[
        0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1,
    ])
    .expect("send loop");
    let mut buffer = [0u8; 512];
    let len = web.recv(&mut buffer).expect("FORMERR for the pointer loop");
    let reply = Message::from_vec(&buffer[..len]).unwrap();
    assert_eq!(
        (reply.id, reply.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    assert_eq!(
        addresses(&ask_udp(&web, "web", RecordType::A)),
        ips(&["10.0.0.2"])
    );
}

#[test]
fn records_swap_atomically_and_stop_closes_the_listeners() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    assert_eq!(
        addresses(&ask_udp(&web, "api", RecordType::A)),
        ips(&["10.0.0.3"])
    );
    // api disconnects from front: the controller rebuilds the table without it.
    let mut builder = RecordTable::builder();
    builder
        .add_network(network_id('a'), FRONT)
        .add_network(network_id('b'), BACK);
    builder.add_endpoint(
        network_id('a'),
        f.web.0.clone(),
        vec!["web".into()],
        Some(Ipv4Addr::new(10, 0, 0, 2)),
        None,
    );
    builder.add_endpoint(
        network_id('b'),
        f.db.0.clone(),
        vec!["db".into()],
        Some(Ipv4Addr::new(10, 1, 0, 2)),
        None,
    );
    f.resolver.set_records(builder.build());
    assert_eq!(
        ask_udp(&web, "api", RecordType::A).response_code,
        ResponseCode::NXDomain
    );

    f.host.block_on(f.resolver.stop(&f.web.0));
    f.host.block_on(f.resolver.stop(&f.web.0)); // idempotent
    assert!(!f.resolver.is_serving(&f.web.0));
    let refused = netns::run_in(&f.web.1, || TcpStream::connect(SERVER)).unwrap();
    assert!(refused.is_err(), "TCP listener still open after stop");
    web.send(&query(1, "web", RecordType::A)).unwrap();
    let mut buffer = [0u8; 512];
    assert!(
        web.recv(&mut buffer).is_err(),
        "UDP still answered after stop"
    );
    // Port 53 is free again at once.
    f.host
        .block_on(f.resolver.start(&f.web.0, &f.web.1, None))
        .expect("restart after stop");
    assert_eq!(
        addresses(&ask_udp(&udp_client(&f.web.1), "web", RecordType::A)),
        ips(&["10.0.0.2"])
    );
    // db, served all along, was not disturbed.
    assert_eq!(
        addresses(&ask_udp(&udp_client(&f.db.1), "db", RecordType::A)),
        ips(&["10.1.0.2"])
    );
}

#[test]
fn start_fails_clearly_when_the_port_is_taken_or_the_path_is_not_a_namespace() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let busy = f.host.path("netns/busy");
    netns::create(&busy).expect("create");
    let squatter = netns::run_in(&busy, || UdpSocket::bind(SERVER))
        .unwrap()
        .expect("squat 127.0.0.11:53");
    let sandbox = Id::random();
    let error = f
        .host
        .block_on(f.resolver.start(&sandbox, &busy, None))
        .expect_err("port taken");
    assert!(
        error.to_string().contains("bind 127.0.0.11:53 (udp)"),
        "{error}"
    );
    let error = f
        .host
        .block_on(f.resolver.start(&sandbox, Path::new("/etc/hostname"), None))
        .expect_err("not a netns");
    assert!(
        error.to_string().contains("not a network namespace"),
        "{error}"
    );
    assert!(!f.resolver.is_serving(&sandbox));
    drop(squatter);
}

#[test]
fn local_answer_latency() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let web = udp_client(&f.web.1);
    for _ in 0..50 {
        ask_udp(&web, "api", RecordType::A); // warm up
    }
    let mut samples: Vec<Duration> = (0..1000)
        .map(|_| {
            let started = Instant::now();
            let reply = ask_udp(&web, "api", RecordType::A);
            let elapsed = started.elapsed();
            assert_eq!(reply.answers.len(), 1);
            elapsed
        })
        .collect();
    samples.sort();
    let (median, p99) = (samples[500], samples[990]);
    println!(
        "local UDP answer over 1000 queries: median {median:?}, p99 {p99:?}, max {:?}",
        samples[999]
    );
    assert!(median < Duration::from_millis(5), "median {median:?}");
}

// ---- forwarding over the shared upstream sockets -------------------------------------------

/// `n<k>.example` → 192.0.<k / 256>.<k % 256>: an answer that tells which query it answers.
fn numbered_answer(name: &str) -> Ipv4Addr {
    let k: u16 = name
        .trim_start_matches('n')
        .split('.')
        .next()
        .and_then(|digits| digits.parse().ok())
        .expect("a numbered name");
    let [high, low] = k.to_be_bytes();
    Ipv4Addr::new(192, 0, high, low)
}

/// An upstream on its own thread that holds `batch` UDP queries, then answers them in reverse
/// order (so replies come back in a different order than the queries went out); each answer
/// is `numbered_answer` of the asked name. Returns how many distinct (port, id) pairs it saw.
fn spawn_holding_upstream(address: SocketAddr, batch: usize) -> std::thread::JoinHandle<usize> {
    let socket = UdpSocket::bind(address).expect("bind holding upstream");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut buffer = [0u8; 4096];
        while held.len() < batch {
            let (len, peer) = socket.recv_from(&mut buffer).expect("upstream recv");
            let request = Message::from_vec(&buffer[..len]).expect("a valid query");
            seen.insert((peer.port(), request.id));
            let mut reply = Message::response(request.id, request.op_code);
            reply.add_queries(request.queries.iter().cloned());
            let owner = request.queries[0].name().clone();
            let answer = numbered_answer(&owner.to_ascii());
            reply.add_answer(Record::from_rdata(owner, 30, RData::A(A(answer))));
            held.push((reply.to_vec().unwrap(), peer));
        }
        for (n, (reply, peer)) in held.into_iter().rev().enumerate() {
            socket.send_to(&reply, peer).expect("upstream send");
            if n % 50 == 49 {
                // Paced, so the resolver's socket buffers cannot overflow on loopback.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        seen.len()
    })
}

#[test]
fn a_burst_of_concurrent_forwards_from_several_sandboxes_gets_the_right_answers() {
    // Over the old per-sandbox cap of 256, all in flight at once (the upstream holds them all),
    // from three sandboxes that reuse the same client ids: the rewritten ids keep them apart.
    const PER_SANDBOX: u16 = 300;
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let upstream_address = addr("127.0.0.1:5310");
    let upstream = f
        .host
        .block_on(async { spawn_holding_upstream(upstream_address, 3 * usize::from(PER_SANDBOX)) });
    f.resolver.set_upstreams(vec![upstream_address]);
    let clients: Vec<(usize, UdpSocket)> = [&f.web.1, &f.db.1, &f.api.1]
        .into_iter()
        .enumerate()
        .map(|(i, path)| (i, udp_client(path)))
        .collect();
    // Readers first, so the replies are taken off the clients' sockets as they come.
    let readers: Vec<_> = clients
        .iter()
        .map(|(i, client)| {
            let (i, client) = (*i as u16, client.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut answered = std::collections::HashSet::new();
                let mut buffer = [0u8; 4096];
                while answered.len() < usize::from(PER_SANDBOX) {
                    let len = client.recv(&mut buffer).expect("every query is answered");
                    let reply = Message::from_vec(&buffer[..len]).expect("decode reply");
                    assert_eq!(reply.response_code, ResponseCode::NoError, "never REFUSED");
                    let name = format!("n{}.example.", i * PER_SANDBOX + reply.id);
                    assert_eq!(reply.queries[0].name().to_ascii(), name, "the client's id");
                    assert_eq!(addresses(&reply), vec![IpAddr::V4(numbered_answer(&name))]);
                    assert!(answered.insert(reply.id), "one reply per query");
                }
            })
        })
        .collect();
    for (i, client) in &clients {
        for id in 0..PER_SANDBOX {
            let k = *i as u16 * PER_SANDBOX + id;
            client
                .send(&query(id, &format!("n{k}.example"), RecordType::A))
                .expect("send");
            if id % 25 == 24 {
                // Paced a little, so no socket buffer on the way overflows (a lost datagram
                // would leave the holding upstream waiting); all are still in flight at once.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    for reader in readers {
        reader.join().expect("all answered, correctly");
    }
    assert_eq!(
        upstream.join().unwrap(),
        3 * usize::from(PER_SANDBOX),
        "every query in flight had its own (port, id) upstream"
    );
    assert_eq!(f.resolver.stats().refused, 0);
}

#[test]
fn a_dead_upstream_fails_over_and_the_shared_sockets_keep_working() {
    let Some(f) = fixture(quick_config(Vec::new())) else {
        return;
    };
    let good = spawn_upstream(
        &f.host,
        addr("127.0.0.1:5312"),
        Behaviour::Answer,
        Ipv4Addr::new(192, 0, 2, 40),
    );
    // 5311: nobody listens (ICMP unreachable): the next server is asked at once, many times
    // over on the same long-lived sockets.
    f.resolver
        .set_upstreams(vec![addr("127.0.0.1:5311"), good.address]);
    let web = udp_client(&f.web.1);
    let started = Instant::now();
    for n in 0..20 {
        let reply = ask_udp(&web, &format!("f{n}.example"), RecordType::A);
        assert_eq!(addresses(&reply), ips(&["192.0.2.40"]));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no hedge delay: {:?}",
        started.elapsed()
    );
    // The dead server comes back: once its penalty is over it would be asked again; here the
    // good one simply keeps answering, and a late TC still goes to TCP on the same server.
    let reply = ask_udp(&web, "last.example", RecordType::A);
    assert_eq!(addresses(&reply), ips(&["192.0.2.40"]));
    assert_eq!(good.udp_queries.load(Ordering::SeqCst), 21);
    assert_eq!(f.resolver.stats().upstream_failures, 0);
}

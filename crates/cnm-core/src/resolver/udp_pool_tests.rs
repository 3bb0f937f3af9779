//! Unit tests of the upstream socket pool, against fake upstreams on 127.0.0.1 (loopback of
//! whatever namespace the test runs in; no root needed).

use std::collections::HashSet;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::time::timeout;

use super::*;
use crate::resolver::build_query;

fn query(id: u16, name: &str) -> Vec<u8> {
    build_query(id, name, RecordType::A).expect("a valid name")
}

/// A reply to `query`: the query itself with QR set, so its question tells which query it
/// answers.
fn reply_to(query: &[u8]) -> Vec<u8> {
    let mut reply = query.to_vec();
    reply[2] |= 0x80;
    reply
}

fn asked_name(message: &[u8]) -> String {
    let message = Message::from_vec(message).expect("valid message");
    message.queries[0].name().to_ascii()
}

/// An upstream that collects `batch` queries, then answers them in reverse order; it records
/// every (source port, id) it saw. On its own thread, so it drains its socket while the test's
/// runtime is busy sending (a burst must not overflow its receive buffer).
fn reversing_upstream(batch: usize) -> (SocketAddr, std::thread::JoinHandle<Vec<(u16, u16)>>) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut held = Vec::new();
        let mut buffer = vec![0u8; 4096];
        while held.len() < batch {
            let (len, peer) = socket.recv_from(&mut buffer).unwrap();
            let id = u16::from_be_bytes([buffer[0], buffer[1]]);
            seen.push((peer.port(), id));
            held.push((reply_to(&buffer[..len]), peer));
        }
        for (reply, peer) in held.into_iter().rev() {
            socket.send_to(&reply, peer).unwrap();
        }
        seen
    });
    (address, thread)
}

#[tokio::test]
async fn concurrent_queries_each_get_their_own_reply_under_rewritten_ids() {
    const QUERIES: usize = 200;
    let (server, upstream) = reversing_upstream(QUERIES);
    let pool = Arc::new(UdpPool::default());
    let mut tasks = Vec::new();
    for n in 0..QUERIES {
        let pool = pool.clone();
        // Every client uses the same id, as many stub resolvers would.
        tasks.push(tokio::spawn(async move {
            let name = format!("q{n}.example.");
            let reply = pool.exchange(server, &query(7, &name)).await.unwrap();
            (name, reply)
        }));
    }
    for task in tasks {
        let (name, reply) = timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(asked_name(&reply), name);
    }
    let seen = upstream.join().unwrap();
    let distinct: HashSet<(u16, u16)> = seen.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        QUERIES,
        "ids in flight are unique per socket"
    );
    assert!(
        seen.iter().any(|&(_, id)| id != 7),
        "ids are rewritten, not passed through"
    );
    let ports: HashSet<u16> = seen.iter().map(|&(port, _)| port).collect();
    assert_eq!(
        ports.len(),
        SOCKETS_PER_SERVER,
        "spread over the pool's sockets"
    );
}

#[tokio::test]
async fn late_duplicate_and_forged_replies_are_dropped() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = socket.local_addr().unwrap();
    let pool = UdpPool::default();

    // 1. A query that times out: its reply, sent late, must not answer the next query even
    //    if the next one happens to reuse its id.
    let first = query(1, "late.example.");
    let gave_up = timeout(Duration::from_millis(50), pool.exchange(server, &first)).await;
    assert!(gave_up.is_err());
    let mut buffer = vec![0u8; 4096];
    let (len, first_peer) = socket.recv_from(&mut buffer).await.unwrap();
    let late = reply_to(&buffer[..len]);
    assert!(
        pool.servers.lock().unwrap()[&server]
            .sockets
            .iter()
            .all(|c| c.shared.pending.lock().unwrap().is_empty()),
        "the id is freed when the exchange is dropped"
    );

    let second = query(2, "fresh.example.");
    let exchange = tokio::spawn({
        let pool = Arc::new(pool);
        async move { pool.exchange(server, &second).await }
    });
    let (len, peer) = socket.recv_from(&mut buffer).await.unwrap();
    let sent = buffer[..len].to_vec();
    // The late reply, re-addressed with the second query's id: same id, wrong question.
    let mut forged = late.clone();
    forged[..2].copy_from_slice(&sent[..2]);
    socket.send_to(&forged, peer).await.unwrap();
    socket.send_to(&late, first_peer).await.unwrap();
    // Not a response (QR clear), right id and question: ignored too.
    socket.send_to(&sent, peer).await.unwrap();
    socket.send_to(&reply_to(&sent), peer).await.unwrap();
    // A duplicate of the right reply arrives after the query was answered: dropped.
    socket.send_to(&reply_to(&sent), peer).await.unwrap();
    let reply = timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(asked_name(&reply), "fresh.example.");
    assert_eq!(
        reply[..2],
        sent[..2],
        "the upstream's id; forward restores the client's"
    );
}

#[tokio::test]
async fn a_closed_port_fails_fast() {
    // Bind then drop: a port on loopback that nobody listens on answers ICMP unreachable.
    let server = {
        let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let pool = UdpPool::default();
    let outcome = timeout(
        Duration::from_secs(2),
        pool.exchange(server, &query(3, "x.example.")),
    )
    .await
    .expect("ICMP unreachable ends the wait, no timeout needed");
    assert!(
        matches!(outcome, Err(UdpError::Unreachable { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn sockets_rotate_to_new_ports() {
    let server: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let pool = UdpPool::default();
    let mut ports = HashSet::new();
    let mut kept = Vec::new();
    for _ in 0..(SOCKETS_PER_SERVER * ROTATE_AFTER as usize + SOCKETS_PER_SERVER) {
        let channel = pool.channel(server).unwrap();
        ports.insert(channel.shared.socket.local_addr().unwrap().port());
        if kept.len() < SOCKETS_PER_SERVER {
            kept.push(channel); // a query still running on a first-generation socket
        }
    }
    assert_eq!(
        ports.len(),
        2 * SOCKETS_PER_SERVER,
        "each socket replaced once"
    );
    let current = pool.servers.lock().unwrap()[&server].sockets.len();
    assert_eq!(current, SOCKETS_PER_SERVER);
    // The retired sockets still work for the queries that hold them.
    assert!(kept.iter().all(|c| c.shared.socket.local_addr().is_ok()));
}

#[tokio::test]
async fn ids_are_unique_and_a_stale_guard_frees_only_its_own_entry() {
    let channel = Channel::open("127.0.0.1:9".parse().unwrap()).unwrap();
    let shared = &channel.shared;
    let probe = query(0, "a.example.");
    let mut ids = HashSet::new();
    for _ in 0..1000 {
        let (id, _) = shared.register(&probe, oneshot::channel().0).unwrap();
        assert!(ids.insert(id), "id {id} handed out twice");
    }
    // A guard from an earlier use of an id must not remove the newer query's entry.
    let (id, serial) = shared.register(&probe, oneshot::channel().0).unwrap();
    drop(Registration {
        shared,
        id,
        serial: serial.wrapping_sub(1),
    });
    assert!(shared.pending.lock().unwrap().contains_key(&id));
    drop(Registration { shared, id, serial });
    assert!(!shared.pending.lock().unwrap().contains_key(&id));
    // Every id taken: a typed error, not a hang or a duplicate.
    for id in 0..=u16::MAX {
        shared.pending.lock().unwrap().insert(
            id,
            Waiter {
                serial: u64::MAX,
                question: Box::default(),
                reply: oneshot::channel().0,
            },
        );
    }
    assert!(matches!(
        shared.register(&probe, oneshot::channel().0),
        Err(UdpError::NoFreeId { .. })
    ));
}

#[test]
fn the_question_section_is_found_and_compared_without_case() {
    let asked = query(1, "Www.Example.");
    let question = question(&asked).expect("a plain question");
    assert_eq!(question.len(), 1 + 3 + 1 + 7 + 1 + 4);
    let echoed = reply_to(&query(9, "www.example."));
    assert!(same_question(question, &echoed));
    assert!(!same_question(question, &reply_to(&query(1, "www.other."))));
    assert!(!same_question(question, &echoed[..14]), "cut short");
    assert!(same_question(&[], &echoed), "no question known: id decides");
    // A compression pointer first, a zero count, a cut-off name: no plain question.
    let mut pointer = asked.clone();
    pointer[12] = 0xc0;
    assert_eq!(super::question(&pointer), None);
    let mut empty = asked.clone();
    empty[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(super::question(&empty), None);
    assert_eq!(super::question(&asked[..16]), None);
}

//! Slow and stalled clients on the API socket (issue 7, "limits on a slow client"): the
//! daemon runs with one-second timeouts and eight connection slots (hidden `--api-*` flags),
//! and clients that trickle headers, never finish a body, never read their responses or sit
//! idle are closed, while a normal client keeps getting answers.
//!
//! No timing is asserted: each check only waits (with a generous safety bound) for the
//! daemon to close a connection, and for a normal request to be answered.
//! Run as root: `cargo nextest run -p cnm --test slow_clients`.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use support::TestHost;
use support::api::api;

const LIMIT_FLAGS: &[&str] = &[
    "--api-header-timeout",
    "1",
    "--api-body-timeout",
    "1",
    "--api-idle-timeout",
    "1",
    "--api-max-connections",
    "8",
];
/// How long a test waits for the daemon to close a connection before calling it a failure.
const SAFETY: Duration = Duration::from_secs(30);

fn connect(socket: &Path) -> UnixStream {
    let stream = UnixStream::connect(socket).expect("connect to the API socket");
    stream.set_read_timeout(Some(SAFETY)).expect("read timeout");
    stream
}

/// Reads until the daemon closes the connection; what it sent before. Panics if it does
/// not close within [`SAFETY`].
fn read_until_closed(stream: &mut UnixStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Closing a unix socket with unread input resets its peer.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: the daemon kept the connection open for {SAFETY:?}")
            }
            Err(e) => panic!("{what}: reading: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn slow_clients_are_cut_off_and_others_are_served() {
    if !support::root_or_loud_skip("slow clients") {
        return;
    }
    let host = TestHost::new(LIMIT_FLAGS);
    let socket = host.socket_path();

    // Slowloris: 32 connections (four times the slots), each sending its headers one byte
    // at a time, for longer than the header timeout.
    let loris: Vec<_> = (0..32)
        .map(|i| {
            let socket = socket.clone();
            thread::spawn(move || {
                let mut stream = connect(&socket);
                let request = format!("GET /_ping HTTP/1.1\r\nHost: cnm\r\nX-Slow-{i}: ");
                let started = Instant::now();
                let mut bytes = request.bytes().chain(std::iter::repeat(b'a'));
                while started.elapsed() < Duration::from_secs(5) {
                    let byte = bytes.next().unwrap_or(b'a');
                    if stream.write_all(&[byte]).is_err() {
                        return true; // closed by the daemon
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                // Still open after 5 s of trickling: it must be closed now or soon.
                let out = read_until_closed(&mut stream, "slowloris");
                out.is_empty() || out.starts_with("HTTP/1.1 408")
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    // A normal client is answered while the slowloris connections trickle.
    for _ in 0..3 {
        assert_eq!(api(&host, "GET", "/_ping", None), (200, "OK".into()));
    }
    for handle in loris {
        assert!(
            handle.join().expect("slowloris thread"),
            "a slowloris connection got an answer"
        );
    }

    // Headers that stop half-way: closed.
    let mut stalled = connect(&socket);
    stalled
        .write_all(b"GET /networks HTTP/1.1\r\nHost: cnm\r\n")
        .unwrap();
    let out = read_until_closed(&mut stalled, "half-sent headers");
    assert!(
        out.is_empty() || out.starts_with("HTTP/1.1 408"),
        "half-sent headers got {out:?}"
    );

    // A body that never completes: 408 with a message, then closed.
    let mut body = connect(&socket);
    body.write_all(
        b"POST /networks/create HTTP/1.1\r\nHost: cnm\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"Name\":",
    )
    .unwrap();
    let out = read_until_closed(&mut body, "unfinished body");
    assert!(
        out.starts_with("HTTP/1.1 408"),
        "unfinished body got {out:?}"
    );
    assert!(
        out.contains(r#"{"message":"timed out reading the request body"}"#),
        "unfinished body got {out:?}"
    );
    assert!(
        !api(&host, "GET", "/networks", None)
            .1
            .contains("\"Name\":\"\""),
        "a network was made of the unfinished body"
    );

    // A kept-alive connection that goes quiet after its answer: closed.
    let mut idle = connect(&socket);
    idle.write_all(b"GET /_ping HTTP/1.1\r\nHost: cnm\r\n\r\n")
        .unwrap();
    let out = read_until_closed(&mut idle, "idle keep-alive");
    assert!(out.starts_with("HTTP/1.1 200 OK"), "ping got {out:?}");
    assert!(out.ends_with("OK"), "ping got {out:?}");

    // A client that sends many requests and never reads the answers: closed once the
    // daemon's writes stall, while others are still answered.
    let mut deaf = connect(&socket);
    let writer = {
        let mut deaf = deaf.try_clone().unwrap();
        thread::spawn(move || {
            let request = b"GET /version HTTP/1.1\r\nHost: cnm\r\n\r\n";
            for _ in 0..20_000 {
                if deaf.write_all(request).is_err() {
                    return; // closed by the daemon
                }
            }
        })
    };
    thread::sleep(Duration::from_secs(3));
    assert_eq!(api(&host, "GET", "/_ping", None), (200, "OK".into()));
    read_until_closed(&mut deaf, "client that does not read");
    writer.join().expect("writer thread");

    assert_eq!(api(&host, "GET", "/_ping", None), (200, "OK".into()));
    let log = host.daemon_log();
    assert!(!log.contains("panicked"), "the daemon panicked:\n{log}");
}

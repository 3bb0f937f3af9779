//! Fuzz target for what remote plugins answer.
//!
//! Input: byte 0 picks the part.
//! - Even: the rest is one response body; byte 1 picks the type among every `NetworkDriver.*`,
//!   `IpamDriver.*` and `Plugin.Activate` response of `cnm_types::plugin`, decoded with
//!   `decode_response` as the client does. Checked: no panic; a decoded answer re-encodes and
//!   decodes to the same value.
//! - Odd: the rest is a list of raw answers separated by NUL bytes, served in order by a fake
//!   IPAM plugin on a unix socket (an answer starting with `4` is sent as a 404, with `5` as a
//!   500, anything else as a 200 with that body). cnm's real plugin client and `RemoteIpam`
//!   (load, address spaces, a dynamic pool, an address, a preferred address, releases) talk to
//!   it. Checked: no panic, and the validation promises of `ipam/remote.rs`: a granted pool
//!   has an id and the requested family; a granted address lies inside its pool; a preferred
//!   address is the one granted.

#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cnm_core::ipam::{PoolRequest, RemoteIpam};
use cnm_core::plugins::{Address, Plugin, PluginClient};
use cnm_types::plugin::*;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: DeserializeOwned + Serialize + Default + PartialEq + std::fmt::Debug>(
    body: &[u8],
) {
    let Ok(answer) = decode_response::<T>(body) else {
        return;
    };
    let again: T =
        decode_response(&serde_json::to_vec(&answer).expect("encodes")).expect("decodes");
    assert_eq!(again, answer, "a decoded answer survives a round trip");
}

fn decode_one(selector: u8, body: &[u8]) {
    match selector % 13 {
        0 => round_trip::<ActivateResponse>(body),
        1 => round_trip::<NetworkResponse>(body),
        2 => round_trip::<CapabilitiesResponse>(body),
        3 => round_trip::<GwAllocCheckResponse>(body),
        4 => round_trip::<AllocateNetworkResponse>(body),
        5 => round_trip::<CreateEndpointResponse>(body),
        6 => round_trip::<EndpointOperInfoResponse>(body),
        7 => round_trip::<JoinResponse>(body),
        8 => round_trip::<IpamResponse>(body),
        9 => round_trip::<IpamCapabilitiesResponse>(body),
        10 => round_trip::<AddressSpacesResponse>(body),
        11 => round_trip::<RequestPoolResponse>(body),
        _ => round_trip::<RequestAddressResponse>(body),
    }
}

/// A fake plugin: each connection gets the next queued answer (then `{}`).
struct FakePlugin {
    socket: PathBuf,
    answers: Arc<Mutex<VecDeque<Vec<u8>>>>,
    runtime: tokio::runtime::Runtime,
}

fn plugin() -> &'static FakePlugin {
    static PLUGIN: OnceLock<FakePlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cnm-fuzz-plugin-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let socket = dir.join("ipam.sock");
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).expect("bind the fake plugin");
        let answers: Arc<Mutex<VecDeque<Vec<u8>>>> = Arc::default();
        let queue = answers.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = queue
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| b"{}".to_vec());
                serve(stream, &answer);
            }
        });
        FakePlugin {
            socket,
            answers,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    })
}

/// Reads one request (head and `Content-Length` body) and writes `answer` as the response.
fn serve(mut stream: std::os::unix::net::UnixStream, answer: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < body_start + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = match answer.first() {
        Some(b'4') => ("404 Not Found", &answer[1..]),
        Some(b'5') => ("500 Internal Server Error", &answer[1..]),
        _ => ("200 OK", answer),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

async fn talk_to_remote_ipam(socket: PathBuf) {
    let client = PluginClient::new(
        "fuzz",
        Address::Unix(socket),
        Duration::from_secs(5),
        Duration::ZERO,
    );
    let plugin = Plugin {
        client,
        implements: vec![IPAM_DRIVER.to_string()],
    };
    let Ok(mut ipam) = RemoteIpam::load(&plugin).await else {
        return;
    };
    let Ok((local, _global)) = ipam.default_address_spaces().await else {
        return;
    };
    for v6 in [false, true] {
        let request = PoolRequest {
            address_space: local.clone(),
            pool: None,
            sub_pool: None,
            options: BTreeMap::new(),
            exclude: vec!["10.0.0.0/8".parse().unwrap()],
            v6,
        };
        let Ok(pool) = ipam.request_pool(&request).await else {
            continue;
        };
        assert!(!pool.pool_id.is_empty(), "a granted pool has an id");
        assert_eq!(
            pool.pool.addr().is_ipv6(),
            v6,
            "a granted pool has the requested family"
        );
        let options = BTreeMap::new();
        if let Ok(Some(addr)) = ipam.request_address(&pool.pool_id, None, &options).await {
            assert!(
                pool.pool.contains(&addr.addr()),
                "{addr} granted outside {}",
                pool.pool
            );
            let _ = ipam.release_address(&pool.pool_id, addr.addr()).await;
        }
        let preferred = pool.pool.hosts().nth(1).unwrap_or(pool.pool.addr());
        if let Ok(Some(addr)) = ipam
            .request_address(&pool.pool_id, Some(preferred), &options)
            .await
        {
            assert_eq!(
                addr.addr(),
                preferred,
                "a preferred address is the one granted"
            );
        }
        let _ = ipam.release_pool(&pool.pool_id).await;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        if let Some((&kind, body)) = rest.split_first() {
            decode_one(kind, body);
        }
        return;
    }
    let fake = plugin();
    {
        let mut answers = fake.answers.lock().unwrap();
        answers.clear();
        answers.extend(rest.split(|&b| b == 0).map(<[u8]>::to_vec));
    }
    fake.runtime
        .block_on(talk_to_remote_ipam(fake.socket.clone()));
});

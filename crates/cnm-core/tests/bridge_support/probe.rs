//! Real packets between namespaces: echo servers that record who connected, and probes with
//! short timeouts. Shared by cnm-core's and cnm's root tests (`#[path]` include).
//!
//! Contract: every socket is created on a thread that first joined the target network
//! namespace (`setns`); a socket stays in the namespace it was created in, so streams returned
//! to the caller keep working from any thread. Servers stop when dropped. Only addresses of
//! namespaces the test created, or loopback, are ever used.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sched::{CloneFlags, setns};

pub const TIMEOUT: Duration = Duration::from_secs(2);

fn join(netns: &Path) {
    let file =
        std::fs::File::open(netns).unwrap_or_else(|e| panic!("open {}: {e}", netns.display()));
    setns(&file, CloneFlags::CLONE_NEWNET)
        .unwrap_or_else(|e| panic!("setns {}: {e}", netns.display()));
}

/// Runs `f` on a new thread inside `netns` and returns its result.
pub fn in_netns<T: Send + 'static>(netns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let netns = netns.to_path_buf();
    std::thread::spawn(move || {
        join(&netns);
        f()
    })
    .join()
    .expect("probe thread panicked")
}

/// An echo server (TCP or UDP) in a namespace; records each client's address.
pub struct Echo {
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(netns: &Path, udp: bool, bind: SocketAddr) -> Echo {
        let (peers, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let (ready_tx, ready_rx) = mpsc::channel();
        let (p, s, ns) = (peers.clone(), stop.clone(), PathBuf::from(netns));
        let thread = std::thread::spawn(move || {
            join(&ns);
            if udp {
                let sock = UdpSocket::bind(bind).expect("udp bind");
                sock.set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 1500];
                while !s.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = sock.recv_from(&mut buf) {
                        p.lock().unwrap().push(from);
                        let _ = sock.send_to(&buf[..n], from);
                    }
                }
            } else {
                let listener = TcpListener::bind(bind).expect("tcp bind");
                listener.set_nonblocking(true).unwrap();
                ready_tx.send(()).unwrap();
                while !s.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, from)) => {
                            p.lock().unwrap().push(from);
                            std::thread::spawn(move || echo_stream(stream));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("echo server did not start");
        Echo {
            peers,
            stop,
            thread: Some(thread),
        }
    }

    pub fn tcp(netns: &Path, bind: &str) -> Echo {
        Echo::start(netns, false, bind.parse().expect("socket address"))
    }

    pub fn udp(netns: &Path, bind: &str) -> Echo {
        Echo::start(netns, true, bind.parse().expect("socket address"))
    }

    /// Client addresses seen so far, in order.
    pub fn peers(&self) -> Vec<IpAddr> {
        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
        self.peers
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.ip().to_canonical())
            .collect()
    }

    pub fn last_peer(&self) -> Option<IpAddr> {
        self.peers().last().copied()
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn echo_stream(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Opens a TCP connection from `netns` (an established stream, or why not).
pub fn tcp_connect(netns: &Path, to: &str) -> Result<TcpStream, String> {
    let to: SocketAddr = to.parse().map_err(|e| format!("{to}: {e}"))?;
    in_netns(netns, move || {
        let s =
            TcpStream::connect_timeout(&to, TIMEOUT).map_err(|e| format!("connect {to}: {e}"))?;
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        Ok(s)
    })
}

/// Sends a line on `stream` and expects it back.
pub fn roundtrip(stream: &mut TcpStream, line: &str) -> Result<(), String> {
    stream
        .write_all(line.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; line.len()];
    stream
        .read_exact(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    if buf == line.as_bytes() {
        Ok(())
    } else {
        Err(format!(
            "echo mismatch: {:?}",
            String::from_utf8_lossy(&buf)
        ))
    }
}

/// A TCP connect plus one echoed line from `netns` to `to`.
pub fn tcp_ok(netns: &Path, to: &str) -> Result<(), String> {
    let mut s = tcp_connect(netns, to)?;
    roundtrip(&mut s, "cnm\n")
}

/// A UDP datagram from `netns` to `to` and its echo (three tries).
pub fn udp_ok(netns: &Path, to: &str) -> Result<(), String> {
    let to: SocketAddr = to.parse().map_err(|e| format!("{to}: {e}"))?;
    in_netns(netns, move || {
        let any: SocketAddr = if to.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let sock = UdpSocket::bind(any).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            sock.send_to(b"cnm", to)
                .map_err(|e| format!("send {to}: {e}"))?;
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                return if &buf[..n] == b"cnm" {
                    Ok(())
                } else {
                    Err("echo mismatch".into())
                };
            }
        }
        Err(format!("no UDP echo from {to}"))
    })
}

/// A UDP socket bound in `netns` (one source port for several exchanges).
pub fn udp_socket(netns: &Path, v6: bool) -> UdpSocket {
    in_netns(netns, move || {
        let sock = UdpSocket::bind(if v6 { "[::]:0" } else { "0.0.0.0:0" }).expect("udp bind");
        sock.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        sock
    })
}

/// One datagram to `to` on `sock` and its echo.
pub fn udp_exchange(sock: &UdpSocket, to: &str) -> Result<(), String> {
    let mut buf = [0u8; 64];
    sock.send_to(b"cnm", to)
        .map_err(|e| format!("send {to}: {e}"))?;
    match sock.recv_from(&mut buf) {
        Ok((n, _)) if &buf[..n] == b"cnm" => Ok(()),
        Ok(_) => Err("echo mismatch".into()),
        Err(e) => Err(format!("no UDP echo from {to}: {e}")),
    }
}

/// One ICMP echo from `netns` (busybox ping, 2 s).
pub fn ping(netns: &Path, to: &str) -> bool {
    let ping = if to.contains(':') { "ping6" } else { "ping" };
    Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["busybox", ping, "-c", "1", "-W", "2", to])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

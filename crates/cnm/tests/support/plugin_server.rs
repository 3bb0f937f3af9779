//! A real remote plugin for tests: an axum server on a unix socket (or TCP on loopback),
//! speaking Docker's plugin protocol as a veth-creating network driver and a pool-handing
//! IPAM driver, with faults that tests switch on per method.
//!
//! Contract:
//! - `TestPlugin::start` binds the socket and serves on its own thread (a current-thread
//!   runtime). Start it *after* `TestHost::new`: the thread then lives in the test's private
//!   network namespace, where the `ip` commands it runs create and delete links.
//! - Answers (`plugin_protocol.rs`). Network driver: `CreateNetwork` makes a bridge `tb-<8 hex>` carrying the IPv4 gateway;
//!   `Join` makes a veth pair `th<8 hex>` (on the bridge, up) / `tc<8 hex>` and hands over
//!   `tc…` with prefix `eth`, the gateway and one static route (`10.99.<gateway's 2nd
//!   octet>.0/24` via the gateway); `DeleteEndpoint` deletes the veth, `DeleteNetwork` the bridge.
//! - IPAM: address spaces `TestLocal`/`TestGlobal`; a dynamic pool is the first of `pool`
//!   (default `10.50.0.0/24`), `10.50.1.0/24`, ... not handed out yet; addresses are the
//!   lowest free ones; taken addresses are refused.
//! - Every call is recorded (`calls`, `methods`), with the headers of `Plugin.Activate`.
//! - Link names derive from the ids (`tb-<network id>`, `th`/`tc<endpoint id>`), so the driver
//!   side finds its links again whatever it remembers.
//! - `stop` shuts the server down and leaves the socket file (a dead plugin: connections are
//!   refused); `restart` serves again on the same socket, optionally forgetting the IPAM side
//!   (a plugin that keeps its pools in memory, the case `RequiresRequestReplay` is for).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[path = "plugin_protocol.rs"]
mod protocol;

use protocol::answer;

/// What a method answers instead of its normal answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 200 with the protocol's error field (`Err` for the network driver, `Error` for IPAM).
    Error(String),
    /// This status with this raw body.
    Status(u16, String),
    /// 200 with this raw body (the method's normal work is not done).
    Body(String),
    /// Waits this long, then answers `{}` without doing anything.
    Hang(Duration),
}

#[derive(Clone, Debug)]
pub struct Behaviour {
    pub implements: Vec<&'static str>,
    pub scope: &'static str,
    /// Asks to be consulted about gateways (`GwAllocCheck`), and then skips the IPv4 one.
    pub gw_alloc_checker: bool,
    pub requires_mac: bool,
    pub requires_replay: bool,
    /// The pool handed out for dynamic requests.
    pub pool: &'static str,
    /// When `CreateEndpoint` gets no address: hand out addresses from this pool (and a MAC).
    pub assign_from: Option<&'static str>,
    pub faults: HashMap<String, Fault>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            implements: vec!["NetworkDriver", "IpamDriver"],
            scope: "local",
            gw_alloc_checker: false,
            requires_mac: false,
            requires_replay: false,
            pool: "10.50.0.0/24",
            assign_from: None,
            faults: HashMap::new(),
        }
    }
}

#[derive(Default)]
pub struct PluginState {
    pub behaviour: Behaviour,
    /// `(method, request body)` in arrival order.
    pub calls: Vec<(String, Value)>,
    /// Headers of the last `Plugin.Activate`.
    pub activate_headers: Vec<(String, String)>,
    /// network id → (bridge name, IPv4 gateway).
    pub networks: BTreeMap<String, (String, Option<IpAddr>)>,
    /// endpoint id → host-side veth name.
    pub endpoints: BTreeMap<String, String>,
    /// pool id → (pool, addresses in use).
    pub pools: BTreeMap<String, (ipnet::Ipv4Net, BTreeSet<Ipv4Addr>)>,
    assigned: u32,
}

pub struct TestPlugin {
    pub name: String,
    pub state: Arc<Mutex<PluginState>>,
    listen: Listen,
    server: Option<(tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>,
}

#[derive(Clone)]
enum Listen {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

impl TestPlugin {
    /// Serves `behaviour` on the unix socket `socket`.
    pub fn start(name: &str, socket: &Path, behaviour: Behaviour) -> TestPlugin {
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        Self::launch(name, Listen::Unix(socket.to_path_buf()), behaviour)
    }

    /// Serves `behaviour` on a free TCP port of 127.0.0.1.
    pub fn start_tcp(name: &str, behaviour: Behaviour) -> TestPlugin {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        Self::launch(name, Listen::Tcp(port), behaviour)
    }

    fn launch(name: &str, listen: Listen, behaviour: Behaviour) -> TestPlugin {
        let state = Arc::new(Mutex::new(PluginState {
            behaviour,
            ..Default::default()
        }));
        let mut plugin = TestPlugin {
            name: name.to_string(),
            state,
            listen,
            server: None,
        };
        plugin.serve();
        plugin
    }

    pub fn tcp_address(&self) -> String {
        match &self.listen {
            Listen::Tcp(addr) => addr.to_string(),
            Listen::Unix(path) => panic!("plugin {} listens on {}", self.name, path.display()),
        }
    }

    fn serve(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let state = self.state.clone();
        let listen = self.listen.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: Uri, headers: HeaderMap, body: Bytes| {
                        let state = state.clone();
                        async move {
                            handle(&state, uri.path().trim_start_matches('/'), &headers, &body)
                                .await
                        }
                    },
                );
                let shutdown = async {
                    let _ = rx.await;
                };
                match listen {
                    Listen::Unix(path) => {
                        let _ = std::fs::remove_file(&path);
                        let listener = tokio::net::UnixListener::bind(&path).unwrap();
                        ready_tx.send(()).unwrap();
                        axum::serve(listener, app)
                            .with_graceful_shutdown(shutdown)
                            .await
                            .unwrap();
                    }
                    Listen::Tcp(addr) => {
                        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                        ready_tx.send(()).unwrap();
                        axum::serve(listener, app)
                            .with_graceful_shutdown(shutdown)
                            .await
                            .unwrap();
                    }
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("plugin server started");
        self.server = Some((tx, thread));
    }

    /// Stops serving; the socket file stays, so connections are refused (a dead plugin).
    pub fn stop(&mut self) {
        if let Some((tx, thread)) = self.server.take() {
            let _ = tx.send(());
            thread.join().unwrap();
        }
    }

    /// Serves again on the same address; `forget_pools` drops the IPAM side's pools and
    /// addresses (kept in memory only), and the call log. The driver side keeps its records.
    pub fn restart(&mut self, forget_pools: bool) {
        self.stop();
        if forget_pools {
            let mut state = self.state.lock().unwrap();
            state.pools.clear();
            state.calls.clear();
        }
        self.serve();
    }

    pub fn set_fault(&self, method: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .behaviour
            .faults
            .insert(method.to_string(), fault);
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().behaviour.faults.clear();
    }

    /// Method names called so far, in order.
    pub fn methods(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Request bodies of `method`, in order.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    /// Addresses the IPAM side has handed out and not taken back, over all pools.
    pub fn allocated(&self) -> BTreeSet<String> {
        let state = self.state.lock().unwrap();
        state
            .pools
            .values()
            .flat_map(|(_, used)| used.iter().map(|a| a.to_string()))
            .collect()
    }
}

impl Drop for TestPlugin {
    fn drop(&mut self) {
        self.stop();
        let state = self.state.lock().unwrap();
        for veth in state.endpoints.values() {
            ip(&["link", "del", veth]);
        }
        for (bridge, _) in state.networks.values() {
            ip(&["link", "del", bridge]);
        }
        if let Listen::Unix(path) = &self.listen {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        [("content-type", "application/vnd.docker.plugins.v1+json")],
        body,
    )
        .into_response()
}

async fn handle(
    state: &Arc<Mutex<PluginState>>,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let request: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    };
    let fault = {
        let mut s = state.lock().unwrap();
        s.calls.push((method.to_string(), request.clone()));
        if method == "Plugin.Activate" {
            s.activate_headers = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
        }
        s.behaviour.faults.get(method).cloned()
    };
    let error_field = if method.starts_with("IpamDriver.") {
        "Error"
    } else {
        "Err"
    };
    match fault {
        Some(Fault::Error(message)) => {
            json_response(200, json!({ error_field: message }).to_string())
        }
        Some(Fault::Status(code, body)) => json_response(code, body),
        Some(Fault::Body(raw)) => json_response(200, raw),
        Some(Fault::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            json_response(200, "{}".into())
        }
        None => match answer(&mut state.lock().unwrap(), method, &request) {
            Ok(value) => json_response(200, value.to_string()),
            Err(message) => json_response(200, json!({ error_field: message }).to_string()),
        },
    }
}

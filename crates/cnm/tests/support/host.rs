//! `TestHost`: a private "host" for one test process, with a `cnm daemon` running in it.
//!
//! Contract:
//! - `TestHost::new` first moves the calling thread (and so every process it starts) into a new
//!   network namespace and a new mount namespace with `/` made recursively private, then sets
//!   `lo` up. Call it at the very start of a `#[test] fn`, before anything spawns threads; nextest
//!   runs each test in its own process, so the machine's own namespaces are never touched.
//!   Several `TestHost`s in one process share that one namespace.
//! - It starts `cnm daemon -H unix://<tmp>/cnm.sock --data-root <tmp>/data --exec-root
//!   <tmp>/exec <extra flags>` and returns once `GET /_ping` answers 200 (20 s at most; the
//!   panic message then carries the daemon's log).
//! - Dropping it stops the daemon by PID (SIGTERM, then SIGKILL after 10 s), detaches every mount
//!   left under its temp dir (they exist only in the private mount namespace) and removes the dir.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::process::{self, DEFAULT_TIMEOUT};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestHost {
    dir: tempfile::TempDir,
    extra_flags: Vec<String>,
    daemon: Option<Child>,
}

impl TestHost {
    /// Enters a private network + mount namespace and starts the daemon with `extra_flags`.
    pub fn new(extra_flags: &[&str]) -> TestHost {
        enter_private_namespaces();
        let dir = tempfile::Builder::new()
            .prefix("cnm-e2e-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(dir.path().join("docker-config")).expect("docker config dir");
        let mut host = TestHost {
            dir,
            extra_flags: extra_flags.iter().map(|f| f.to_string()).collect(),
            daemon: None,
        };
        host.start();
        host
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn socket_path(&self) -> PathBuf {
        self.dir().join("cnm.sock")
    }
    /// `unix:///…/cnm.sock`, for `-H` and `DOCKER_HOST`.
    pub fn host_url(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }
    pub fn data_root(&self) -> PathBuf {
        self.dir().join("data")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir().join("exec")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("daemon.log")
    }
    /// Everything the daemon printed so far (all starts appended).
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    /// PID of the running daemon, if any.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// A `docker` CLI command aimed at this daemon, with an empty config dir.
    pub fn docker_command(&self) -> Command {
        super::docker_cli(&self.host_url(), &self.dir().join("docker-config"))
    }
    pub fn docker(&self, args: &[&str]) -> Output {
        process::run(self.docker_command().args(args), None, DEFAULT_TIMEOUT)
    }

    /// A `cnm -H <this daemon>` client command.
    pub fn cnm_command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnm"));
        cmd.arg("-H")
            .arg(self.host_url())
            .env_remove("CNM_HOST")
            .env_remove("DOCKER_HOST");
        cmd
    }
    pub fn cnm(&self, args: &[&str]) -> Output {
        process::run(self.cnm_command().args(args), None, DEFAULT_TIMEOUT)
    }

    /// Runs `cmd` inside a sandbox's network namespace (`cnm sandbox exec NAME -- cmd…`).
    pub fn in_netns(&self, sandbox: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["sandbox", "exec", sandbox, "--"];
        args.extend_from_slice(cmd);
        self.cnm(&args)
    }

    /// Starts the daemon (again) and waits until it answers `/_ping`.
    pub fn start(&mut self) {
        assert!(self.daemon.is_none(), "daemon already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log");
        let err_log = log.try_clone().expect("dup log");
        let child = Command::new(env!("CARGO_BIN_EXE_cnm"))
            .arg("daemon")
            .arg("-H")
            .arg(self.host_url())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .args(&self.extra_flags)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .expect("spawn cnm daemon");
        self.daemon = Some(child);
        self.wait_ready();
    }

    /// Stops the daemon gracefully (SIGTERM, SIGKILL after 10 s).
    pub fn stop(&mut self) {
        if let Some(child) = self.daemon.take() {
            stop_child(child, Signal::SIGTERM);
        }
    }

    /// Stops and starts the daemon; state on disk and in the kernel is kept.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// Kills the daemon with SIGKILL (a crash); `start` brings it back.
    pub fn kill9(&mut self) {
        if let Some(child) = self.daemon.take() {
            stop_child(child, Signal::SIGKILL);
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ping(&self.socket_path()) {
                return;
            }
            let child = self.daemon.as_mut().expect("daemon child");
            if let Some(status) = child.try_wait().expect("wait daemon") {
                self.daemon = None;
                panic!(
                    "cnm daemon exited before answering /_ping ({status}); log:\n{}",
                    self.daemon_log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "cnm daemon did not answer /_ping within {READY_TIMEOUT:?}; log:\n{}",
                    self.daemon_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.stop();
        detach_mounts_under(self.dir.path());
    }
}

/// `GET /_ping` over the unix socket answered 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = b"GET /_ping HTTP/1.1\r\nHost: cnm\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let head = String::from_utf8_lossy(&response);
    head.starts_with("HTTP/1.") && head.split(' ').nth(1) == Some("200")
}

fn stop_child(mut child: Child, signal: Signal) {
    let _ = kill(Pid::from_raw(child.id() as i32), signal);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Once per process: new netns + mount ns, `/` recursively private, `lo` up.
fn enter_private_namespaces() {
    static ENTERED: Once = Once::new();
    ENTERED.call_once(|| {
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS).unwrap_or_else(|e| {
            panic!("unshare(CLONE_NEWNET|CLONE_NEWNS) failed: {e} (needs root)")
        });
        // Without this, mounts made by the daemon (netns bind mounts) would propagate to the host.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("making / private failed: {e}"));
        let out = process::run(
            Command::new("ip").args(["link", "set", "lo", "up"]),
            None,
            DEFAULT_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "ip link set lo up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Lazily unmounts everything mounted at or below `dir`, deepest first, so the temp dir can go.
/// `thread-self`: the namespaces were unshared by this thread only; `/proc/self` would show the
/// main thread's (the machine's) mount table.
fn detach_mounts_under(dir: &Path) {
    let mut text = String::new();
    if File::open("/proc/thread-self/mountinfo")
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return;
    }
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for point in points {
        let _ = umount2(&point, MntFlags::MNT_DETACH);
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

//! Holding a host port with a socket of the daemon: single ports only; blocks of several ports
//! are recorded by the allocator and checked with `diag.rs` instead (see `allocator.rs`).
//!
//! Contract: `hold` binds a socket to `(ip, port)` for `proto` and returns it, or `Ok(None)`
//! when the kernel has no sockets of that protocol (SCTP without the sctp module):
//! - TCP: bound, never `listen`ed. Without `SO_REUSEADDR`, no other socket can bind the port
//!   (the kernel allows two binds only when both sockets ask for reuse), and since it does
//!   not listen, nothing is ever accepted on it; connections that are not DNATed get a reset.
//! - UDP: bound, with a socket filter that drops every datagram, so nothing queues in the
//!   daemon.
//! - IPv6 sockets set `IPV6_V6ONLY`, so `[::]:p` and `0.0.0.0:p` are held independently.
//!
//! Sockets are close-on-exec. Dropping the `OwnedFd` releases the port.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Once;

use super::Proto;

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: valid fd; the value points to a c_int of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
}

/// A classic BPF program of one instruction, `ret #0`: drop everything.
fn attach_drop_all(fd: &OwnedFd) -> io::Result<()> {
    let mut code = [libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: code.as_mut_ptr(),
    };
    // SAFETY: valid fd; the program outlives the call (the kernel copies it).
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &prog as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })
}

fn open(ip: IpAddr, kind: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    let domain = if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2); the fd is owned immediately.
    let raw = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh fd owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if ip.is_ipv6() {
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    Ok(fd)
}

fn bind(fd: &OwnedFd, ip: IpAddr, port: u16) -> io::Result<()> {
    let (addr, len) = sockaddr(SocketAddr::new(ip, port));
    // SAFETY: valid fd and address of the given length.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &addr as *const _ as *const libc::sockaddr,
            len,
        )
    })
}

/// Holds `(ip, port)` for `proto`; `Ok(None)` when the kernel has no such sockets.
pub fn hold(proto: Proto, ip: IpAddr, port: u16) -> io::Result<Option<OwnedFd>> {
    raise_fd_limit();
    let (kind, protocol) = match proto {
        Proto::Tcp => (libc::SOCK_STREAM, libc::IPPROTO_TCP),
        Proto::Udp => (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
        Proto::Sctp => (libc::SOCK_STREAM, libc::IPPROTO_SCTP),
    };
    let fd = match open(ip, kind, protocol) {
        Ok(fd) => fd,
        Err(e)
            if proto == Proto::Sctp
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT)
                ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if proto == Proto::Udp {
        attach_drop_all(&fd)?;
    }
    bind(&fd, ip, port)?;
    Ok(Some(fd))
}

/// True when a socket can be bound to `ip` (it is an address of this host).
pub fn can_bind_address(ip: IpAddr) -> bool {
    open(ip, libc::SOCK_DGRAM, libc::IPPROTO_UDP)
        .and_then(|fd| bind(&fd, ip, 0))
        .is_ok()
}

/// A daemon holding thousands of ports needs as many descriptors: raise the limit once, to
/// the kernel's `nr_open` where allowed (root), else the soft limit to the hard one.
fn raise_fd_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain getrlimit/setrlimit on our own process with a valid struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return;
            }
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max.max(nr_open),
                rlim_max: lim.rlim_max.max(nr_open),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    });
}

//! Figures for published ports at scale, printed (not asserted): publishing 1, 100 and 1000
//! ports, a 1000-port range, unpublishing, publishing one port with 0, 1000 and 10,000 ports
//! already published, the daemon's memory for 10,000 ports, an idle repair check and a restart
//! reconcile. The `bench/` suite owns the comparisons with the reference daemon; this is the
//! driver-level cost in a private namespace. Run: `cargo nextest run -p cnm-core --test
//! ports_scale --no-capture` as root.

mod bridge_support;
mod support;

use std::time::{Duration, Instant};

use bridge_support::{endpoint, network, ok};
use cnm_core::driver::BridgeDriver;
use cnm_core::driver::bridge::BridgeSettings;
use cnm_core::model::{Endpoint, Network, labels as l};
use cnm_core::osl::Netlink;
use cnm_core::portmap::{PortRange, PortSpec, Proto};

fn spec(host: u16, host_end: u16, container: u16, container_end: u16) -> PortSpec {
    PortSpec {
        proto: Proto::Tcp,
        container: PortRange::new(container, container_end),
        host_ip: None,
        host: PortRange::new(host, host_end),
    }
}

fn singles(first: u16, n: u16) -> Vec<PortSpec> {
    (0..n).map(|i| spec(first + i, first + i, 80, 80)).collect()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Bench {
    d: BridgeDriver,
    net: Network,
    next: u32,
}

impl Bench {
    fn endpoint(&mut self) -> Endpoint {
        self.next += 1;
        let addr = format!("10.200.{}.{}/16", self.next / 250, self.next % 250 + 2);
        endpoint(&self.net, Some(&addr), None)
    }

    async fn publish(&mut self, ep: &Endpoint, specs: &[PortSpec]) -> Duration {
        let t = Instant::now();
        let got = self
            .d
            .program_ports(&self.net, ep, specs)
            .await
            .expect("program ports");
        let elapsed = t.elapsed();
        assert_eq!(got.len(), specs.len());
        elapsed
    }

    async fn revoke(&mut self, ep: &Endpoint) -> Duration {
        let t = Instant::now();
        self.d.revoke_ports(&self.net, ep).await.unwrap();
        t.elapsed()
    }

    /// Median time to publish (and then to revoke) one port on a fresh endpoint.
    async fn one_port(&mut self, port: u16) -> (Duration, Duration) {
        let (mut p, mut r) = (Vec::new(), Vec::new());
        for _ in 0..15 {
            let ep = self.endpoint();
            p.push(self.publish(&ep, &singles(port, 1)).await);
            r.push(self.revoke(&ep).await);
        }
        (median(p), median(r))
    }
}

#[test]
fn published_port_figures() {
    let Some(h) = support::private_host() else {
        return;
    };
    h.block_on(async {
        ok("ip", &["link", "set", "lo", "up"]);
        let mut d = BridgeDriver::new(
            BridgeSettings { ip_forward: true },
            Netlink::current().unwrap(),
        );
        let net = network(
            "scale",
            &[(l::BRIDGE_NAME, "br-scale")],
            Some("10.200.0.0/16"),
            None,
            false,
        );
        d.create_network(&net, &[]).await.unwrap();
        let mut b = Bench { d, net, next: 0 };
        let mut rows: Vec<(String, String)> = Vec::new();
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);

        let (p1, r1) = b.one_port(8080).await;
        rows.push(("publish 1 port (median of 15)".into(), ms(p1)));
        rows.push(("unpublish 1 port".into(), ms(r1)));
        let ep = b.endpoint();
        rows.push((
            "publish 100 ports (100 -p)".into(),
            ms(b.publish(&ep, &singles(10000, 100)).await),
        ));
        rows.push(("unpublish 100 ports".into(), ms(b.revoke(&ep).await)));
        let ep = b.endpoint();
        rows.push((
            "publish 1000 ports (1000 -p)".into(),
            ms(b.publish(&ep, &singles(10000, 1000)).await),
        ));
        rows.push(("unpublish 1000 ports".into(), ms(b.revoke(&ep).await)));
        let ep = b.endpoint();
        rows.push((
            "publish a 1000-port range (one -p)".into(),
            ms(b.publish(&ep, &[spec(20000, 20999, 20000, 20999)]).await),
        ));
        rows.push(("unpublish the range".into(), ms(b.revoke(&ep).await)));

        let rss0 = rss_kib();
        let (p0, _) = b.one_port(8080).await;
        rows.push(("publish 1 port, 0 published".into(), ms(p0)));
        let bulk1 = b.endpoint();
        b.publish(&bulk1, &singles(30000, 1000)).await;
        let (p1k, _) = b.one_port(8080).await;
        rows.push(("publish 1 port, 1000 published".into(), ms(p1k)));
        let bulk2 = b.endpoint();
        let t10k = b.publish(&bulk2, &singles(40000, 9000)).await;
        rows.push((
            "publish 9000 ports at once (one transaction)".into(),
            ms(t10k),
        ));
        let (p10k, r10k) = b.one_port(8080).await;
        rows.push(("publish 1 port, 10000 published".into(), ms(p10k)));
        rows.push(("unpublish 1 port, 10000 published".into(), ms(r10k)));
        rows.push((
            "daemon RSS growth for 10000 ports".into(),
            format!("{} KiB", rss_kib().saturating_sub(rss0)),
        ));

        let mut checks = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            assert!(!b.d.check_and_repair().await.unwrap());
            checks.push(t.elapsed());
        }
        rows.push((
            "idle check_and_repair, 10000 published".into(),
            format!("{:.1} µs", median(checks).as_secs_f64() * 1e6),
        ));
        let t = Instant::now();
        ok(
            "nft",
            &[
                "add",
                "element",
                "inet",
                "cnm",
                "bridges",
                "{ \"elsewhere\" }",
            ],
        );
        assert!(b.d.check_and_repair().await.unwrap());
        rows.push((
            "repair after a change (lists 20000 elements)".into(),
            ms(t.elapsed()),
        ));

        println!(
            "\npublished ports, bridge driver level (private namespace, debug build of cnm-core):"
        );
        for (what, figure) in rows {
            println!("  {what:<48} {figure:>12}");
        }
    });
}

//! The fixed skeleton of `table inet cnm`: its sets, chains and rules.
//!
//! Contract: nothing here depends on how many networks or ports exist. Every rule reads sets
//! and maps, and all per-network and per-port state is elements of those (`policy.rs`), so an
//! API operation only adds or deletes elements. Each rule carries a comment `<label> #<hash>`,
//! where the hash covers the chain name and the rule text: reconciliation compares a chain's
//! comments with the kernel's to see whether the chain is intact or must be rebuilt.
//! Chain `user` is created empty and is never flushed, rebuilt or deleted by cnm.

use std::fmt::Write as _;

use super::elements::Kind::{self, *};

pub const FAMILY: &str = "inet";
pub const TABLE: &str = "cnm";
/// The chain users own (Docker's `DOCKER-USER`).
pub const USER_CHAIN: &str = "user";

/// A set or map declaration.
pub struct SetDecl {
    pub name: &'static str,
    pub key: &'static [Kind],
    /// Data type for a map, `None` for a set.
    pub data: Option<&'static [Kind]>,
    pub interval: bool,
}

const fn set(name: &'static str, key: &'static [Kind], interval: bool) -> SetDecl {
    SetDecl {
        name,
        key,
        data: None,
        interval,
    }
}

const fn map(name: &'static str, key: &'static [Kind], data: &'static [Kind]) -> SetDecl {
    SetDecl {
        name,
        key,
        data: Some(data),
        interval: true,
    }
}

const fn hash_map(name: &'static str, key: &'static [Kind], data: &'static [Kind]) -> SetDecl {
    SetDecl {
        name,
        key,
        data: Some(data),
        interval: false,
    }
}

pub const SETS: &[SetDecl] = &[
    set("bridges", &[Ifname], false),
    set("internal", &[Ifname], false),
    set("same_icc", &[Ifname, Ifname], false),
    set("same_noicc", &[Ifname, Ifname], false),
    set("trusted", &[Ifname, Ifname], false),
    set("unprotected", &[NfProto, Ifname], false),
    set("routed", &[NfProto, Ifname], false),
    set("forward_guard", &[NfProto], false),
    set("own_v4", &[Ipv4, Ifname], true),
    set("own_v6", &[Ipv6, Ifname], true),
    set("protected_v4", &[Ipv4], true),
    set("protected_v6", &[Ipv6], true),
    set("direct_ok_v4", &[Ipv4, Ifname], true),
    set("direct_ok_v6", &[Ipv6, Ifname], true),
    set("masq_v4", &[Ipv4], true),
    set("masq_v6", &[Ipv6], true),
    map("snat_v4", &[Ipv4], &[Ipv4]),
    map("snat_v6", &[Ipv6], &[Ipv6]),
    // Single ports live in hash maps and sets (adding or deleting one costs the same however
    // many exist); only port ranges need interval maps, whose updates grow with their size.
    hash_map(
        "dnat_v4",
        &[Ipv4, InetProto, InetService],
        &[Ipv4, InetService],
    ),
    hash_map(
        "dnat_v6",
        &[Ipv6, InetProto, InetService],
        &[Ipv6, InetService],
    ),
    hash_map(
        "dnat_any_v4",
        &[InetProto, InetService],
        &[Ipv4, InetService],
    ),
    hash_map(
        "dnat_any_v6",
        &[InetProto, InetService],
        &[Ipv6, InetService],
    ),
    map("dnat_range_v4", &[Ipv4, InetProto, InetService], &[Ipv4]),
    map("dnat_range_v6", &[Ipv6, InetProto, InetService], &[Ipv6]),
    set("published_v4", &[Ipv4, InetProto, InetService], false),
    set("published_v6", &[Ipv6, InetProto, InetService], false),
    set("published_range_v4", &[Ipv4, InetProto, InetService], true),
    set("published_range_v6", &[Ipv6, InetProto, InetService], true),
];

pub fn set_decl(name: &str) -> Option<&'static SetDecl> {
    SETS.iter().find(|s| s.name == name)
}

/// A base chain's hook: `(type, hook, priority)`; policy is always accept (cnm never sets a
/// global policy: its drops are rules, and only for traffic of its own bridges).
pub struct Hook {
    pub kind: &'static str,
    pub hook: &'static str,
    pub priority: i32,
}

pub struct Rule {
    pub label: &'static str,
    pub text: &'static str,
}

pub struct ChainDecl {
    pub name: &'static str,
    pub hook: Option<Hook>,
    pub rules: &'static [Rule],
}

const fn rule(label: &'static str, text: &'static str) -> Rule {
    Rule { label, text }
}

/// Managed chains in creation order: regular chains (jump targets) first.
pub const CHAINS: &[ChainDecl] = &[
    ChainDecl {
        name: "into-bridge",
        hook: None,
        rules: &[
            rule("trusted interface", "iifname . oifname @trusted accept"),
            rule(
                "nat-unprotected",
                "meta nfproto . oifname @unprotected accept",
            ),
            rule(
                "published v4",
                "ip daddr . meta l4proto . th dport @published_v4 accept",
            ),
            rule(
                "published v6",
                "ip6 daddr . meta l4proto . th dport @published_v6 accept",
            ),
            rule(
                "published range v4",
                "ip daddr . meta l4proto . th dport @published_range_v4 accept",
            ),
            rule(
                "published range v6",
                "ip6 daddr . meta l4proto . th dport @published_range_v6 accept",
            ),
            rule(
                "routed icmp",
                "meta l4proto { icmp, ipv6-icmp } meta nfproto . oifname @routed accept",
            ),
            rule("not published", "drop"),
        ],
    },
    ChainDecl {
        name: "ports",
        hook: None,
        rules: &[
            rule("no link-local clients", "ip6 saddr fe80::/10 return"),
            rule("::1 is not routable", "ip6 daddr ::1 return"),
            rule(
                "dnat v4",
                "meta l4proto { tcp, udp, sctp } dnat ip to ip daddr . meta l4proto . th dport map @dnat_v4",
            ),
            rule(
                "dnat v4 any address",
                "meta nfproto ipv4 meta l4proto { tcp, udp, sctp } dnat ip to meta l4proto . th dport map @dnat_any_v4",
            ),
            rule(
                "dnat v4 range",
                "dnat ip to ip daddr . meta l4proto . th dport map @dnat_range_v4",
            ),
            rule(
                "dnat v6",
                "meta l4proto { tcp, udp, sctp } dnat ip6 to ip6 daddr . meta l4proto . th dport map @dnat_v6",
            ),
            rule(
                "dnat v6 any address",
                "meta nfproto ipv6 meta l4proto { tcp, udp, sctp } dnat ip6 to meta l4proto . th dport map @dnat_any_v6",
            ),
            rule(
                "dnat v6 range",
                "dnat ip6 to ip6 daddr . meta l4proto . th dport map @dnat_range_v6",
            ),
        ],
    },
    ChainDecl {
        name: "forward",
        hook: Some(Hook {
            kind: "filter",
            hook: "forward",
            priority: 0,
        }),
        rules: &[
            rule("user rules first", "jump user"),
            rule("replies", "ct state established,related accept"),
            rule(
                "icc off: published ports only",
                "ct status dnat iifname . oifname @same_noicc jump into-bridge",
            ),
            rule("icc off", "iifname . oifname @same_noicc drop"),
            rule("icc on", "iifname . oifname @same_icc accept"),
            rule("internal: no way out", "iifname @internal drop"),
            rule("internal: no way in", "oifname @internal drop"),
            rule("into a bridge", "oifname @bridges jump into-bridge"),
            rule(
                "forwarding cnm enabled",
                "meta nfproto @forward_guard iifname != @bridges oifname != @bridges drop",
            ),
        ],
    },
    // After conntrack (-200), before DNAT (-100): the destination is still the original one,
    // and replies to connections the containers opened are told apart from new traffic (so a
    // network without masquerade still gets its replies; Docker's raw-table drop loses them).
    ChainDecl {
        name: "prerouting",
        hook: Some(Hook {
            kind: "filter",
            hook: "prerouting",
            priority: -150,
        }),
        rules: &[
            rule(
                "no host loopback from bridges",
                "iifname @bridges ip daddr 127.0.0.0/8 drop",
            ),
            rule(
                "no direct access v4",
                "ct direction original ip daddr @protected_v4 ip daddr . iifname != @direct_ok_v4 fib daddr type != local drop",
            ),
            rule(
                "no direct access v6",
                "ct direction original ip6 daddr @protected_v6 ip6 daddr . iifname != @direct_ok_v6 fib daddr type != local drop",
            ),
        ],
    },
    ChainDecl {
        name: "nat-prerouting",
        hook: Some(Hook {
            kind: "nat",
            hook: "prerouting",
            priority: -100,
        }),
        rules: &[rule("published ports", "fib daddr type local jump ports")],
    },
    ChainDecl {
        name: "nat-output",
        hook: Some(Hook {
            kind: "nat",
            hook: "output",
            priority: -100,
        }),
        rules: &[rule(
            "published ports from the host",
            "fib daddr type local jump ports",
        )],
    },
    ChainDecl {
        name: "nat-postrouting",
        hook: Some(Hook {
            kind: "nat",
            hook: "postrouting",
            priority: 100,
        }),
        rules: &[
            rule(
                "host loopback to a port",
                "ct status dnat oifname @bridges ip saddr 127.0.0.0/8 masquerade",
            ),
            rule(
                "hairpin v4",
                "ct status dnat ip saddr . oifname @own_v4 masquerade",
            ),
            rule(
                "stays on its bridge v4",
                "ip saddr . oifname @own_v4 return",
            ),
            rule("host_ipv4", "snat ip to ip saddr map @snat_v4"),
            rule("masquerade v4", "ip saddr @masq_v4 masquerade"),
            rule(
                "hairpin v6",
                "ct status dnat ip6 saddr . oifname @own_v6 masquerade",
            ),
            rule(
                "stays on its bridge v6",
                "ip6 saddr . oifname @own_v6 return",
            ),
            rule("host_ipv6", "snat ip6 to ip6 saddr map @snat_v6"),
            rule("masquerade v6", "ip6 saddr @masq_v6 masquerade"),
        ],
    },
];

/// FNV-1a: stable across builds and platforms (std's hasher is not).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// The comment that identifies a rule of `chain`.
pub fn rule_comment(chain: &str, rule: &Rule) -> String {
    format!(
        "{} #{:08x}",
        rule.label,
        fnv1a(&format!("{chain}\n{}", rule.text))
    )
}

pub fn comments(chain: &ChainDecl) -> Vec<String> {
    chain
        .rules
        .iter()
        .map(|r| rule_comment(chain.name, r))
        .collect()
}

pub fn add_set(decl: &SetDecl, out: &mut String) {
    let names = |kinds: &[Kind]| {
        kinds
            .iter()
            .map(|k| k.nft_name())
            .collect::<Vec<_>>()
            .join(" . ")
    };
    let _ = write!(
        out,
        "add {} {FAMILY} {TABLE} {} {{ type {}",
        if decl.data.is_some() { "map" } else { "set" },
        decl.name,
        names(decl.key)
    );
    if let Some(data) = decl.data {
        let _ = write!(out, " : {}", names(data));
    }
    if decl.interval {
        out.push_str("; flags interval");
    }
    out.push_str("; }\n");
}

pub fn add_chain(chain: &ChainDecl, out: &mut String) {
    match &chain.hook {
        Some(h) => {
            let _ = writeln!(
                out,
                "add chain {FAMILY} {TABLE} {} {{ type {} hook {} priority {}; policy accept; }}",
                chain.name, h.kind, h.hook, h.priority
            );
        }
        None => {
            let _ = writeln!(out, "add chain {FAMILY} {TABLE} {}", chain.name);
        }
    }
}

pub fn add_rules(chain: &ChainDecl, out: &mut String) {
    for rule in chain.rules {
        let _ = writeln!(
            out,
            "add rule {FAMILY} {TABLE} {} {} comment \"{}\"",
            chain.name,
            rule.text,
            rule_comment(chain.name, rule)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_a_rule_names_is_declared_and_comments_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for chain in CHAINS {
            for rule in chain.rules {
                for word in rule
                    .text
                    .split_whitespace()
                    .filter_map(|w| w.strip_prefix('@'))
                {
                    assert!(
                        set_decl(word).is_some(),
                        "{} uses undeclared @{word}",
                        chain.name
                    );
                }
                assert!(seen.insert(rule_comment(chain.name, rule)));
            }
        }
        for decl in SETS {
            assert!(
                CHAINS.iter().any(|c| c
                    .rules
                    .iter()
                    .any(|r| r.text.contains(&format!("@{}", decl.name)))),
                "{} unused",
                decl.name
            );
        }
    }

    #[test]
    fn jump_targets_are_created_before_the_chains_that_jump() {
        for (i, chain) in CHAINS.iter().enumerate() {
            for rule in chain.rules {
                if let Some(target) = rule.text.split("jump ").nth(1) {
                    let target = target.split_whitespace().next().unwrap();
                    if target != USER_CHAIN {
                        let at = CHAINS
                            .iter()
                            .position(|c| c.name == target)
                            .expect("target declared");
                        assert!(at < i, "{target} must come before {}", chain.name);
                    }
                }
            }
        }
    }
}

//! Unit tests of the record table: scoping, aliases, round robin, `name.network`, PTR.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

fn id(c: char) -> Id {
    Id::parse(&c.to_string().repeat(64)).expect("hex id")
}

fn v4(s: &str) -> Option<Ipv4Addr> {
    Some(s.parse().unwrap())
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn found(lookup: NameLookup) -> HashSet<IpAddr> {
    match lookup {
        NameLookup::Found(addresses) => addresses.into_iter().collect(),
        other => panic!("expected addresses, got {other:?}"),
    }
}

fn set(addresses: &[&str]) -> HashSet<IpAddr> {
    addresses.iter().map(|a| a.parse().unwrap()).collect()
}

/// Networks a (front, id 'a') and b (back, id 'b'). Sandboxes: web (1) on front, api (2) on
/// front+back, db (3) on back, lonely (4) on nothing.
fn table() -> RecordTable {
    let (front, back) = (id('a'), id('b'));
    let mut builder = RecordTable::builder();
    builder
        .add_network(front.clone(), "front")
        .add_network(back.clone(), "Back.Net");
    builder.add_endpoint(
        front.clone(),
        id('1'),
        names(&["web", "www", "111111111111"]),
        v4("10.0.0.2"),
        None,
    );
    builder.add_endpoint(
        front.clone(),
        id('2'),
        names(&["api", "www", "222222222222"]),
        v4("10.0.0.3"),
        Some("fd00::3".parse().unwrap()),
    );
    builder.add_endpoint(
        back.clone(),
        id('2'),
        names(&["api", "222222222222"]),
        v4("10.1.0.3"),
        None,
    );
    builder.add_endpoint(
        back,
        id('3'),
        names(&["db", "DB-Alias"]),
        v4("10.1.0.4"),
        None,
    );
    builder.build()
}

#[test]
fn names_and_aliases_resolve_in_shared_networks() {
    let table = table();
    assert_eq!(
        found(table.lookup_name(&id('1'), "web", Family::V4)),
        set(&["10.0.0.2"])
    );
    assert_eq!(
        found(table.lookup_name(&id('1'), "api", Family::V4)),
        set(&["10.0.0.3"])
    );
    assert_eq!(
        found(table.lookup_name(&id('3'), "db-alias", Family::V4)),
        set(&["10.1.0.4"])
    );
    assert_eq!(
        found(table.lookup_name(&id('3'), "222222222222", Family::V4)),
        set(&["10.1.0.3"])
    );
}

#[test]
fn scope_is_only_the_attached_networks() {
    let table = table();
    // web (front only) cannot see db (back only), and vice versa.
    assert_eq!(
        table.lookup_name(&id('1'), "db", Family::V4),
        NameLookup::Unknown
    );
    assert_eq!(
        table.lookup_name(&id('3'), "web", Family::V4),
        NameLookup::Unknown
    );
    // A sandbox on no network sees nothing; an unknown sandbox neither.
    assert_eq!(
        table.lookup_name(&id('4'), "web", Family::V4),
        NameLookup::Unknown
    );
    assert!(!table.serves(&id('4')));
    assert!(table.serves(&id('2')));
    // api sees both, and its own name on the first attached network first.
    assert_eq!(
        found(table.lookup_name(&id('2'), "db", Family::V4)),
        set(&["10.1.0.4"])
    );
    assert_eq!(
        found(table.lookup_name(&id('2'), "api", Family::V4)),
        set(&["10.0.0.3"])
    );
}

#[test]
fn shared_alias_returns_every_address_shuffled() {
    let table = table();
    assert_eq!(
        found(table.lookup_name(&id('1'), "www", Family::V4)),
        set(&["10.0.0.2", "10.0.0.3"])
    );
    let mut orders = HashSet::new();
    for _ in 0..200 {
        if let NameLookup::Found(addresses) = table.lookup_name(&id('1'), "www", Family::V4) {
            orders.insert(addresses);
        }
    }
    assert_eq!(orders.len(), 2, "both orders must show up over 200 lookups");
}

#[test]
fn names_are_case_insensitive_and_ignore_a_trailing_dot() {
    let table = table();
    assert_eq!(
        found(table.lookup_name(&id('1'), "WeB.", Family::V4)),
        set(&["10.0.0.2"])
    );
    assert_eq!(
        found(table.lookup_name(&id('3'), "Db-ALIAS", Family::V4)),
        set(&["10.1.0.4"])
    );
}

#[test]
fn name_dot_network_resolves_in_that_network_only() {
    let table = table();
    assert_eq!(
        found(table.lookup_name(&id('1'), "web.front", Family::V4)),
        set(&["10.0.0.2"])
    );
    // A dotted network name, matched case-insensitively.
    assert_eq!(
        found(table.lookup_name(&id('2'), "api.back.net.", Family::V4)),
        set(&["10.1.0.3"])
    );
    assert_eq!(
        found(table.lookup_name(&id('2'), "API.BACK.NET", Family::V4)),
        set(&["10.1.0.3"])
    );
    assert_eq!(
        found(table.lookup_name(&id('2'), "api.front", Family::V4)),
        set(&["10.0.0.3"])
    );
    // db is on back, not on front; and web.back is not a name.
    assert_eq!(
        table.lookup_name(&id('2'), "db.front", Family::V4),
        NameLookup::Unknown
    );
    assert_eq!(
        table.lookup_name(&id('2'), "web.back.net", Family::V4),
        NameLookup::Unknown
    );
    // A network the asker is not on does not open its names.
    assert_eq!(
        table.lookup_name(&id('1'), "db.back.net", Family::V4),
        NameLookup::Unknown
    );
}

#[test]
fn a_known_name_without_the_family_is_nodata() {
    let table = table();
    assert_eq!(
        table.lookup_name(&id('1'), "web", Family::V6),
        NameLookup::NoData
    );
    assert_eq!(
        found(table.lookup_name(&id('1'), "api", Family::V6)),
        [IpAddr::V6("fd00::3".parse::<Ipv6Addr>().unwrap())]
            .into_iter()
            .collect()
    );
    assert!(table.knows_name(&id('1'), "web"));
    assert!(!table.knows_name(&id('1'), "nothing"));
}

#[test]
fn reverse_lookups_give_the_primary_name_and_network() {
    let table = table();
    assert_eq!(
        table.lookup_address(&id('1'), "10.0.0.3".parse().unwrap()),
        Some("api.front")
    );
    assert_eq!(
        table.lookup_address(&id('2'), "fd00::3".parse().unwrap()),
        Some("api.front")
    );
    assert_eq!(
        table.lookup_address(&id('3'), "10.1.0.4".parse().unwrap()),
        Some("db.Back.Net")
    );
    // Out of scope: web is not on back.
    assert_eq!(
        table.lookup_address(&id('1'), "10.1.0.4".parse().unwrap()),
        None
    );
    assert_eq!(
        table.lookup_address(&id('1'), "10.9.9.9".parse().unwrap()),
        None
    );
}

#[test]
fn endpoints_without_names_still_scope_and_duplicates_collapse() {
    let net = id('c');
    let mut builder = RecordTable::builder();
    builder.add_network(net.clone(), "n");
    builder.add_endpoint(net.clone(), id('5'), Vec::new(), v4("10.2.0.5"), None);
    builder.add_endpoint(
        net.clone(),
        id('6'),
        names(&["x", "X", "", "x."]),
        v4("10.2.0.6"),
        None,
    );
    let table = builder.build();
    assert!(table.serves(&id('5')));
    assert_eq!(
        table.lookup_name(&id('5'), "x", Family::V4),
        NameLookup::Found(vec!["10.2.0.6".parse().unwrap()])
    );
    assert_eq!(
        table.lookup_address(&id('5'), "10.2.0.5".parse().unwrap()),
        None
    );
}

#[test]
fn empty_and_degenerate_names_are_unknown() {
    let table = table();
    for name in ["", ".", "..", "web..", ".web", "front"] {
        assert_eq!(
            table.lookup_name(&id('1'), name, Family::V4),
            NameLookup::Unknown,
            "{name:?}"
        );
    }
}

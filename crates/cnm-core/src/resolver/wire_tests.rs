//! Unit tests of the wire logic: answers, forwarding decisions and malformed input.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::Edns;

use super::*;

fn id(c: char) -> Id {
    Id::parse(&c.to_string().repeat(64)).expect("hex id")
}

/// One network "net" with web (sandbox 1, 10.0.0.2, fd00::2), two endpoints sharing the
/// alias "svc" (10.0.0.3, 10.0.0.4), and sandbox 9 on another network.
fn table() -> RecordTable {
    let mut builder = RecordTable::builder();
    builder
        .add_network(id('a'), "net")
        .add_network(id('b'), "other");
    builder.add_endpoint(
        id('a'),
        id('1'),
        vec!["web".into(), "www".into()],
        Some(Ipv4Addr::new(10, 0, 0, 2)),
        Some("fd00::2".parse().unwrap()),
    );
    for (sandbox, last) in [('2', 3), ('3', 4)] {
        builder.add_endpoint(
            id('a'),
            id(sandbox),
            vec![format!("svc{last}"), "svc".into()],
            Some(Ipv4Addr::new(10, 0, 0, last)),
            None,
        );
    }
    builder.add_endpoint(
        id('b'),
        id('9'),
        vec!["hidden".into()],
        Some(Ipv4Addr::new(10, 9, 0, 2)),
        None,
    );
    builder.build()
}

fn ask(name: &str, record_type: RecordType) -> Outcome {
    let query = build_query(0x1234, name, record_type).expect("query");
    handle(&query, &table(), &id('1'), Transport::Udp)
}

fn reply_of(outcome: Outcome) -> Message {
    match outcome {
        Outcome::Reply(bytes) => Message::from_vec(&bytes).expect("reply decodes"),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn addresses(reply: &Message) -> Vec<IpAddr> {
    reply
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn a_query_for_a_local_name_is_answered_with_ttl_600() {
    let reply = reply_of(ask("WEB.", RecordType::A));
    assert_eq!(reply.id, 0x1234);
    assert_eq!(reply.message_type, MessageType::Response);
    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert!(reply.recursion_desired && reply.recursion_available);
    assert_eq!(reply.queries.len(), 1);
    assert_eq!(addresses(&reply), [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))]);
    assert_eq!(reply.answers[0].ttl, LOCAL_TTL);
    assert_eq!(
        reply.answers[0].name.to_ascii(),
        "WEB.",
        "owner echoes the question"
    );
}

#[test]
fn aaaa_and_nodata() {
    let reply = reply_of(ask("web.net.", RecordType::AAAA));
    assert_eq!(
        addresses(&reply),
        [IpAddr::V6("fd00::2".parse::<Ipv6Addr>().unwrap())]
    );
    let nodata = reply_of(ask("svc.", RecordType::AAAA));
    assert_eq!(nodata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
}

#[test]
fn shared_alias_answers_every_address() {
    let reply = reply_of(ask("svc.", RecordType::A));
    let mut got = addresses(&reply);
    got.sort();
    assert_eq!(
        got,
        [
            "10.0.0.3".parse::<IpAddr>().unwrap(),
            "10.0.0.4".parse().unwrap()
        ]
    );
}

#[test]
fn ptr_for_endpoint_addresses() {
    let reply = reply_of(ask("4.0.0.10.in-addr.arpa.", RecordType::PTR));
    let RData::PTR(target) = &reply.answers[0].data else {
        panic!("not a PTR")
    };
    assert_eq!(target.0.to_ascii(), "svc4.net.");
    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    let reply = reply_of(ask(v6, RecordType::PTR));
    let RData::PTR(target) = &reply.answers[0].data else {
        panic!("not a PTR")
    };
    assert_eq!(target.0.to_ascii(), "web.net.");
    // Not an endpoint of ours, a partial arpa name, and an out-of-scope address: forwarded.
    assert!(matches!(
        ask("9.0.0.10.in-addr.arpa.", RecordType::PTR),
        Outcome::Forward(_)
    ));
    assert!(matches!(
        ask("0.10.in-addr.arpa.", RecordType::PTR),
        Outcome::Forward(_)
    ));
    assert!(matches!(
        ask("2.0.9.10.in-addr.arpa.", RecordType::PTR),
        Outcome::Forward(_)
    ));
}

#[test]
fn mx_for_a_local_name_is_empty_noerror() {
    let reply = reply_of(ask("web.", RecordType::MX));
    assert_eq!(reply.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
}

#[test]
fn unknown_single_label_is_nxdomain_without_forwarding() {
    for record_type in [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
    ] {
        let reply = reply_of(ask("nothing.", record_type));
        assert_eq!(reply.response_code, ResponseCode::NXDomain, "{record_type}");
    }
    // Out of scope counts as unknown.
    assert_eq!(
        reply_of(ask("hidden.", RecordType::A)).response_code,
        ResponseCode::NXDomain
    );
    // TLD infrastructure queries still go out.
    assert!(matches!(ask("com.", RecordType::NS), Outcome::Forward(_)));
    assert!(matches!(ask("com.", RecordType::DS), Outcome::Forward(_)));
}

#[test]
fn other_names_and_types_are_forwarded() {
    assert!(matches!(
        ask("example.com.", RecordType::A),
        Outcome::Forward(_)
    ));
    assert!(matches!(
        ask("web.other.", RecordType::A),
        Outcome::Forward(_)
    ));
    assert!(
        matches!(ask("web.", RecordType::TXT), Outcome::Forward(_)),
        "Docker forwards other types"
    );
    assert!(matches!(ask(".", RecordType::NS), Outcome::Forward(_)));
}

#[test]
fn error_reply_keeps_the_question() {
    let Outcome::Forward(request) = ask("example.com.", RecordType::A) else {
        panic!()
    };
    let reply = Message::from_vec(&error_reply(
        &request,
        ResponseCode::ServFail,
        Transport::Udp,
    ))
    .unwrap();
    assert_eq!(reply.id, 0x1234);
    assert_eq!(reply.response_code, ResponseCode::ServFail);
    assert_eq!(reply.queries[0].name().to_ascii(), "example.com.");
}

#[test]
fn udp_replies_are_truncated_to_the_client_size_tcp_ones_are_not() {
    let mut builder = RecordTable::builder();
    builder.add_network(id('a'), "net");
    for i in 0..100u8 {
        builder.add_endpoint(
            id('a'),
            id('1'),
            vec!["many".into()],
            Some(Ipv4Addr::new(10, 1, 0, i)),
            None,
        );
    }
    let table = builder.build();
    let query = build_query(7, "many.", RecordType::A).unwrap();
    let Outcome::Reply(udp) = handle(&query, &table, &id('1'), Transport::Udp) else {
        panic!()
    };
    assert!(udp.len() <= 512, "{} bytes", udp.len());
    let udp = Message::from_vec(&udp).unwrap();
    assert!(udp.truncation);
    assert!(!udp.answers.is_empty() && udp.answers.len() < 100);
    let Outcome::Reply(tcp) = handle(&query, &table, &id('1'), Transport::Tcp) else {
        panic!()
    };
    let tcp = Message::from_vec(&tcp).unwrap();
    assert!(!tcp.truncation);
    assert_eq!(tcp.answers.len(), 100);

    // With EDNS advertising 4096 bytes, all 100 fit over UDP too, and the reply has an OPT.
    let mut message = Message::from_vec(&query).unwrap();
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    message.set_edns(edns);
    let Outcome::Reply(big) = handle(&message.to_vec().unwrap(), &table, &id('1'), Transport::Udp)
    else {
        panic!()
    };
    let big = Message::from_vec(&big).unwrap();
    assert!(!big.truncation);
    assert_eq!(big.answers.len(), 100);
    assert!(big.edns.is_some());
}

#[test]
fn malformed_input_is_dropped_or_formerr() {
    let table = table();
    let ask_raw = |bytes: &[u8]| handle(bytes, &table, &id('1'), Transport::Udp);
    assert!(matches!(ask_raw(&[]), Outcome::Drop));
    assert!(matches!(ask_raw(&[0; 11]), Outcome::Drop));
    assert!(matches!(
        ask_raw(&vec![0; MAX_QUERY_LEN + 1]),
        Outcome::Drop
    ));
    // A response sent to us is never answered (no loops).
    let mut response = build_query(1, "web.", RecordType::A).unwrap();
    response[2] |= 0x80;
    assert!(matches!(ask_raw(&response), Outcome::Drop));
    // No question, two questions, a truncated question: FORMERR with the id echoed.
    for bad in [
        vec![0xab, 0xcd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![
            0xab, 0xcd, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1,
        ],
        vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'e'],
        vec![
            0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1,
        ],
    ] {
        let reply = reply_of(ask_raw(&bad));
        assert_eq!(reply.id, 0xabcd);
        assert_eq!(reply.response_code, ResponseCode::FormErr, "{bad:?}");
        assert!(reply.recursion_desired);
    }
    // Another opcode (NOTIFY = 4): NOTIMP.
    let mut notify = build_query(2, "web.", RecordType::A).unwrap();
    notify[2] = (notify[2] & 0x87) | (4 << 3);
    assert_eq!(
        reply_of(ask_raw(&notify)).response_code,
        ResponseCode::NotImp
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let table = table();
    let seed = build_query(0x4242, "web.net.", RecordType::A).unwrap();
    // Every single-byte corruption and every truncation of a valid query.
    for position in 0..seed.len() {
        for value in [0u8, 1, 0x3f, 0x40, 0x7f, 0xc0, 0xff] {
            let mut bytes = seed.clone();
            bytes[position] = value;
            let _ = handle(&bytes, &table, &id('1'), Transport::Udp);
        }
        let _ = handle(&seed[..position], &table, &id('1'), Transport::Tcp);
    }
    // Pseudo-random garbage with a valid-looking header.
    let mut state = 0x9e37_79b9_u32;
    for _ in 0..2000 {
        let mut bytes = vec![0u8, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..(state % 64) {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bytes.push((state >> 24) as u8);
        }
        let _ = handle(&bytes, &table, &id('1'), Transport::Udp);
    }
}

//! Fuzz target for the embedded resolver's wire path (`cnm_core::resolver::handle`).
//!
//! Input: the first byte picks the transport (even → UDP, odd → TCP), the rest is the query
//! as received from a sandbox. Checked for every input: no panic; a reply decodes, echoes the
//! query id, is a response, and fits the transport (4096 bytes over UDP).

#![no_main]

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use cnm_core::resolver::{Outcome, RecordTable, Transport, handle};
use cnm_types::Id;
use hickory_proto::op::{Message, MessageType};
use libfuzzer_sys::fuzz_target;

fn id(c: char) -> Id {
    Id::parse(&c.to_string().repeat(64)).expect("hex id")
}

/// A small fixed scope: sandbox 1 on "net" with a shared alias, and an unrelated network.
fn table() -> &'static RecordTable {
    static TABLE: OnceLock<RecordTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut builder = RecordTable::builder();
        builder
            .add_network(id('a'), "net")
            .add_network(id('b'), "other.net");
        for (sandbox, last) in [('1', 2), ('2', 3), ('3', 4)] {
            builder.add_endpoint(
                id('a'),
                id(sandbox),
                vec![format!("s{last}"), "svc".into()],
                Some(Ipv4Addr::new(10, 0, 0, last)),
                Some(format!("fd00::{last}").parse().unwrap()),
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
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, query)) = data.split_first() else {
        return;
    };
    let transport = if selector % 2 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    match handle(query, table(), &id('1'), transport) {
        Outcome::Reply(reply) => {
            if transport == Transport::Udp {
                assert!(reply.len() <= 4096, "UDP reply of {} bytes", reply.len());
            }
            let decoded = Message::from_vec(&reply).expect("our reply must decode");
            assert_eq!(decoded.id, u16::from_be_bytes([query[0], query[1]]));
            assert_eq!(decoded.message_type, MessageType::Response);
        }
        Outcome::Forward(request) => assert_eq!(request.queries.len(), 1),
        Outcome::Drop => {}
    }
});

//! The resolver's wire logic: one query in, one decision out. Pure (no I/O), so the socket
//! loops, the unit tests and the fuzz target all drive the same code.
//!
//! Contract of `handle(query, table, sandbox, transport)`:
//! - Never panics, whatever the bytes. Fewer than 12 bytes, a response (QR set), or a query
//!   longer than `MAX_QUERY_LEN` is dropped silently; another opcode than QUERY gets NOTIMP;
//!   a question count other than one, or an undecodable message, gets FORMERR.
//! - A/AAAA for a name of the sandbox's scope: every address, shuffled, TTL 600. The name is
//!   known but lacks the family: NOERROR with no answer (never forwarded).
//! - MX for a known name: NOERROR with no answer ("implicit MX", as Docker).
//! - PTR for an endpoint address of an attached network: `<first name>.<network>.`.
//! - A single-label name that no record knows: NXDOMAIN at once, never forwarded (a search-list
//!   expansion or a typo has no business reaching public resolvers). Zone-infrastructure types
//!   (NS, SOA, DS, DNSKEY), which legitimately name top-level domains, are still forwarded.
//! - Everything else is `Forward`: the caller sends the raw query upstream, and answers
//!   `error_reply(request, SERVFAIL)` when no upstream does.
//! - Replies echo the question, copy the id and RD, set RA, carry an OPT record when the query
//!   had one, and fit the transport: at most the client's EDNS size (512 without EDNS, 4096 at
//!   most) over UDP, with TC set and answers dropped to fit; 65535 bytes over TCP.

use std::net::IpAddr;

use cnm_types::Id;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ipnet::IpNet;

use super::records::{Family, NameLookup, RecordTable};

/// TTL of every local answer (Docker's).
pub const LOCAL_TTL: u32 = 600;
/// Largest query accepted; a bigger datagram or TCP frame is ignored.
pub const MAX_QUERY_LEN: usize = 4096;
/// Largest UDP reply we send, whatever EDNS size the client advertises.
pub const MAX_UDP_REPLY: usize = 4096;
const MIN_UDP_REPLY: usize = 512;
const HEADER_LEN: usize = 12;

/// How the query arrived; decides the reply size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What to do with one query.
#[derive(Debug)]
pub enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours: send the raw query upstream. Holds the decoded request, for `error_reply`.
    Forward(Box<Message>),
    /// Say nothing (not a query, or too short to answer).
    Drop,
}

/// Decides the answer to `query` from `sandbox`'s point of view; see the module contract.
pub fn handle(query: &[u8], table: &RecordTable, sandbox: &Id, transport: Transport) -> Outcome {
    if query.len() < HEADER_LEN || query.len() > MAX_QUERY_LEN || query[2] & 0x80 != 0 {
        return Outcome::Drop;
    }
    let opcode = (query[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Outcome::Reply(header_only_reply(query, ResponseCode::NotImp));
    }
    // Checked before decoding: a forged count must not make the decoder allocate for it.
    let question_count = u16::from_be_bytes([query[4], query[5]]);
    if question_count != 1 {
        return Outcome::Reply(header_only_reply(query, ResponseCode::FormErr));
    }
    let Ok(request) = Message::from_vec(query) else {
        return Outcome::Reply(header_only_reply(query, ResponseCode::FormErr));
    };
    answer(request, table, sandbox, transport)
}

fn answer(request: Message, table: &RecordTable, sandbox: &Id, transport: Transport) -> Outcome {
    let question = &request.queries[0];
    if question.query_class() != DNSClass::IN {
        return Outcome::Forward(Box::new(request));
    }
    let owner = question.name().clone();
    let Some(name) = plain_name(&owner) else {
        return Outcome::Forward(Box::new(request));
    };
    let record_type = question.query_type();
    let local = match record_type {
        RecordType::A | RecordType::AAAA => {
            let family = if record_type == RecordType::A {
                Family::V4
            } else {
                Family::V6
            };
            match table.lookup_name(sandbox, &name, family) {
                NameLookup::Found(addresses) => Some(
                    addresses
                        .into_iter()
                        .map(|a| address_record(&owner, a))
                        .collect(),
                ),
                NameLookup::NoData => Some(Vec::new()),
                NameLookup::Unknown => None,
            }
        }
        RecordType::MX => table.knows_name(sandbox, &name).then(Vec::new),
        RecordType::PTR => reverse_record(table, sandbox, &owner).map(|r| vec![r]),
        _ => None,
    };
    if let Some(answers) = local {
        return Outcome::Reply(reply(&request, ResponseCode::NoError, answers, transport));
    }
    let single_label = owner.iter().count() == 1;
    let zone_infrastructure = matches!(
        record_type,
        RecordType::NS | RecordType::SOA | RecordType::DS | RecordType::DNSKEY
    );
    if single_label && !zone_infrastructure && !table.knows_name(sandbox, &name) {
        return Outcome::Reply(reply(
            &request,
            ResponseCode::NXDomain,
            Vec::new(),
            transport,
        ));
    }
    Outcome::Forward(Box::new(request))
}

/// A reply with no answer and the given code (SERVFAIL when every upstream failed, REFUSED
/// when too many queries are in flight).
pub fn error_reply(request: &Message, code: ResponseCode, transport: Transport) -> Vec<u8> {
    reply(request, code, Vec::new(), transport)
}

/// The query name as lower-case dotted text without the root dot; `None` when a label holds
/// a dot or a byte that no record name can contain (such names are never ours).
fn plain_name(name: &Name) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for label in name.iter() {
        if label.iter().any(|b| *b == b'.' || !b.is_ascii_graphic()) {
            return None;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(label.iter().map(|b| b.to_ascii_lowercase() as char));
    }
    Some(out)
}

fn address_record(owner: &Name, address: IpAddr) -> Record {
    let data = match address {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner.clone(), LOCAL_TTL, data)
}

/// The PTR record for an `in-addr.arpa.`/`ip6.arpa.` name of a full endpoint address.
fn reverse_record(table: &RecordTable, sandbox: &Id, owner: &Name) -> Option<Record> {
    let mut fqdn = owner.clone();
    fqdn.set_fqdn(true);
    let address = match fqdn.parse_arpa_name().ok()? {
        IpNet::V4(net) if net.prefix_len() == 32 => IpAddr::V4(net.addr()),
        IpNet::V6(net) if net.prefix_len() == 128 => IpAddr::V6(net.addr()),
        _ => return None,
    };
    let target = table.lookup_address(sandbox, address)?;
    let target = Name::from_ascii(format!("{target}.")).ok()?;
    Some(Record::from_rdata(
        owner.clone(),
        LOCAL_TTL,
        RData::PTR(PTR(target)),
    ))
}

fn reply(
    request: &Message,
    code: ResponseCode,
    answers: Vec<Record>,
    transport: Transport,
) -> Vec<u8> {
    let mut response = Message::response(request.id, request.op_code);
    response.metadata.recursion_desired = request.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.response_code = code;
    response.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_REPLY as u16);
        response.set_edns(edns);
    }
    let limit = match transport {
        Transport::Udp => usize::from(request.max_payload()).clamp(MIN_UDP_REPLY, MAX_UDP_REPLY),
        Transport::Tcp => usize::from(u16::MAX),
    };
    fit(response, answers, limit)
        .unwrap_or_else(|| header_only_reply_for(request, ResponseCode::ServFail))
}

/// Encodes `response` with as many of `answers` as fit in `limit` bytes (TC set when some
/// had to go). `None` only if even the empty response cannot be encoded.
fn fit(mut response: Message, answers: Vec<Record>, limit: usize) -> Option<Vec<u8>> {
    let encode = |response: &mut Message, count: usize, all: &[Record]| {
        response.answers = all[..count].to_vec();
        response.metadata.truncation = count < all.len();
        response.to_vec().ok()
    };
    if let Some(bytes) = encode(&mut response, answers.len(), &answers).filter(|b| b.len() <= limit)
    {
        return Some(bytes);
    }
    // Binary search for the largest prefix that fits: a name shared by hundreds of endpoints
    // must not cost hundreds of encodings.
    let (mut fits, mut too_many) = (0, answers.len());
    while too_many - fits > 1 {
        let middle = (fits + too_many) / 2;
        match encode(&mut response, middle, &answers) {
            Some(bytes) if bytes.len() <= limit => fits = middle,
            _ => too_many = middle,
        }
    }
    encode(&mut response, fits, &answers)
}

/// A 12-byte reply built from the raw header alone, for queries that cannot be decoded.
fn header_only_reply(query: &[u8], code: ResponseCode) -> Vec<u8> {
    let opcode_and_rd = query[2] & 0x79;
    let mut out = vec![0u8; HEADER_LEN];
    out[..2].copy_from_slice(&query[..2]);
    out[2] = 0x80 | opcode_and_rd;
    out[3] = 0x80 | (code.low() & 0x0f);
    out
}

fn header_only_reply_for(request: &Message, code: ResponseCode) -> Vec<u8> {
    let [high, low] = request.id.to_be_bytes();
    let flags = (u8::from(request.op_code) << 3) | u8::from(request.recursion_desired);
    header_only_reply(&[high, low, flags, 0, 0, 0, 0, 0, 0, 0, 0, 0], code)
}

/// A query for `name`/`record_type`, as a stub resolver would send it (tests and tools).
pub fn build_query(id: u16, name: &str, record_type: RecordType) -> Option<Vec<u8>> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).ok()?, record_type));
    message.to_vec().ok()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;

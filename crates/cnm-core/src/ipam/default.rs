//! The default IPAM driver (placeholder until the allocator lands).
pub struct DefaultIpam;

//! A driver double for unit tests of the controller: no kernel, records what it was asked,
//! and fails on demand. It allocates addresses like the bridge driver does.

use std::collections::BTreeSet;

use cnm_types::Id;

use super::{JoinInfo, SandboxLink};
use crate::error::{Error, Result};
use crate::model::{Endpoint, Network};

#[derive(Default)]
pub struct FakeDriver {
    pub networks: BTreeSet<Id>,
    /// The next `create_network` fails with this message.
    pub fail_next_create: Option<String>,
}

impl FakeDriver {
    pub fn create_network(&mut self, network: &Network) -> Result<bool> {
        if let Some(message) = self.fail_next_create.take() {
            return Err(Error::internal(message));
        }
        self.networks.insert(network.id.clone());
        Ok(false)
    }

    pub fn delete_network(&mut self, network: &Network) -> Result<()> {
        self.networks.remove(&network.id);
        Ok(())
    }

    pub fn attach(
        &mut self,
        network: &Network,
        _endpoint: &Endpoint,
        _sandbox: &SandboxLink<'_>,
    ) -> Result<JoinInfo> {
        Ok(JoinInfo {
            gateway_v4: network
                .subnet_v4()
                .and_then(|i| i.gateway)
                .map(|g| g.addr()),
            gateway_v6: None,
            host_ifname: Some("fake0".into()),
        })
    }
}

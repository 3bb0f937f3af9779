//! The undo stack: each completed step of an operation pushes its inverse, and a failed
//! operation runs them in reverse order.

use std::net::IpAddr;
use std::path::PathBuf;

use cnm_types::Id;

use super::State;
use crate::model::{Endpoint, Network};

pub(crate) enum Step {
    ReleasePool {
        ipam: String,
        pool: String,
    },
    ReleaseAddress {
        ipam: String,
        pool: String,
        addr: IpAddr,
    },
    DeleteNetwork(Box<Network>),
    Detach {
        network: Box<Network>,
        endpoint: Box<Endpoint>,
    },
    RemoveNetns(PathBuf),
    RemoveDir(PathBuf),
    ForgetSandbox(Id),
}

#[derive(Default)]
pub(crate) struct Undo {
    steps: Vec<Step>,
}

impl Undo {
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Forgets the steps: the operation succeeded.
    pub fn commit(mut self) {
        self.steps.clear();
    }

    /// Runs every inverse, newest first. Failures are logged: rollback is best effort and
    /// must not hide the error that caused it.
    pub async fn rollback(mut self, state: &mut State) {
        while let Some(step) = self.steps.pop() {
            let result: crate::Result<()> = match step {
                Step::ReleasePool { ipam, pool } => match state.ipams.get_mut(&ipam) {
                    Ok(driver) => driver.release_pool(&pool).await,
                    Err(e) => Err(e),
                },
                Step::ReleaseAddress { ipam, pool, addr } => match state.ipams.get_mut(&ipam) {
                    Ok(driver) => driver.release_address(&pool, addr).await,
                    Err(e) => Err(e),
                },
                Step::DeleteNetwork(network) => match state.drivers.get_mut(&network.driver) {
                    Some(driver) => driver.delete_network(&network).await,
                    None => Ok(()),
                },
                Step::Detach { network, endpoint } => {
                    match state.drivers.get_mut(&network.driver) {
                        Some(driver) => driver.detach(&network, &endpoint).await,
                        None => Ok(()),
                    }
                }
                Step::RemoveNetns(path) => crate::osl::netns::remove(&path).map_err(Into::into),
                Step::RemoveDir(path) => std::fs::remove_dir_all(&path)
                    .or_else(|e| {
                        if e.kind() == std::io::ErrorKind::NotFound {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(|e| crate::Error::internal(format!("remove {}: {e}", path.display()))),
                Step::ForgetSandbox(id) => {
                    state.remove_sandbox(&id);
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "rollback step failed");
            }
        }
    }
}

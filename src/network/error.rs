//! What goes wrong while checking or plugging VIFs. Each variant says which
//! part failed; the domain error they become is decided once, below.

use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A VIF of Nova's network_info that cannot be plugged as given.
    #[error("{0}")]
    InvalidVif(String),
    /// The kernel refused a link, address, route, namespace or offload change.
    #[error("{0}")]
    Kernel(String),
    /// ovs-vsctl could not run or failed.
    #[error("{0}")]
    Ovs(String),
    /// The container's resolv.conf could not be written.
    #[error("{0}")]
    ResolvConf(String),
}

/// A VIF Nova sent wrong is the caller's mistake; a host-side failure is
/// the service's. Plugging reports its failures as VifPlugFailed itself
/// (Network::plug), since there they are the boot's failure.
impl From<NetworkError> for Error {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::InvalidVif(m) => Error::InvalidInput(m),
            NetworkError::Kernel(m) | NetworkError::Ovs(m) | NetworkError::ResolvConf(m) => {
                Error::Internal(m)
            }
        }
    }
}

//! The engine itself: its version, its data root, what it can enforce.

use std::path::PathBuf;

use super::engine_features::{EngineFeatures, bridge_device, eth0_isolation};
use super::{Engine, EngineError};

impl Engine {
    /// The engine's version string ("20.10.24+dfsg1").
    pub async fn version(&self) -> Result<String, EngineError> {
        let v = self.docker.version().await?;
        Ok(v.version.unwrap_or_default())
    }

    /// Where the engine keeps its images and containers.
    pub async fn root_dir(&self) -> Result<PathBuf, EngineError> {
        let info = self.docker.info().await?;
        Ok(PathBuf::from(
            info.docker_root_dir
                .unwrap_or_else(|| "/var/lib/docker".to_string()),
        ))
    }

    /// What the engine can enforce for tenants, from `docker info` and the
    /// Docker network `eth0_network` that gives containers their eth0.
    pub async fn features(&self, eth0_network: &str) -> Result<EngineFeatures, EngineError> {
        let info = self.docker.info().await?;
        let mut bridge = None;
        let eth0 = if eth0_network == "none" {
            eth0_isolation(eth0_network, None)
        } else {
            match self.docker.inspect_network(eth0_network, None).await {
                Ok(net) => {
                    bridge = bridge_device(&net);
                    eth0_isolation(eth0_network, Some(&net))
                }
                Err(e) => Err(format!("the Docker network {eth0_network}: {e}")),
            }
        };
        Ok(EngineFeatures {
            eth0_bridge: bridge,
            ..EngineFeatures::of(&info, eth0)
        })
    }
}

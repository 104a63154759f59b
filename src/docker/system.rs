//! The engine itself: its version, its data root, what it can enforce.

use std::path::PathBuf;

use super::engine_features::EngineFeatures;
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

    /// What the engine can enforce for tenants, from `docker info`.
    pub async fn features(&self) -> Result<EngineFeatures, EngineError> {
        Ok(EngineFeatures::of(&self.docker.info().await?))
    }
}

//! The Docker engine, and the one door to it: `Engine` is the only caller
//! of the client library (containers.rs, images.rs, events.rs, system.rs)
//! and answers in the service's terms (`EngineError`). Naming, labels and
//! the container spec built from Nova's requests live here too.

pub mod command_line;
pub mod container_spec;
pub mod containers;
pub mod engine_features;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod naming;
pub mod system;

use bollard::Docker;

use crate::error::Error;
pub use containers::{Container, ContainerSummary, RunState, Status};
pub use error::EngineError;

/// A connection to dockerd. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    /// Where dockerd listens, for the calls the client library cannot make
    /// (a console's raw TTY stream, exec.rs); None for a client made elsewhere.
    endpoint: Option<exec::Endpoint>,
}

/// A client made elsewhere (a test's own, with its own timeout).
impl From<Docker> for Engine {
    fn from(docker: Docker) -> Self {
        Engine {
            docker,
            endpoint: None,
        }
    }
}

impl Engine {
    /// The same engine with a different limit on each call: loading or
    /// saving a large image takes far longer than other calls.
    pub fn with_timeout(&self, timeout: std::time::Duration) -> Engine {
        Engine {
            docker: self.docker.clone().with_timeout(timeout),
            endpoint: self.endpoint.clone(),
        }
    }

    /// The engine API version both sides settled on.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }
}

/// Connects to dockerd and settles on an API version both sides speak
/// (Debian's docker.io 20.10 speaks 1.41, older than bollard's default).
pub async fn connect(url: &str) -> Result<Engine, Error> {
    let docker = if let Some(path) = url.strip_prefix("unix://") {
        Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(url, 120, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(Error::InvalidInput(format!(
            "[novadock] docker_url {url:?} must start with unix://, tcp:// or http://"
        )));
    }
    .map_err(|e| Error::DockerUnavailable(format!("{url}: {e}")))?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| Error::DockerUnavailable(format!("{url}: {e}")))?;
    Ok(Engine {
        docker,
        endpoint: exec::Endpoint::parse(url),
    })
}

/// Docker's version string ("20.10.24+dfsg1") as Nova's integer
/// (major * 1_000_000 + minor * 1_000 + patch, like versionutils).
pub fn version_to_int(version: &str) -> i64 {
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse::<i64>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    major * 1_000_000 + minor * 1_000 + patch
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_versions_become_integers() {
        assert_eq!(super::version_to_int("20.10.24+dfsg1"), 20_010_024);
        assert_eq!(super::version_to_int("28.2.2"), 28_002_002);
        assert_eq!(super::version_to_int("garbage"), 0);
    }
}

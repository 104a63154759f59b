//! The Docker engine as novadock uses it: connection, naming and labels,
//! container specs built from Nova's requests.

pub mod command_line;
pub mod container_spec;
pub mod engine_features;
pub mod naming;

use bollard::Docker;

use crate::error::ApiError;

/// Connects to dockerd and settles on an API version both sides speak
/// (Debian's docker.io 20.10 speaks 1.41, older than bollard's default).
pub async fn connect(url: &str) -> Result<Docker, ApiError> {
    let docker = if let Some(path) = url.strip_prefix("unix://") {
        Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(url, 120, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(ApiError::InvalidInput(format!(
            "[novadock] docker_url {url:?} must start with unix://, tcp:// or http://"
        )));
    }
    .map_err(|e| ApiError::DockerUnavailable(format!("{url}: {e}")))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| ApiError::DockerUnavailable(format!("{url}: {e}")))
}

/// True when Docker says the object does not exist.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
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

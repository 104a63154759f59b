//! The newest part of a container's stdout and stderr.

use bollard::Docker;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use super::Compute;
use crate::docker::naming;
use crate::error::ApiError;

/// What `get_console_output` returns: the newest 100 KiB.
pub const CONSOLE_BYTES: usize = 100 * 1024;

impl Compute {
    pub async fn console_output(&self, uuid: &str) -> Result<String, ApiError> {
        self.inspect(uuid).await?;
        tail(self.docker(), &naming::container_name(uuid), CONSOLE_BYTES).await
    }
}

/// The newest `max_bytes` of the log. Asks Docker for a growing number of
/// lines rather than the whole log, so a long-lived container's history is
/// not read to answer a console request.
pub async fn tail(docker: &Docker, name: &str, max_bytes: usize) -> Result<String, ApiError> {
    let mut lines: usize = 1000;
    loop {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut stream = docker.logs(name, Some(opts));
        let mut buf: Vec<u8> = Vec::new();
        let mut count = 0usize;
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?.into_bytes());
            count += 1;
        }
        if buf.len() >= max_bytes || count < lines || lines >= 1 << 20 {
            let start = buf.len().saturating_sub(max_bytes);
            return Ok(String::from_utf8_lossy(&buf[start..]).into_owned());
        }
        lines *= 8;
    }
}

//! The newest part of a container's stdout and stderr.

use super::Compute;
use crate::docker::{Container, Engine, naming};
use crate::error::Error;

/// What `get_console_output` returns: the newest 100 KiB.
pub const CONSOLE_BYTES: usize = 100 * 1024;

impl Compute {
    /// The console log, ending with how the main process died when it did
    /// on its own: the only place Nova lets a driver tell the user why a
    /// running server became SHUTOFF.
    pub async fn console_output(&self, uuid: &str) -> Result<String, Error> {
        let c = self.inspect(uuid).await?;
        let mut out = tail(self.docker(), &naming::container_name(uuid), CONSOLE_BYTES).await?;
        if let Some(line) = death_note(&c) {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&line);
        }
        Ok(out)
    }
}

/// A line on how the container's main process ended, when it died rather
/// than being stopped: an OOM kill, or an exit code other than 0 and the
/// SIGTERM/SIGKILL (143/137) of a stop.
pub fn death_note(c: &Container) -> Option<String> {
    let state = c.state.as_ref()?;
    if state.running {
        return None;
    }
    let when = state.finished_at.as_deref().unwrap_or("?");
    if state.oom_killed {
        let limit = c
            .memory_limit
            .map(|m| format!(" ({} MiB)", m >> 20))
            .unwrap_or_default();
        return Some(format!(
            "[novadock] {when}: the main process was killed by the OOM killer: the container \
             reached its memory limit{limit}. The server is shut off.\n"
        ));
    }
    match state.exit_code {
        Some(0 | 137 | 143) | None => None,
        Some(code) => Some(format!(
            "[novadock] {when}: the main process exited with code {code}. The server is shut off.\n"
        )),
    }
}

/// The newest `max_bytes` of the log. Asks Docker for a growing number of
/// lines rather than the whole log, so a long-lived container's history is
/// not read to answer a console request.
pub async fn tail(docker: &Engine, name: &str, max_bytes: usize) -> Result<String, Error> {
    let mut lines: usize = 1000;
    loop {
        let (buf, count) = docker.logs_tail(name, lines).await?;
        if buf.len() >= max_bytes || count < lines || lines >= 1 << 20 {
            let start = buf.len().saturating_sub(max_bytes);
            return Ok(String::from_utf8_lossy(&buf[start..]).into_owned());
        }
        lines *= 8;
    }
}

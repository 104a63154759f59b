//! Interactive processes in a container (console sessions): an exec with a
//! TTY, its raw byte stream, its window size and its state.
//!
//! The exec's stream is taken over by hand (an HTTP upgrade on dockerd's
//! socket) rather than through the client library: its decoder takes a TTY
//! chunk that starts with byte 0, 1 or 2 for a multiplexing header, which
//! corrupts binary data. A TTY stream has no header: the bytes are the TTY's.

use std::path::PathBuf;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, ResizeExecOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Engine, EngineError};

/// dockerd ends an attach when the input holds its detach keys (ctrl-p
/// ctrl-q by default, and there is no turning them off), which would cut a
/// binary transfer or a user's ctrl-p. These eight keys in a row are what
/// no keyboard types and random data holds with odds of 2^-64 per byte.
const DETACH_KEYS: &str = "ctrl-^,ctrl-_,ctrl-@,ctrl-x,ctrl-^,ctrl-_,ctrl-@,ctrl-y";
/// How long dockerd may take to answer the start of an exec.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// An answer's head is a few hundred bytes; more is not dockerd.
const MAX_HEAD: usize = 16 * 1024;

/// Where dockerd listens, as `[novadock] docker_url` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl Endpoint {
    pub fn parse(url: &str) -> Option<Endpoint> {
        if let Some(path) = url.strip_prefix("unix://") {
            return Some(Endpoint::Unix(PathBuf::from(path)));
        }
        let rest = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("http://"))?;
        Some(Endpoint::Tcp(rest.trim_end_matches('/').to_string()))
    }
}

/// A byte stream both ways.
pub trait RawStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> RawStream for T {}

/// A started exec with a TTY: bytes written reach its terminal's input,
/// bytes read are what its terminal shows. Dropping the stream does not end
/// the process (dockerd leaves it running): whoever holds it kills it.
pub struct ExecTty {
    pub id: String,
    pub stream: Box<dyn RawStream>,
}

/// An exec as the engine reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExecState {
    pub running: bool,
    /// Its process on the host, once it has one.
    pub pid: Option<u32>,
    /// Once it ended: 126 or 127 when its program could not be run.
    pub exit_code: Option<i64>,
}

impl Engine {
    /// Starts `cmd` in the container with a TTY, as the container's own
    /// user, in its namespaces and cgroups, with `env` added.
    pub async fn start_tty_exec(
        &self,
        container: &str,
        cmd: &[String],
        env: &[String],
    ) -> Result<ExecTty, EngineError> {
        let endpoint = self.endpoint.clone().ok_or_else(|| {
            EngineError::Unavailable("this engine client was not connected by URL".to_string())
        })?;
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    detach_keys: Some(DETACH_KEYS.to_string()),
                    cmd: Some(cmd.to_vec()),
                    env: Some(env.to_vec()),
                    ..Default::default()
                },
            )
            .await?;
        let version = self.api_version();
        let stream = tokio::time::timeout(START_TIMEOUT, upgrade(&endpoint, &version, &created.id))
            .await
            .map_err(|_| {
                EngineError::Unavailable(format!(
                    "dockerd did not start exec {} within {START_TIMEOUT:?}",
                    created.id
                ))
            })??;
        Ok(ExecTty {
            id: created.id,
            stream,
        })
    }

    /// Sets the exec's terminal size (rows, columns).
    pub async fn resize_exec(&self, id: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        self.docker
            .resize_exec(
                id,
                ResizeExecOptions {
                    height: rows,
                    width: cols,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn inspect_exec(&self, id: &str) -> Result<ExecState, EngineError> {
        let e = self.docker.inspect_exec(id).await?;
        Ok(ExecState {
            running: e.running.unwrap_or(false),
            pid: e.pid.filter(|p| *p > 0).and_then(|p| u32::try_from(p).ok()),
            exit_code: e.exit_code,
        })
    }
}

fn unavailable(e: std::io::Error) -> EngineError {
    EngineError::Unavailable(format!("dockerd: {e}"))
}

/// `POST /exec/<id>/start` with an upgrade: after dockerd's 101, the
/// connection carries the TTY's bytes.
async fn upgrade(
    endpoint: &Endpoint,
    version: &str,
    id: &str,
) -> Result<Box<dyn RawStream>, EngineError> {
    let mut s: Box<dyn RawStream> = match endpoint {
        Endpoint::Unix(path) => Box::new(
            tokio::net::UnixStream::connect(path)
                .await
                .map_err(unavailable)?,
        ),
        Endpoint::Tcp(addr) => Box::new(
            tokio::net::TcpStream::connect(addr.as_str())
                .await
                .map_err(unavailable)?,
        ),
    };
    let body = r#"{"Detach":false,"Tty":true}"#;
    let request = format!(
        "POST /v{version}/exec/{id}/start HTTP/1.1\r\nHost: docker\r\n\
         Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.map_err(unavailable)?;
    let head = read_head(&mut s).await?;
    let status = status_code(&head)
        .ok_or_else(|| EngineError::Unavailable(format!("dockerd answered {head:?}")))?;
    if status == 101 || status == 200 {
        return Ok(s);
    }
    // A refusal carries a small JSON body; read what comes, bounded.
    let limit = content_length(&head).unwrap_or(64 * 1024).min(64 * 1024);
    let mut body = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        (&mut s).take(limit).read_to_end(&mut body),
    )
    .await;
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    Err(bollard::errors::Error::DockerResponseServerError {
        status_code: status,
        message,
    }
    .into())
}

/// The answer's status line and headers, read a byte at a time so that no
/// byte of the TTY's stream behind them is taken.
async fn read_head(s: &mut Box<dyn RawStream>) -> Result<String, EngineError> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(EngineError::Unavailable(
                "dockerd's answer to an exec start has no end of headers".to_string(),
            ));
        }
        match s.read(&mut byte).await.map_err(unavailable)? {
            0 => {
                return Err(EngineError::Unavailable(
                    "dockerd closed the connection while starting an exec".to_string(),
                ));
            }
            _ => head.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn content_length(head: &str) -> Option<u64> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// `HTTP/1.1 101 UPGRADED` gives 101.
fn status_code(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|p| p.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_docker_urls() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/docker.sock"),
            Some(Endpoint::Unix(PathBuf::from("/var/run/docker.sock")))
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375/"),
            Some(Endpoint::Tcp("127.0.0.1:2375".to_string()))
        );
        assert_eq!(Endpoint::parse("npipe:////./pipe/docker"), None);
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status_code("HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n"),
            Some(101)
        );
        assert_eq!(status_code("HTTP/1.1 404 Not Found\r\n\r\n"), Some(404));
        assert_eq!(status_code("garbage"), None);
        assert_eq!(
            content_length("HTTP/1.1 409 Conflict\r\ncontent-length: 42\r\n\r\n"),
            Some(42)
        );
    }
}

//! The Unix socket the driver API is served on: 0660, owned by socket_group,
//! and each connection's peer credentials checked against the allowed users.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::api::error_response::ApiError;
use crate::config::NovadockConfig;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot create socket directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("another novadock is already serving on {0}")]
    InUse(String),
    #[error("cannot bind {path}: {source}")]
    Bind {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot set mode 0660 on {path}: {source}")]
    Mode {
        path: String,
        source: std::io::Error,
    },
    #[error("socket_allowed_users: no such user {0:?}")]
    NoSuchUser(String),
    #[error("socket_group {0:?} does not exist")]
    NoSuchGroup(String),
    #[error("cannot give {path} to group {group}: {source}")]
    Chown {
        path: String,
        group: String,
        source: std::io::Error,
    },
}

/// Calls a reentrant NSS lookup (`getgrnam_r`, `getpwnam_r`) with a buffer
/// that grows while the entry does not fit. The non-reentrant forms share one
/// static buffer per process: two threads resolving names at once (tests do)
/// could read each other's entry.
fn nss_lookup<T, R>(
    name: &str,
    call: impl Fn(*const libc::c_char, &mut T, &mut [libc::c_char], &mut *mut T) -> libc::c_int,
    // Reads a plain field: the entry's pointers lead into a buffer that goes.
    field: impl Fn(&T) -> R,
) -> Option<R> {
    let c = CString::new(name).ok()?;
    let mut size = 4096;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: an all-zero passwd/group is a valid value of these C structs.
        let mut entry: T = unsafe { std::mem::zeroed() };
        let mut result: *mut T = std::ptr::null_mut();
        match call(c.as_ptr(), &mut entry, &mut buf, &mut result) {
            0 if result.is_null() => return None,
            0 => return Some(field(&entry)),
            libc::ERANGE if size < 1 << 20 => size *= 4,
            _ => return None,
        }
    }
}

/// The gid of a group name, through the system's group database.
pub fn group_id(name: &str) -> Option<libc::gid_t> {
    nss_lookup(
        name,
        |n, entry: &mut libc::group, buf, result| {
            // SAFETY: every pointer is valid for the call; buf's length is given.
            unsafe { libc::getgrnam_r(n, entry, buf.as_mut_ptr(), buf.len(), result) }
        },
        |g| g.gr_gid,
    )
}

/// The uid of a user name (or a numeric uid), through the system's user database.
pub fn user_id(name: &str) -> Option<libc::uid_t> {
    if let Ok(uid) = name.parse::<libc::uid_t>() {
        return Some(uid);
    }
    nss_lookup(
        name,
        |n, entry: &mut libc::passwd, buf, result| {
            // SAFETY: every pointer is valid for the call; buf's length is given.
            unsafe { libc::getpwnam_r(n, entry, buf.as_mut_ptr(), buf.len(), result) }
        },
        |p| p.pw_uid,
    )
}

/// Who may talk to the service, by the peer credentials of a connection.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    uids: HashSet<libc::uid_t>,
    /// Members of this group (primary or supplementary) may, too.
    gid: Option<libc::gid_t>,
}

impl PeerPolicy {
    pub fn from_config(cfg: &NovadockConfig) -> Result<Self, SocketError> {
        // SAFETY: geteuid has no preconditions.
        let mut uids = HashSet::from([0, unsafe { libc::geteuid() }]);
        let mut gid = None;
        match &cfg.socket_allowed_users {
            Some(users) => {
                for u in users {
                    uids.insert(user_id(u).ok_or_else(|| SocketError::NoSuchUser(u.clone()))?);
                }
            }
            None => {
                if let Some(g) = &cfg.socket_group {
                    gid = Some(group_id(g).ok_or_else(|| SocketError::NoSuchGroup(g.clone()))?);
                }
            }
        }
        Ok(PeerPolicy { uids, gid })
    }

    /// Ok, or why the peer of `stream` is refused.
    pub fn check(&self, stream: &UnixStream) -> Result<(), String> {
        let cred = stream
            .peer_cred()
            .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
        if self.uids.contains(&cred.uid()) {
            return Ok(());
        }
        if let Some(gid) = self.gid {
            let groups = cred.pid().map(supplementary_groups).unwrap_or_default();
            if cred.gid() == gid || groups.contains(&gid) {
                return Ok(());
            }
        }
        Err(format!(
            "uid {} may not use the novadock service (see [novadock] socket_allowed_users \
             and socket_group)",
            cred.uid()
        ))
    }
}

/// The supplementary groups of a process, from /proc (empty if it is gone).
fn supplementary_groups(pid: i32) -> Vec<libc::gid_t> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Groups:"))?;
            Some(
                line["Groups:".len()..]
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// The socket's listener: hands axum only the connections the policy allows;
/// the others get a JSON 403 and are closed.
pub struct CheckedListener {
    inner: UnixListener,
    policy: Arc<PeerPolicy>,
}

impl axum::serve::Listener for CheckedListener {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match self.policy.check(&stream) {
                    Ok(()) => return (stream, addr),
                    Err(reason) => {
                        tracing::warn!("refused a connection: {reason}");
                        tokio::spawn(refuse(stream, reason));
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Reads the request head (bounded in size and time), answers 403, closes.
async fn refuse(mut stream: UnixStream, reason: String) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while head.len() < 64 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let body = ApiError::Forbidden(reason).body().to_string();
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub fn bind(cfg: &NovadockConfig) -> Result<CheckedListener, SocketError> {
    let policy = Arc::new(PeerPolicy::from_config(cfg)?);
    let path = &cfg.socket_path;
    let shown = path.display().to_string();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| SocketError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    if path.exists() {
        // A socket nobody answers on is left over from a crash: replace it.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(SocketError::InUse(shown));
        }
        let _ = std::fs::remove_file(path);
    }
    let gid = match &cfg.socket_group {
        Some(g) => Some(group_id(g).ok_or_else(|| SocketError::NoSuchGroup(g.clone()))?),
        None => None,
    };
    let listener = UnixListener::bind(path).map_err(|source| SocketError::Bind {
        path: shown.clone(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(|source| {
        SocketError::Mode {
            path: shown.clone(),
            source,
        }
    })?;
    if let (Some(gid), Some(group)) = (gid, &cfg.socket_group) {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| SocketError::Chown {
            path: shown.clone(),
            group: group.clone(),
            source,
        })?;
    }
    Ok(CheckedListener {
        inner: listener,
        policy,
    })
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

//! The Unix socket the driver API is served on: 0660, owned by socket_group.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::UnixListener;

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
    #[error("socket_group {0:?} does not exist")]
    NoSuchGroup(String),
    #[error("cannot give {path} to group {group}: {source}")]
    Chown {
        path: String,
        group: String,
        source: std::io::Error,
    },
}

/// The gid of a group name, through the system's group database.
pub fn group_id(name: &str) -> Option<libc::gid_t> {
    let c = CString::new(name).ok()?;
    // SAFETY: getgrnam reads a NUL-terminated name; the result is copied at once.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        None
    } else {
        // SAFETY: non-null entries returned by getgrnam are valid.
        Some(unsafe { (*gr).gr_gid })
    }
}

pub fn bind(cfg: &NovadockConfig) -> Result<UnixListener, SocketError> {
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
    Ok(listener)
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

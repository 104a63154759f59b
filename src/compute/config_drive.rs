//! An instance's config drive on the host: the files Nova's own config
//! drive holds (made by Nova's metadata code in the driver), written by the
//! service under `[novadock] config_drive_dir`/<uuid>/ and bind-mounted
//! read-only at cloud-init's seed directory. The host path comes only from
//! the validated instance uuid; the file names are checked to stay inside.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::error::Error;

/// Where cloud-init's ConfigDrive datasource looks without configuration.
pub const MOUNT_POINT: &str = "/var/lib/cloud/seed/config_drive";
/// Nova bounds user data at 64 KiB; the rest is a few KiB of JSON.
pub const MAX_TOTAL_BYTES: usize = 4 << 20;
pub const MAX_FILES: usize = 256;

/// The drive's directory for an instance, if `uuid` is a uuid.
pub fn dir_for(root: &Path, uuid: &str) -> Result<PathBuf, Error> {
    let id = uuid::Uuid::parse_str(uuid)
        .map_err(|_| Error::InvalidInput(format!("instance uuid {uuid:?} is not a uuid")))?;
    Ok(root.join(id.hyphenated().to_string()))
}

/// A relative path of plain names (Nova's are like `openstack/latest/user_data`).
fn safe_relative(path: &str) -> Result<PathBuf, Error> {
    let bad = || {
        Error::InvalidInput(format!(
            "config drive file {path:?} is not a plain relative path"
        ))
    };
    let parts: Vec<&str> = path.split('/').collect();
    if parts.is_empty() || parts.len() > 8 {
        return Err(bad());
    }
    let mut out = PathBuf::new();
    for p in parts {
        let plain = !p.is_empty()
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !plain {
            return Err(bad());
        }
        out.push(p);
    }
    Ok(out)
}

/// Decodes and checks the files (path -> base64 data) before anything is
/// written.
pub fn decode(files: &BTreeMap<String, String>) -> Result<Vec<(PathBuf, Vec<u8>)>, Error> {
    if files.len() > MAX_FILES {
        return Err(Error::InvalidInput(format!(
            "the config drive has {} files, more than {MAX_FILES}",
            files.len()
        )));
    }
    let mut total = 0usize;
    let mut out = Vec::with_capacity(files.len());
    for (path, data) in files {
        let rel = safe_relative(path)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| Error::InvalidInput(format!("config drive file {path}: {e}")))?;
        total += bytes.len();
        if total > MAX_TOTAL_BYTES {
            return Err(Error::InvalidInput(format!(
                "the config drive is larger than {MAX_TOTAL_BYTES} bytes"
            )));
        }
        out.push((rel, bytes));
    }
    Ok(out)
}

/// Writes the drive to `dir`, replacing an earlier one whole: the new files
/// go to a sibling directory first, so a container never sees half a drive.
pub async fn write(dir: &Path, files: Vec<(PathBuf, Vec<u8>)>) -> Result<(), Error> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || write_blocking(&dir, &files))
        .await
        .map_err(|e| Error::Internal(format!("writing the config drive: {e}")))?
}

fn write_blocking(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |what: &Path, e: std::io::Error| {
        Error::Internal(format!("config drive {}: {e}", what.display()))
    };
    let parent = dir
        .parent()
        .ok_or_else(|| Error::Internal("config drive without a parent".into()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(parent)
        .map_err(|e| fail(parent, e))?;
    // Not listable by the host's other users: they would learn instances'
    // uuids and, through them, user data and keys.
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| fail(parent, e))?;
    let staging = parent.join(format!(".new-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&staging)
            .map_err(|e| fail(&staging, e))?;
        for (rel, data) in files {
            let path = staging.join(rel);
            if let Some(d) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(d)
                    .map_err(|e| fail(d, e))?;
            }
            std::fs::write(&path, data).map_err(|e| fail(&path, e))?;
            // Readable by the container's (possibly remapped) users, writable by none.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))
                .map_err(|e| fail(&path, e))?;
        }
        remove_blocking(dir)?;
        std::fs::rename(&staging, dir).map_err(|e| fail(dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn remove_blocking(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Internal(format!(
            "removing the config drive {}: {e}",
            dir.display()
        ))),
    }
}

/// Removes the drive; a missing one is fine.
pub async fn remove(dir: &Path) -> Result<(), Error> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || remove_blocking(&dir))
        .await
        .map_err(|e| Error::Internal(format!("removing the config drive: {e}")))?
}

/// The drive of one of this service's instances.
impl super::Compute {
    /// The instance's config drive directory on the host.
    pub(super) fn config_drive_dir(&self, uuid: &str) -> Result<PathBuf, Error> {
        dir_for(&self.config().novadock.config_drive_dir, uuid)
    }

    /// Removes the instance's config drive, logging what fails.
    pub(super) async fn forget_config_drive(&self, uuid: &str) {
        let Ok(dir) = self.config_drive_dir(uuid) else {
            return;
        };
        if let Err(e) = remove(&dir).await {
            tracing::warn!(instance = uuid, "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_written() {
        for good in [
            "openstack/latest/meta_data.json",
            "ec2/2009-04-04/user-data",
            "openstack/content/0000",
        ] {
            assert!(safe_relative(good).is_ok(), "{good}");
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "openstack/../../x",
            "a//b",
            "",
            "a/./b",
            "a b",
            "a\0b",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad:?}");
        }
        assert!(dir_for(Path::new("/r"), "../../etc").is_err());
        assert_eq!(
            dir_for(Path::new("/r"), "0D2F4E5A-1111-2222-3333-444455556666").expect("uuid"),
            PathBuf::from("/r/0d2f4e5a-1111-2222-3333-444455556666")
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_TOTAL_BYTES + 1]);
        let files = BTreeMap::from([("user_data".to_string(), big)]);
        assert!(decode(&files).is_err());
        let files = BTreeMap::from([("user_data".to_string(), "not base64!".to_string())]);
        assert!(decode(&files).is_err());
    }
}

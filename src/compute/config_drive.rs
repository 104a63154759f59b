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
/// `gid` is the host gid of the container's root (see `secure`).
pub async fn write(dir: &Path, files: Vec<(PathBuf, Vec<u8>)>, gid: u32) -> Result<(), Error> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || write_blocking(&dir, &files, gid))
        .await
        .map_err(|e| Error::Internal(format!("writing the config drive: {e}")))?
}

fn fail(what: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("config drive {}: {e}", what.display()))
}

fn write_blocking(dir: &Path, files: &[(PathBuf, Vec<u8>)], gid: u32) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let parent = dir
        .parent()
        .ok_or_else(|| Error::Internal("config drive without a parent".into()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(parent)
        .map_err(|e| fail(parent, e))?;
    // Not listable by the host's other users: they would learn instances'
    // uuids. Each drive below is closed to them anyway (`secure`).
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| fail(parent, e))?;
    let staging = parent.join(format!(".new-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        // Root's alone while it is written; opened to the container's root
        // only once complete.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&staging)
            .map_err(|e| fail(&staging, e))?;
        for (rel, data) in files {
            let path = staging.join(rel);
            if let Some(d) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .map_err(|e| fail(d, e))?;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .and_then(|mut f| f.write_all(data))
                .map_err(|e| fail(&path, e))?;
        }
        secure(&staging, gid)?;
        remove_blocking(dir)?;
        std::fs::rename(&staging, dir).map_err(|e| fail(dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Gives a drive to root and the group `gid` (the host gid of a container's
/// root: 0, or the subordinate gid under userns-remap), files 0440 and
/// directories 0550: the container's root reads it through its group,
/// nobody writes it, and the host's other users cannot read an instance's
/// user data even knowing its uuid. Symbolic links are never followed (the
/// service writes none; `lchown` and skipping them keeps it so).
pub fn secure(dir: &Path, gid: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| fail(dir, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Internal(format!(
            "config drive {} is a symbolic link",
            dir.display()
        )));
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(|e| fail(dir, e))? {
            let entry = entry.map_err(|e| fail(dir, e))?;
            if !entry.file_type().map_err(|e| fail(dir, e))?.is_symlink() {
                secure(&entry.path(), gid)?;
            }
        }
    }
    std::os::unix::fs::lchown(dir, Some(0), Some(gid)).map_err(|e| fail(dir, e))?;
    let mode = if meta.is_dir() { 0o550 } else { 0o440 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(|e| fail(dir, e))
}

/// Secures every drive under `root` (those written before drives were
/// closed to the host's users were world-readable), at the service's start.
pub async fn secure_all(root: &Path, gid: u32) -> Result<usize, Error> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let entries = match std::fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(fail(&root, e)),
        };
        let mut n = 0;
        for entry in entries {
            let entry = entry.map_err(|e| fail(&root, e))?;
            let name = entry.file_name();
            // Only drives: a uuid directory, never a staging one or a link.
            let is_drive = name
                .to_str()
                .is_some_and(|n| uuid::Uuid::parse_str(n).is_ok())
                && entry.file_type().is_ok_and(|t| t.is_dir());
            if is_drive {
                // One drive that cannot be secured does not leave the
                // others open.
                match secure(&entry.path(), gid) {
                    Ok(()) => n += 1,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
        Ok(n)
    })
    .await
    .map_err(|e| Error::Internal(format!("securing the config drives: {e}")))?
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

    /// The host gid a container's root has: the drive's group.
    pub(super) async fn config_drive_gid(&self) -> Result<u32, Error> {
        self.features()
            .await?
            .container_root_gid
            .map_err(Error::Internal)
    }

    /// Closes every existing drive to the host's other users (drives from
    /// before this defence were world-readable); at the service's start.
    pub async fn secure_config_drives(&self) -> Result<usize, Error> {
        let gid = self.config_drive_gid().await?;
        secure_all(&self.config().novadock.config_drive_dir, gid).await
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

    /// A drive written before this defence (0444 files, 0755 directories)
    /// is closed at the service's start; links and stray names are left.
    #[test]
    fn existing_drives_are_closed_to_other_users() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = std::env::temp_dir().join(format!("novadock-drive-{}", uuid::Uuid::new_v4()));
        let drive = root.join(uuid::Uuid::new_v4().to_string());
        let file = drive.join("openstack/latest/user_data");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, b"secret").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let outside = root.join("outside");
        std::fs::write(&outside, b"x").expect("write");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::os::unix::fs::symlink(&outside, drive.join("link")).expect("symlink");
        std::fs::create_dir(root.join("not-a-uuid")).expect("mkdir");

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let n = rt.block_on(secure_all(&root, 4242)).expect("secure");
        assert_eq!(n, 1);
        for (path, mode) in [
            (&drive, 0o550),
            (&drive.join("openstack/latest"), 0o550),
            (&file, 0o440),
        ] {
            let m = std::fs::metadata(path).expect("stat");
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 4242, mode));
        }
        let m = std::fs::metadata(&outside).expect("stat");
        assert_eq!(m.mode() & 0o777, 0o644, "a link's target is not touched");
        let m = std::fs::metadata(root.join("not-a-uuid")).expect("stat");
        assert_ne!(m.gid(), 4242);
        std::fs::remove_dir_all(&root).expect("clean");
    }
}

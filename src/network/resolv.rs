//! The container's /etc/resolv.conf takes the subnets' DNS servers.

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use super::error::NetworkError;

/// The most of the old file that is read: the container can write it, and a
/// real resolv.conf is a few hundred bytes.
const MAX_READ: u64 = 64 * 1024;

/// Replaces the nameserver lines of Docker's resolv.conf for the container
/// (the host file Docker bind-mounts), keeping its search and options lines.
/// A file the container made larger than [`MAX_READ`] keeps nothing.
pub fn set_nameservers(path: &Path, servers: &[IpAddr]) -> Result<(), NetworkError> {
    if servers.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(MAX_READ + 1).read_to_end(&mut bytes))
        .unwrap_or(0);
    if read as u64 > MAX_READ {
        bytes.clear();
    }
    let old = String::from_utf8_lossy(&bytes);
    let mut text: String = old
        .lines()
        .filter(|l| !l.trim_start().starts_with("nameserver"))
        .map(|l| format!("{l}\n"))
        .collect();
    for s in servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    std::fs::write(path, text)
        .map_err(|e| NetworkError::ResolvConf(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn nameservers_replace_dockers() {
        let dir = std::env::temp_dir().join(format!("novadock-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("resolv.conf");
        std::fs::write(
            &p,
            "search example\nnameserver 127.0.0.11\noptions ndots:0\n",
        )
        .expect("write");
        super::set_nameservers(&p, &["198.18.1.2".parse().expect("ip")]).expect("set");
        assert_eq!(
            std::fs::read_to_string(&p).expect("read"),
            "search example\noptions ndots:0\nnameserver 198.18.1.2\n"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_huge_file_from_the_container_is_not_kept() {
        let dir = std::env::temp_dir().join(format!("novadock-resolv-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("resolv.conf");
        std::fs::write(&p, "search x\n".repeat(20_000)).expect("write");
        super::set_nameservers(&p, &["198.18.1.2".parse().expect("ip")]).expect("set");
        assert_eq!(
            std::fs::read_to_string(&p).expect("read"),
            "nameserver 198.18.1.2\n"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

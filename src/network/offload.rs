//! Transmit checksum offload, turned off on a container's end of a veth.
//!
//! A veth hands the kernel's TCP and UDP packets on with their checksums
//! still to be filled in (CHECKSUM_PARTIAL). Open vSwitch's userspace
//! datapath reads them through a packet socket, where that promise is lost,
//! and forwards them with a wrong checksum: ping works, TCP and UDP do not
//! (nova-docker's bug 1519357). With the offload off the container's kernel
//! computes each checksum itself, which every datapath forwards as it is;
//! the kernel datapath loses only the little CPU that offload saved.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::error::NetworkError;

/// `ETHTOOL_STXCSUM` from linux/ethtool.h: set transmit checksumming.
const ETHTOOL_STXCSUM: u32 = 0x17;

/// `struct ethtool_value` from linux/ethtool.h.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Turns off transmit checksum offload (and with it segmentation offload,
/// which depends on it) on `ifname` in this thread's network namespace.
pub fn disable_tx_checksum(ifname: &str) -> Result<(), NetworkError> {
    let fail = |what: &str, e: std::io::Error| {
        NetworkError::Kernel(format!("{what} checksum offload of {ifname}: {e}"))
    };
    let name = ifname.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(&0) {
        return Err(NetworkError::Kernel(format!(
            "{ifname:?} is not an interface name"
        )));
    }
    // SAFETY: socket has no memory-safety preconditions; the descriptor is
    // owned at once so it is closed on every path.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(fail("socket for", std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh, valid descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: req names the interface (NUL-terminated: the name is shorter
    // than IFNAMSIZ and the rest is zero) and points at a live
    // ethtool_value for the whole call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL as _, &mut req) };
    if rc != 0 {
        return Err(fail("turning off", std::io::Error::last_os_error()));
    }
    Ok(())
}

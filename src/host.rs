//! Facts about this host, read from /proc and libc: CPUs, memory, disk,
//! CPU time, uptime, name and address. Nothing here is estimated.

use std::ffi::CString;
use std::path::Path;

use crate::model::CpuStats;

#[derive(Debug, thiserror::Error)]
#[error("cannot read {what}: {reason}")]
pub struct HostError {
    what: String,
    reason: String,
}

fn err(what: &str, reason: impl ToString) -> HostError {
    HostError {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

fn read(path: &str) -> Result<String, HostError> {
    std::fs::read_to_string(path).map_err(|e| err(path, e))
}

pub fn cpu_count() -> i64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1)
}

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub total_kib: u64,
    pub available_kib: u64,
}

pub fn memory() -> Result<Memory, HostError> {
    parse_meminfo(&read("/proc/meminfo")?)
}

fn parse_meminfo(text: &str) -> Result<Memory, HostError> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .ok_or_else(|| err("/proc/meminfo", format!("no {name}")))
    };
    Ok(Memory {
        total_kib: field("MemTotal")?,
        available_kib: field("MemAvailable")?,
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Disk {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

pub fn disk(path: &Path) -> Result<Disk, HostError> {
    let what = path.display().to_string();
    let c = CString::new(what.as_bytes()).map_err(|e| err(&what, e))?;
    // SAFETY: statvfs is plain old data; zeroed is a valid value, and the call
    // only writes into it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a valid out pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(err(&what, std::io::Error::last_os_error()));
    }
    let frsize = st.f_frsize as u64;
    Ok(Disk {
        total_bytes: st.f_blocks as u64 * frsize,
        used_bytes: (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * frsize,
        available_bytes: st.f_bavail as u64 * frsize,
    })
}

/// Host CPU time since boot in nanoseconds, as the libvirt driver reports it.
pub fn cpu_stats() -> Result<CpuStats, HostError> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let stat = read("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| err("/proc/stat", "no cpu line"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return Err(err("/proc/stat", "short cpu line"));
    }
    let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / hz;
    let frequency = read("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        })
        .map(|mhz| mhz.round() as u64)
        .unwrap_or(0);
    Ok(CpuStats {
        user: ns(v[0] + v[1]),
        kernel: ns(v[2]),
        idle: ns(v[3]),
        iowait: ns(v[4]),
        frequency,
    })
}

/// Vendor and model name from /proc/cpuinfo, for Nova's cpu_info.
pub fn cpu_model() -> (String, String) {
    let text = read("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    (field("vendor_id"), field("model name"))
}

/// A line like uptime(1): " 14:03:07 up 3 days,  2:01,  load average: 0.10, 0.05, 0.01".
pub fn uptime_line() -> Result<String, HostError> {
    let up: f64 = read("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| err("/proc/uptime", "unreadable"))?;
    let load = read("/proc/loadavg")?;
    let l: Vec<&str> = load.split_whitespace().take(3).collect();
    if l.len() < 3 {
        return Err(err("/proc/loadavg", "short"));
    }
    // SAFETY: time(NULL) and localtime_r with valid pointers have no other preconditions.
    let (h, m, s) = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        (tm.tm_hour, tm.tm_min, tm.tm_sec)
    };
    let secs = up as u64;
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3_600, (secs % 3_600) / 60);
    let since = match days {
        0 => format!("{hours:2}:{mins:02}"),
        1 => format!("1 day, {hours:2}:{mins:02}"),
        d => format!("{d} days, {hours:2}:{mins:02}"),
    };
    Ok(format!(
        " {h:02}:{m:02}:{s:02} up {since},  load average: {}, {}, {}",
        l[0], l[1], l[2]
    ))
}

pub fn hostname() -> String {
    read("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The IPv4 address of the interface that holds the default route, which is
/// what oslo's get_my_ipv4 finds for Nova's my_ip.
pub fn default_route_ipv4() -> Option<String> {
    let routes = read("/proc/net/route").ok()?;
    let iface = routes.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
    })?;
    interface_ipv4(&iface)
}

fn interface_ipv4(iface: &str) -> Option<String> {
    let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut addrs) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = addrs;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        // SAFETY: ifa_addr is non-null and sa_family tells its real type.
        if name == iface && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET {
            // SAFETY: AF_INET addresses are sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            found = Some(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).to_string());
            break;
        }
    }
    // SAFETY: addrs came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(addrs) };
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parses() {
        let m = parse_meminfo(
            "MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n",
        )
        .expect("valid");
        assert_eq!((m.total_kib, m.available_kib), (24_000_000, 20_000_000));
        assert!(parse_meminfo("MemFree: 1 kB\n").is_err());
    }

    #[test]
    fn real_host_figures_are_sane() {
        let m = memory().expect("meminfo");
        assert!(m.total_kib > 0 && m.available_kib <= m.total_kib);
        assert!(cpu_count() >= 1);
        let d = disk(Path::new("/")).expect("statvfs");
        assert!(d.total_bytes >= d.used_bytes && d.total_bytes > 0);
        let c = cpu_stats().expect("stat");
        assert!(c.idle > 0);
        let u = uptime_line().expect("uptime");
        assert!(u.contains(" up ") && u.contains("load average"), "{u}");
    }
}

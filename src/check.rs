//! `novadock check`: the start-up checks, each said plainly.

use std::path::{Path, PathBuf};

use crate::config::{Config, RawConfig, SerialConsoleConfig};
use crate::{docker, host_firewall, server};

pub struct Outcome {
    pub lines: Vec<String>,
    pub ok: bool,
}

fn writable(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access reads a NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

impl Outcome {
    fn say(&mut self, good: bool, text: String) {
        self.ok &= good;
        self.lines
            .push(format!("{} {text}", if good { "OK  " } else { "FAIL" }));
    }
}

pub async fn run(files: &[PathBuf]) -> Outcome {
    let mut out = Outcome {
        lines: Vec::new(),
        ok: true,
    };
    let raw = match RawConfig::load(files) {
        Ok(r) => r,
        Err(e) => {
            out.say(false, format!("config: {e}"));
            return out;
        }
    };
    let cfg = match Config::from_raw(&raw) {
        Ok(c) => {
            out.say(true, format!("config: read {} file(s)", files.len()));
            c
        }
        Err(e) => {
            out.say(false, format!("config: {e}"));
            return out;
        }
    };
    for key in Config::unknown_keys(&raw) {
        out.lines.push(format!(
            "WARN config: [novadock] {key} is not an option of this version"
        ));
    }
    let n = &cfg.novadock;
    match docker::connect(&n.docker_url).await {
        Ok(d) => match d.version().await {
            Ok(v) => {
                out.say(
                    true,
                    format!(
                        "docker: {} answers, engine {v}, API {}",
                        n.docker_url,
                        d.api_version()
                    ),
                );
                if let Ok(f) = d.features(&n.docker_network).await {
                    if !f.live_restore {
                        out.lines.push(
                            "WARN docker: live-restore is off: a dockerd restart stops every instance \
                             (set \"live-restore\": true in /etc/docker/daemon.json)"
                                .to_string(),
                        );
                    }
                    for (holds, text) in f.report() {
                        let tag = if holds { "OK  " } else { "WARN" };
                        out.lines.push(format!("{tag} docker: {text}"));
                    }
                    // The host's own rules for eth0's bridge (IPv6's only
                    // where the bridge has it: containers on an IPv4-only
                    // bridge get no IPv6 there).
                    if let Some((bridge, ipv6)) = &f.eth0_bridge {
                        let tools: &[&str] = if *ipv6 {
                            &["iptables", "ip6tables"]
                        } else {
                            &["iptables"]
                        };
                        for tool in tools {
                            for (holds, text) in host_firewall::report(tool, bridge).await {
                                let tag = if holds { "OK  " } else { "WARN" };
                                out.lines.push(format!("{tag} firewall: {text}"));
                            }
                        }
                    }
                }
            }
            Err(e) => out.say(
                false,
                format!("docker: {} does not answer: {e}", n.docker_url),
            ),
        },
        Err(e) => out.say(false, format!("docker: {e}")),
    }
    // The socket's directory, or the nearest existing parent that would hold it.
    let dir = n.socket_path.parent().unwrap_or(Path::new("/"));
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    if writable(existing) {
        out.say(
            true,
            format!("socket: {} can be created", n.socket_path.display()),
        );
    } else {
        out.say(
            false,
            format!(
                "socket: {} is not writable for this user",
                existing.display()
            ),
        );
    }
    out.lines.push(serial_console_line(&cfg.serial_console));
    if let Some(g) = &n.socket_group {
        match server::group_id(g) {
            Some(gid) => out.say(true, format!("socket: group {g} is gid {gid}")),
            None => out.say(false, format!("socket: socket_group {g:?} does not exist")),
        }
    }
    out
}

/// Whether consoles are on and their address can be listened on (a WARN,
/// not a FAIL: a console's trouble must not keep instances from running).
fn serial_console_line(sc: &SerialConsoleConfig) -> String {
    if !sc.enabled {
        return "OK   serial console: off ([serial_console] enabled = false)".to_string();
    }
    let (lo, hi) = sc.port_range;
    match std::net::TcpListener::bind((sc.proxyclient_address.as_str(), 0)) {
        Ok(_) => format!(
            "OK   serial console: ports {lo}:{hi} on {} (unauthenticated: for nova-serialproxy \
             only, never on a tenant network)",
            sc.proxyclient_address
        ),
        Err(e) => format!(
            "WARN serial console: cannot listen on [serial_console] proxyclient_address {}: {e}",
            sc.proxyclient_address
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_console_lines() {
        let mut sc = SerialConsoleConfig {
            enabled: false,
            port_range: (10000, 20000),
            proxyclient_address: "127.0.0.1".to_string(),
        };
        assert!(serial_console_line(&sc).starts_with("OK   serial console: off"));
        sc.enabled = true;
        assert!(serial_console_line(&sc).contains("ports 10000:20000 on 127.0.0.1"));
        // TEST-NET-1: no address of this host.
        sc.proxyclient_address = "192.0.2.1".to_string();
        assert!(serial_console_line(&sc).starts_with("WARN"));
    }
}

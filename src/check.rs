//! `novadock check`: the start-up checks, each said plainly.

use std::path::{Path, PathBuf};

use crate::config::{Config, RawConfig};
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
    if let Some(g) = &n.socket_group {
        match server::group_id(g) {
            Some(gid) => out.say(true, format!("socket: group {g} is gid {gid}")),
            None => out.say(false, format!("socket: socket_group {g:?} does not exist")),
        }
    }
    out
}

//! Ends a console session's processes. dockerd leaves an exec running when
//! its attach closes, so the service kills it itself: the exec's process
//! (a session leader, as runc makes every TTY process) and every process of
//! its session or below it: more than a terminal's hang-up would reach, as
//! a closed console must leave nothing behind. Only a daemon that left the
//! session and whose parent is gone (double fork and `setsid`) stays.

use std::collections::HashMap;
use std::time::Duration;

/// One process's parent and session, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    ppid: u32,
    session: u32,
}

/// Fields after the command name, which is in parentheses and may hold
/// anything (spaces, parentheses): the last `)` ends it.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let _pgrp = fields.next()?;
    let session = fields.next()?.parse().ok()?;
    Some(Stat { ppid, session })
}

fn processes() -> HashMap<u32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some((pid, parse_stat(&text)?))
    })
    .collect()
}

/// The leader, its session's members and its descendants.
fn members(leader: u32, all: &HashMap<u32, Stat>) -> Vec<u32> {
    let mut found: Vec<u32> = all
        .iter()
        .filter(|(pid, s)| **pid == leader || s.session == leader)
        .map(|(pid, _)| *pid)
        .collect();
    // Descendants that left the session (a child's own setsid) still die
    // with it: a hang-up would not reach them, the caller wants them gone.
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for (pid, s) in all {
            if s.ppid == parent && !found.contains(pid) {
                found.push(*pid);
            }
        }
        i += 1;
    }
    found
}

/// The pid namespace a process is in (`pid:[inode]`).
pub fn pid_namespace(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// The processes of the leader's session and below it, in pid namespace
/// `ns` only: a pid number reused since (the leader may be long gone) is
/// never a process of the host or of another container.
fn targets(leader: u32, ns: &std::path::Path) -> Vec<u32> {
    members(leader, &processes())
        .into_iter()
        .filter(|p| pid_namespace(*p).as_deref() == Some(ns))
        .collect()
}

/// SIGKILLs the exec's process `leader` and everything of its session,
/// within the container's pid namespace `ns`, until none is left (a fork
/// may race the first round); true when none is.
pub async fn kill_session(leader: u32, ns: &std::path::Path) -> bool {
    // Never the host's init or the service itself.
    if leader <= 1 || leader == std::process::id() {
        return false;
    }
    for _ in 0..50 {
        let targets = targets(leader, ns);
        if targets.is_empty() {
            return true;
        }
        for pid in targets {
            if let Ok(p) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid and a signal number has no
                // memory effects; a pid that is gone gives ESRCH.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    targets(leader, ns).is_empty()
}

/// The variable every console session's processes carry (children inherit
/// it): `<Nova host's tag> <service pid> <its start time>`, so that a
/// service started after a crash finds the sessions its predecessor left.
/// The tenant sees it: the host is a digest, not its name.
pub const MARKER: &str = "NOVADOCK_CONSOLE";

/// A Nova host's name as a session's marker shows it.
fn host_tag(host: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(host.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A process's start time (clock ticks since boot), which tells a pid
/// reused since from the process that had it.
fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    // Field 22 of stat; the 20th after the command name.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This service's marker value for the sessions it starts.
pub fn marker(host: &str) -> String {
    let me = std::process::id();
    format!("{} {me} {}", host_tag(host), start_time(me).unwrap_or(0))
}

/// Whether the service a marker names is gone (its pid dead or reused).
fn service_gone(value: &str, host: &str) -> bool {
    let mut parts = value.split(' ');
    if parts.next() != Some(host_tag(host).as_str()) {
        return false;
    }
    let (Some(Ok(pid)), Some(Ok(started))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u64>),
    ) else {
        return false;
    };
    start_time(pid) != Some(started)
}

/// The marker in a process's environment, if any.
fn marker_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARKER}=");
    env.split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// At start: SIGKILLs the processes of console sessions that an earlier
/// service of this Nova host left when it died (a crash: no session's end
/// ran). A session of a live service, another host's or this one's, stays.
/// Returns how many were killed.
pub fn kill_orphaned(host: &str) -> usize {
    let mut killed = 0;
    // Only in containers: a tenant can put the variable in its own
    // processes (metadata is environment), never in the host's.
    let own_ns = pid_namespace(std::process::id());
    for pid in processes().into_keys() {
        let Some(value) = marker_of(pid) else {
            continue;
        };
        if service_gone(&value, host)
            && pid_namespace(pid).is_some()
            && pid_namespace(pid) != own_ns
            && let Ok(p) = libc::pid_t::try_from(pid)
        {
            // SAFETY: kill(2) with a pid and a signal number has no memory
            // effects; a pid that is gone gives ESRCH.
            if unsafe { libc::kill(p, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names() {
        assert_eq!(
            parse_stat("4242 (a) b (c)) S 4200 4242 4242 34816 4242 4194560 0"),
            Some(Stat {
                ppid: 4200,
                session: 4242
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn markers_name_a_live_or_a_gone_service() {
        let mine = marker("cn1");
        assert!(!service_gone(&mine, "cn1"), "this process is alive: {mine}");
        assert!(!service_gone(&mine, "cn2"), "another host's is never ours");
        let me = std::process::id();
        let cn1 = host_tag("cn1");
        assert!(
            !mine.contains("cn1"),
            "the host's name stays private: {mine}"
        );
        assert!(
            service_gone(&format!("{cn1} {me} 1"), "cn1"),
            "a reused pid"
        );
        assert!(
            service_gone(&format!("{cn1} 4194305 1"), "cn1"),
            "beyond pid_max: dead"
        );
        assert!(!service_gone(&format!("{cn1} garbage"), "cn1"));
    }

    #[test]
    fn members_are_the_session_and_its_descendants() {
        let all = HashMap::from([
            (
                10,
                Stat {
                    ppid: 1,
                    session: 10,
                },
            ),
            (
                11,
                Stat {
                    ppid: 10,
                    session: 10,
                },
            ),
            // A child that made its own session: still below the leader.
            (
                12,
                Stat {
                    ppid: 11,
                    session: 12,
                },
            ),
            (
                13,
                Stat {
                    ppid: 12,
                    session: 12,
                },
            ),
            // Someone else's.
            (
                20,
                Stat {
                    ppid: 1,
                    session: 20,
                },
            ),
        ]);
        let mut m = members(10, &all);
        m.sort();
        assert_eq!(m, vec![10, 11, 12, 13]);
    }
}

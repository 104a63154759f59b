//! The start-up check: a main process that exits at once fails its boot
//! with its exit code and last output (DESIGN's lesson) instead of leaving
//! Nova an ACTIVE server that is already dead.
//!
//! Right after Docker's start returns, the watch asks Docker for the main
//! process's pid and holds a pidfd on it, so the kernel tells of its death
//! at once. That inspection is also the barrier that makes a short window
//! enough: a process that exits at once is dead within milliseconds, and
//! while dockerd records a death it answers no inspection of the container,
//! so the answer is "exited", or a pid whose pidfd is readable at once, or
//! a live process. The window (`startup_check_seconds`, counted from the
//! start) then has to cover only the process's first moments, which
//! docs/benchmarks-spawn.md measures; the VIF plugging runs inside it. On a
//! host too busy to run the process the window stretches by the time the
//! process waited for a CPU (up to 1 s). Without pidfd (Linux < 5.3)
//! Docker's wait tells instead, later. A process that dies after the window
//! is Docker's `die` event: a STOPPED lifecycle event and its exit code at
//! the end of the console log (console.rs).

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::docker::Engine;

/// How long a death the kernel saw may take to reach dockerd's records
/// before the boot fails with what Docker has (a loaded host lags seconds).
const RECORD_WAIT: Duration = Duration::from_secs(30);

/// The longest a window stretches for a process starved of CPU: the fixed
/// wait every boot had before.
const MAX_STRETCHED: Duration = Duration::from_secs(1);

/// Watches a just-started container's main process until the window ends.
pub struct StartupWatch {
    began: Instant,
    window: Duration,
    /// The main process's live pid once Docker answered (None: not known).
    armed: oneshot::Receiver<Option<i64>>,
    /// Ends when the main process is dead; None while the check is off.
    died: Option<JoinHandle<()>>,
    docker: Engine,
    name: String,
}

impl StartupWatch {
    /// Call right after Docker's start returned: the window begins now.
    pub fn begin(docker: &Engine, name: &str, window: Duration) -> StartupWatch {
        let (tx, armed) = oneshot::channel();
        // With the check off nothing is asked of Docker unless the plug fails.
        let died = (!window.is_zero()).then(|| watch(docker, name, tx));
        StartupWatch {
            began: Instant::now(),
            window,
            armed,
            died,
            docker: docker.clone(),
            name: name.to_string(),
        }
    }

    /// Waits until Docker has answered where the main process is and
    /// whatever is left of the window, less if the process dies; true when
    /// it died. `plug_failed`: the plugging failed, which a process that
    /// died during it explains, so its death is waited for a little however
    /// far the window has run.
    pub async fn exited(self, plug_failed: bool) -> bool {
        let StartupWatch {
            began,
            window,
            mut armed,
            died,
            docker,
            name,
        } = self;
        let mut died = match died {
            Some(d) => d,
            None if plug_failed => {
                let (tx, rx) = oneshot::channel();
                armed = rx;
                watch(&docker, &name, tx)
            }
            None => return false,
        };
        let dead = 'watch: {
            let pid = tokio::select! {
                _ = &mut died => break 'watch true,
                armed = armed => match armed {
                    Ok(pid) => pid,
                    // The task ended before it armed: Docker said the
                    // process is not running (its JoinHandle may not say so
                    // yet, so it is not waited for).
                    Err(_) => break 'watch true,
                },
            };
            let end = began + window;
            let mut deadline = if plug_failed {
                end.max(Instant::now() + Duration::from_millis(100))
            } else {
                end
            };
            loop {
                if tokio::time::timeout_at(deadline, &mut died).await.is_ok() {
                    break 'watch true;
                }
                // The kernel's word at the deadline: a death the task has
                // not been scheduled to report yet still counts.
                if pid.is_some_and(gone) {
                    break 'watch true;
                }
                // The window is the process's own time: on a host too busy
                // to run it, the time it waited for a CPU does not count.
                let waited = pid.and_then(run_queue_wait).unwrap_or_default();
                let stretched = (end + waited).min(began + window.max(MAX_STRETCHED));
                if stretched <= deadline {
                    break 'watch false;
                }
                deadline = stretched;
            }
        };
        died.abort();
        dead
    }
}

/// The task that ends when the main process is dead.
fn watch(docker: &Engine, name: &str, armed: oneshot::Sender<Option<i64>>) -> JoinHandle<()> {
    let docker = docker.clone();
    let name = name.to_string();
    tokio::spawn(async move { exit_of(&docker, &name, armed).await })
}

/// Ends when the container's main process is dead: the kernel's word
/// (pidfd), else Docker's (wait).
pub async fn main_process_exit(docker: &Engine, name: &str) {
    exit_of(docker, name, oneshot::channel().0).await
}

/// main_process_exit, sending `armed` the live pid once Docker answered.
async fn exit_of(docker: &Engine, name: &str, armed: oneshot::Sender<Option<i64>>) {
    let state = docker
        .inspect_container(name)
        .await
        .ok()
        .and_then(|c| c.state);
    let pid = match state {
        Some(s) if !s.running => return,
        Some(s) => s.pid.filter(|p| *p > 0),
        None => None,
    };
    // Watched from here on; nobody listening is fine.
    let _ = armed.send(pid);
    if let Some(p) = pid
        && pidfd_exit(p).await.is_ok()
    {
        return;
    }
    // No pidfd here (or no answer): Docker's wait tells, at once for a
    // container that is not running any more (condition not-running).
    docker.wait_exit(name).await;
}

/// Whether process `pid` has exited (a zombie, or reaped already).
fn gone(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command's closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| matches!(state, "Z" | "X")),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// How long process `pid` has waited on a run queue (the second field of
/// `/proc/<pid>/schedstat`, in nanoseconds).
fn run_queue_wait(pid: i64) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns = text.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Waits for process `pid` to end, through a pidfd (readable once it has
/// exited, zombie or reaped); ESRCH means it is gone already.
async fn pidfd_exit(pid: i64) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::O_NONBLOCK) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ESRCH) => Ok(()),
            _ => Err(e),
        };
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::ErrorKind::InvalidData)?;
    // SAFETY: the fd was just returned by pidfd_open and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the OwnedFd is valid, moves into the AsyncFd and is closed
    // only when the AsyncFd is dropped.
    let fd = unsafe { AsyncFd::register(fd)? };
    let _ready = fd.readable().await?;
    Ok(())
}

/// Waits until dockerd has recorded the death the kernel saw, so that its
/// exit code and last output can be read; bounded by RECORD_WAIT.
pub async fn recorded(docker: &Engine, name: &str) {
    let _ = tokio::time::timeout(RECORD_WAIT, docker.wait_exit(name)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_not_gone_and_a_reaped_one_is() {
        assert!(!gone(i64::from(std::process::id())));
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = i64::from(child.id());
        let _ = child.wait();
        assert!(gone(pid));
    }

    #[test]
    fn run_queue_wait_reads_a_live_process() {
        let me = i64::from(std::process::id());
        assert!(run_queue_wait(me).is_some());
    }

    #[tokio::test]
    async fn a_pidfd_ends_with_its_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .expect("sleep");
        let pid = i64::from(child.id());
        let t0 = std::time::Instant::now();
        pidfd_exit(pid).await.expect("pidfd");
        assert!(t0.elapsed() >= Duration::from_millis(150));
        let _ = child.wait();
        // Reaped: gone already.
        pidfd_exit(pid).await.expect("gone");
    }
}

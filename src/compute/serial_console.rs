//! Nova's serial console for containers. `get_serial_console` gives
//! nova-serialproxy a TCP port on `[serial_console] proxyclient_address`
//! from `port_range`; each connection to it is a session: an exec of the
//! console command with a TTY in the container, its bytes relayed both ways
//! (window size in band, terminal_size.rs). The port is unauthenticated,
//! like libvirt's serial ports: nova-serialproxy checks the console token,
//! and the address must not be reachable from tenant networks.
//!
//! The listeners live in the service's memory only: a restart leaves none,
//! and Nova's next request (its proxy asks again to validate each token)
//! gets a fresh port. Stop, pause, suspend and delete close the instance's
//! listener and sessions (`close_serial_console`); a closed session's
//! processes are killed (exec_reaper.rs), as dockerd would leave them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::terminal_size::{DEFAULT_SIZE, InputFilter, PROBE, Size};
use super::{Compute, exec_reaper, info, label, running_pid};
use crate::docker::{Container, command_line, naming};
use crate::error::Error;
use crate::model::{PowerState, SerialConsole};

/// How long a possible start of a size sequence is held back: a lone ESC
/// key waits no longer than this.
const HOLD_BACK: Duration = Duration::from_millis(50);
/// How long the session waits for the terminal's answer to its probe.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// The variable the console's programs read their terminal type from.
const TERM: &str = "TERM=xterm";

/// The instances' listeners, by uuid, and how many sessions run.
pub struct SerialConsoles {
    listeners: Mutex<HashMap<String, Listener>>,
    sessions: watch::Sender<usize>,
}

impl Default for SerialConsoles {
    fn default() -> Self {
        SerialConsoles {
            listeners: Mutex::new(HashMap::new()),
            sessions: watch::channel(0).0,
        }
    }
}

/// Counts a session while it runs (its end included: the kill).
struct SessionGuard(watch::Sender<usize>);

impl SessionGuard {
    fn new(count: &watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        SessionGuard(count.clone())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

struct Listener {
    port: u16,
    /// Set to true (or dropped) when the console closes: sessions end.
    closed: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl SerialConsoles {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Listener>> {
        // A panic elsewhere while holding it leaves a map still worth using.
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ports listened on now, by instance (for tests and diagnostics).
    pub fn ports(&self) -> HashMap<String, u16> {
        self.lock()
            .iter()
            .filter(|(_, l)| !l.accept.is_finished())
            .map(|(u, l)| (u.clone(), l.port))
            .collect()
    }
}

impl Compute {
    /// The instance's console address: the same port while its listener
    /// lives, else a new listener on a free port of the range.
    pub async fn get_serial_console(&self, uuid: &str) -> Result<SerialConsole, Error> {
        let sc = &self.config().serial_console;
        if !sc.enabled {
            return Err(Error::ConsoleTypeUnavailable(
                "serial consoles are off on this host ([serial_console] enabled = false)"
                    .to_string(),
            ));
        }
        let c = self.inspect(uuid).await?;
        let state = info(&c).power_state;
        if state != PowerState::Running {
            return Err(Error::InstanceNotReady(format!(
                "instance {uuid} is not running ({}): its console opens once it runs",
                serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )));
        }
        let mut listeners = self.consoles.lock();
        if let Some(l) = listeners.get(uuid)
            && !l.accept.is_finished()
        {
            return Ok(SerialConsole {
                host: sc.proxyclient_address.clone(),
                port: l.port,
            });
        }
        let (listener, port) = bind_in_range(&sc.proxyclient_address, sc.port_range)?;
        let (closed, closed_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(
            self.clone(),
            uuid.to_string(),
            listener,
            closed_rx,
        ));
        tracing::info!(instance = uuid, port, "serial console listening");
        listeners.insert(
            uuid.to_string(),
            Listener {
                port,
                closed,
                accept,
            },
        );
        Ok(SerialConsole {
            host: sc.proxyclient_address.clone(),
            port,
        })
    }

    /// Ends the instance's sessions and frees its port (no-op without one).
    /// The port is free when this returns; the sessions' processes are
    /// killed by their own tasks.
    pub async fn close_serial_console(&self, uuid: &str) {
        let Some(l) = self.consoles.lock().remove(uuid) else {
            return;
        };
        let _ = l.closed.send(true);
        l.accept.abort();
        let _ = l.accept.await;
        tracing::info!(instance = uuid, port = l.port, "serial console closed");
    }

    /// At the service's shutdown: every console closed, and a few seconds
    /// for their sessions to kill their processes (a crash leaves that to
    /// the terminal's hang-up, which ends the shells but not their
    /// background jobs).
    pub async fn close_all_serial_consoles(&self) {
        let uuids: Vec<String> = self.consoles.lock().keys().cloned().collect();
        for uuid in uuids {
            self.close_serial_console(&uuid).await;
        }
        let mut sessions = self.consoles.sessions.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(5), sessions.wait_for(|n| *n == 0)).await;
    }

    pub fn serial_consoles(&self) -> &SerialConsoles {
        &self.consoles
    }

    /// The console command: the image property the spawn recorded, else
    /// `[novadock] console_command`.
    fn console_command(&self, c: &Container) -> Result<Vec<String>, Error> {
        match label(c, naming::LABEL_CONSOLE_COMMAND).map(str::trim) {
            Some(line) if !line.is_empty() => command_line::split(line).map_err(|e| {
                Error::InvalidInput(format!(
                    "image property {} {line:?}: {e}",
                    naming::CONSOLE_COMMAND_PROPERTY
                ))
            }),
            _ => Ok(self.config().novadock.console_command.clone()),
        }
    }
}

/// A listener on a free port of the range, starting at a random one (a
/// port just freed is not handed out again at once).
fn bind_in_range(address: &str, (lo, hi): (u16, u16)) -> Result<(TcpListener, u16), Error> {
    let count = u32::from(hi - lo) + 1;
    let start = uuid::Uuid::new_v4().as_u128() as u32 % count;
    for i in 0..count {
        let Ok(port) = u16::try_from(u32::from(lo) + (start + i) % count) else {
            continue;
        };
        match std::net::TcpListener::bind((address, port)) {
            Ok(l) => {
                let l = l
                    .set_nonblocking(true)
                    .and_then(|()| TcpListener::from_std(l))
                    .map_err(|e| Error::Internal(format!("serial console listener: {e}")))?;
                return Ok((l, port));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => {
                return Err(Error::Internal(format!(
                    "cannot listen on [serial_console] proxyclient_address {address} port {port}: {e}"
                )));
            }
        }
    }
    Err(Error::ConsolePortRangeExhausted(format!(
        "every port of [serial_console] port_range {lo}:{hi} on {address} is taken"
    )))
}

async fn accept_loop(
    compute: Compute,
    uuid: String,
    listener: TcpListener,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tracing::info!(instance = %uuid, %peer, "serial console session");
                    tokio::spawn(session(compute.clone(), uuid.clone(), tcp, closed.clone()));
                }
                Err(e) => {
                    // Out of descriptors, most likely: let some close.
                    tracing::warn!(instance = %uuid, "serial console accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = closed.changed() => return,
        }
    }
}

/// Why a relay ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The client closed (or broke) its connection.
    ClientGone,
    /// The process in the container ended (or dockerd closed the stream).
    ProcessEnded,
    /// The console was closed (stop, pause, suspend, delete).
    Closed,
}

async fn session(
    compute: Compute,
    uuid: String,
    mut tcp: TcpStream,
    mut closed: watch::Receiver<bool>,
) {
    let _running = SessionGuard::new(&compute.consoles.sessions);
    let _ = tcp.set_nodelay(true);
    let container = naming::container_name(&uuid);
    let started = async {
        let c = compute.inspect(&uuid).await?;
        let cmd = compute.console_command(&c)?;
        // The container's pid namespace bounds what a session's end kills.
        let ns = running_pid(&c)
            .and_then(exec_reaper::pid_namespace)
            .ok_or_else(|| Error::InstanceNotReady(format!("instance {uuid} is not running")))?;
        let exec = compute
            .docker()
            .start_tty_exec(
                &container,
                &cmd,
                &[
                    TERM.to_string(),
                    format!(
                        "{}={}",
                        exec_reaper::MARKER,
                        exec_reaper::marker(compute.host_name())
                    ),
                ],
            )
            .await
            .map_err(|e| match e.message() {
                // The engine's own words say best why (not running, paused).
                Some(m) => Error::InstanceNotReady(m.to_string()),
                None => Error::from(e),
            })?;
        Ok::<_, Error>((cmd, ns, exec))
    };
    let (cmd, ns, exec) = match started.await {
        Ok(s) => s,
        Err(e) => {
            let text = format!("\r\nnovadock: cannot open a console on instance {uuid}: {e}\r\n");
            let _ = tcp.write_all(text.as_bytes()).await;
            let _ = tcp.shutdown().await;
            return;
        }
    };
    let id = exec.id.clone();
    let mut ran = resize(&compute, &id, DEFAULT_SIZE).await;
    // Learnt now: when the client goes, dockerd's hang-up may end the shell
    // before it is asked again, leaving its background jobs.
    let leader = match compute.docker().inspect_exec(&id).await {
        Ok(s) => s.pid,
        Err(_) => None,
    };
    let relay = relay(&compute, &id, exec.stream, &mut tcp, &mut ran);
    let end = tokio::select! {
        end = relay => end,
        _ = closed.wait_for(|c| *c) => End::Closed,
    };
    let state = compute.docker().inspect_exec(&id).await.ok();
    ran |= state.is_some_and(|s| s.pid.is_some());
    if let Some(pid) = leader.or(state.and_then(|s| s.pid))
        && !exec_reaper::kill_session(pid, &ns).await
    {
        // Frozen (a paused container): the kill lands when it thaws.
        tracing::info!(instance = %uuid, exec = %id, pid, "console processes not gone yet");
    }
    if !ran && end == End::ProcessEnded {
        let code = state
            .and_then(|s| s.exit_code)
            .map(|c| format!(" (exit code {c})"))
            .unwrap_or_default();
        let text = format!(
            "\r\nnovadock: the console command {cmd:?} could not run in this container{code}: \
             its image may have no such program (a FROM scratch image has no shell). The image \
             property {} names another one.\r\n",
            naming::CONSOLE_COMMAND_PROPERTY
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(text.as_bytes())).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.shutdown()).await;
    tracing::info!(instance = %uuid, exec = %id, ?end, "serial console session ended");
}

/// Sets the exec's TTY size; true once the engine took it (the exec runs).
async fn resize(compute: &Compute, id: &str, size: Size) -> bool {
    // The exec may not have a process yet right after its start (up to a
    // second on a loaded host).
    for _ in 0..50 {
        match compute.docker().resize_exec(id, size.rows, size.cols).await {
            Ok(()) => return true,
            Err(_) => {
                // Ended already (a program that could not run): no TTY to size.
                if let Ok(st) = compute.docker().inspect_exec(id).await
                    && !st.running
                    && st.exit_code.is_some()
                {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await
            }
        }
    }
    false
}

/// Copies bytes both ways until one side ends, taking the window size out
/// of the client's bytes.
async fn relay(
    compute: &Compute,
    id: &str,
    exec: Box<dyn crate::docker::exec::RawStream>,
    tcp: &mut TcpStream,
    ran: &mut bool,
) -> End {
    let (mut exec_rx, mut exec_tx) = tokio::io::split(exec);
    let (mut tcp_rx, mut tcp_tx) = tcp.split();
    if tcp_tx.write_all(PROBE).await.is_err() {
        return End::ClientGone;
    }
    let mut filter = InputFilter::after_probe();
    let probe_wait = tokio::time::sleep(PROBE_WAIT);
    tokio::pin!(probe_wait);
    let mut probing = true;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_exec = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = tcp_rx.read(&mut from_client) => {
                let n = match n {
                    Ok(0) | Err(_) => return End::ClientGone,
                    Ok(n) => n,
                };
                let (bytes, size) = filter.feed(&from_client[..n]);
                if let Some(size) = size {
                    *ran |= resize(compute, id, size).await;
                }
                if !bytes.is_empty() && exec_tx.write_all(&bytes).await.is_err() {
                    return End::ProcessEnded;
                }
            }
            n = exec_rx.read(&mut from_exec) => {
                let n = match n {
                    Ok(0) | Err(_) => return End::ProcessEnded,
                    Ok(n) => n,
                };
                if tcp_tx.write_all(&from_exec[..n]).await.is_err() {
                    return End::ClientGone;
                }
            }
            () = tokio::time::sleep(HOLD_BACK), if filter.has_pending() => {
                let bytes = filter.flush();
                if exec_tx.write_all(&bytes).await.is_err() {
                    return End::ProcessEnded;
                }
            }
            () = &mut probe_wait, if probing => {
                probing = false;
                filter.probe_unanswered();
            }
        }
    }
}

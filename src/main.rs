//! `novadock serve|check --config-file FILE...`

use std::path::PathBuf;
use std::process::ExitCode;

use novadock::config::{Config, RawConfig};
use novadock::{api, check, compute, docker, server};

const USAGE: &str =
    "usage: novadock serve|check --config-file FILE [--config-file FILE ...] [--debug]
       novadock --version

  serve   serve the driver API on [novadock] socket_path
  check   run the start-up checks (config, Docker engine, socket) and report";

struct Args {
    command: String,
    files: Vec<PathBuf>,
    debug: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut command = None;
    let mut files = Vec::new();
    let mut debug = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config-file" => files.push(PathBuf::from(
                it.next().ok_or("--config-file needs a path")?,
            )),
            s if s.starts_with("--config-file=") => {
                files.push(PathBuf::from(&s["--config-file=".len()..]))
            }
            "--debug" => debug = true,
            "--version" => command = Some("version".to_string()),
            "-h" | "--help" => command = Some("help".to_string()),
            "serve" | "check" if command.is_none() => command = Some(a),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let command = command.ok_or("no command given")?;
    if (command == "serve" || command == "check") && files.is_empty() {
        return Err(format!("{command} needs at least one --config-file"));
    }
    Ok(Args {
        command,
        files,
        debug,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("novadock: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let level = if args.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    match args.command.as_str() {
        "version" => {
            println!("novadock {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        "check" => {
            let outcome = check::run(&args.files).await;
            for l in &outcome.lines {
                println!("{l}");
            }
            if outcome.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => match serve(&args.files).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("novadock: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn serve(files: &[PathBuf]) -> Result<(), String> {
    // Registered before anything is bound: a SIGTERM during start-up (a
    // service manager's stop) must shut down cleanly, not kill the process
    // with its socket left behind.
    let mut shutdown =
        Box::pin(shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?);
    let raw = RawConfig::load(files).map_err(|e| e.to_string())?;
    let config = Config::from_raw(&raw).map_err(|e| e.to_string())?;
    for key in Config::unknown_keys(&raw) {
        tracing::warn!("[novadock] {key} is not an option of this version");
    }
    let docker = tokio::select! {
        d = wait_for_docker(&config.novadock.docker_url) => d,
        () = &mut shutdown => return Ok(()),
    };
    tracing::info!(api = %docker.api_version(), "connected to the Docker engine");
    let listener = server::bind(&config.novadock).map_err(|e| e.to_string())?;
    let socket = config.novadock.socket_path.clone();
    tracing::info!(socket = %socket.display(), "serving the driver API");
    if let Some(addr) = config.novadock.glance_facade_listen {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("glance_facade_listen {addr}: {e}"))?;
        tracing::info!(%addr, "serving the Glance facade");
        let facade = api::glance_facade::Facade::new(
            docker.clone(),
            &config.novadock.glance_facade_auth,
            config.novadock.glance_endpoint.clone(),
        )?;
        match &config.novadock.glance_facade_auth {
            novadock::config::FacadeAuth::Keystone(url) => {
                tracing::info!(%url, "the Glance facade checks Keystone tokens")
            }
            novadock::config::FacadeAuth::NoAuth => tracing::warn!(
                "the Glance facade serves every image to anyone who reaches it \
                 (glance_facade_auth_strategy = noauth)"
            ),
        }
        tokio::spawn(async move {
            if let Err(e) = api::glance_facade::serve(tcp, facade).await {
                tracing::error!("Glance facade stopped: {e}");
            }
        });
    }
    let compute = compute::Compute::new(docker, config).map_err(|e| e.to_string())?;
    // Said plainly at every start: what a tenant's container cannot do here.
    match compute.features().await {
        Ok(f) => {
            for (holds, text) in f.report() {
                if holds {
                    tracing::info!("{text}");
                } else {
                    tracing::warn!("{text}");
                }
            }
        }
        Err(e) => tracing::warn!("cannot read the engine's features: {e}"),
    }
    match compute.secure_config_drives().await {
        Ok(n) => tracing::debug!("{n} config drives readable by container root only"),
        Err(e) => tracing::warn!("cannot secure the existing config drives: {e}"),
    }
    match compute.remove_orphaned_vifs().await {
        Ok(removed) if !removed.is_empty() => tracing::info!(?removed, "removed orphaned VIFs"),
        Ok(_) => {}
        // A host without Open vSwitch has no VIFs to lose.
        Err(e) => tracing::warn!("cannot look for orphaned VIFs: {e}"),
    }
    // Console sessions an earlier service left when it died: nothing else
    // would end them.
    let host = compute.host_name().to_string();
    match tokio::task::spawn_blocking(move || novadock::compute::exec_reaper::kill_orphaned(&host))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            processes = n,
            "ended console sessions an earlier service left"
        ),
        Err(e) => tracing::warn!("cannot look for console sessions left behind: {e}"),
    }
    tokio::spawn(compute.clone().follow_docker_events());
    let result = api::serve(listener, compute.clone(), shutdown)
        .await
        .map_err(|e| e.to_string());
    // A console session's processes would outlive it in the container.
    compute.close_all_serial_consoles().await;
    server::remove(&socket);
    result
}

/// Waits for dockerd rather than fail: on boot it may start after us.
async fn wait_for_docker(url: &str) -> docker::Engine {
    loop {
        match docker::connect(url).await {
            Ok(d) => match d.version().await {
                Ok(_) => return d,
                Err(e) => tracing::warn!("Docker engine not answering yet: {e}"),
            },
            Err(e) => tracing::warn!("Docker engine not reachable yet: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Installs the SIGTERM and SIGINT handlers now; the future ends at the
/// first of them.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

//! Spawn/destroy latency of the novadock driver path against raw Docker,
//! measured side by side in one run, and the service at N instances.
//!
//! ```text
//! cargo bench --bench compare                  # full: 30 boots, bursts 1..50, 1000 instances
//! cargo bench --bench compare -- --quick       # CI: 3 boots, bursts 1 and 5, 20 instances
//! cargo bench --bench compare -- --docs        # also write docs/benchmarks-spawn.md and its plot
//! ```
//!
//! Options: `--boots N`, `--levels 1,5,10`, `--instances N` (0 skips),
//! `--out FILE` (JSON results, default target/bench-spawn/results.json).
//!
//! Paths: `raw` and `raw+vif` are bollard calls made here; the Python paths
//! (the Nova driver through the service, the Docker SDK, `docker run`) run
//! in long-lived workers (benchmarks/spawn_worker.py) so that interpreter
//! start-up is not timed and every path is interleaved boot by boot.
//! Needs root, the machine's dockerd, the tests' Open vSwitch and the test
//! image; removes everything it created, also on error or SIGINT/SIGTERM.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::{Value, json};

const IMAGE: &str = "novadock-test/busybox:latest";
/// The tests' Open vSwitch, as nova_shim/tests/service.py finds it.
fn ovsdb() -> String {
    std::env::var("NOVADOCK_TEST_OVSDB")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unix:/run/novadock-test-ovs/db.sock".into())
}
const BRIDGE: &str = "br-int";
const MIB: i64 = 1024 * 1024;
const RAW: [&str; 2] = ["raw", "raw+vif"];
const DOCKER: [&str; 2] = ["docker-run", "sdk"];
const DRIVER: [&str; 3] = ["driver", "driver-nocheck", "driver-novif-nocheck"];

type Res<T> = Result<T, String>;

struct Opts {
    quick: bool,
    boots: usize,
    levels: Vec<usize>,
    instances: usize,
    out: PathBuf,
    docs: bool,
}

fn parse_opts() -> Res<Opts> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        quick,
        boots: if quick { 3 } else { 30 },
        levels: if quick {
            vec![1, 5]
        } else {
            vec![1, 5, 10, 25, 50]
        },
        instances: if quick { 20 } else { 1000 },
        out: repo().join("target/bench-spawn/results.json"),
        docs: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            // cargo bench passes --bench to harness-less benches.
            "--bench" | "--quick" => {}
            "--docs" => o.docs = true,
            "--boots" => o.boots = num(val()?)?.max(1),
            "--instances" => o.instances = num(val()?)?,
            "--out" => o.out = PathBuf::from(val()?),
            "--levels" => {
                o.levels = val()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>().map_err(|e| format!("{s}: {e}")))
                    .collect::<Res<Vec<_>>>()?;
                if o.levels.contains(&0) {
                    return Err("--levels: 0 is not a concurrency".into());
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Python worker: one JSON request per line, one answer per line.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    hello: Value,
}

impl Worker {
    fn start(python: &Path, kind: &str, run_id: &str) -> Res<Worker> {
        let mut child = Command::new(python)
            .arg(repo().join("benchmarks/spawn_worker.py"))
            .args([kind, run_id])
            .env("NOVADOCK_BIN", env!("CARGO_BIN_EXE_novadock"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {} {kind} worker: {e}", python.display()))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no worker stdout")?);
        let mut w = Worker {
            child,
            stdin,
            stdout,
            hello: Value::Null,
        };
        w.hello = w.read()?;
        Ok(w)
    }

    fn read(&mut self) -> Res<Value> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("a worker exited (see its output above)".into());
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        match v.get("error") {
            Some(e) => Err(format!("worker: {e}")),
            None => Ok(v),
        }
    }

    fn call(&mut self, req: Value) -> Res<Value> {
        let stdin = self.stdin.as_mut().ok_or("worker stdin closed")?;
        writeln!(stdin, "{req}").map_err(|e| format!("to worker: {e}"))?;
        stdin.flush().map_err(|e| e.to_string())?;
        self.read()
    }

    /// Closing stdin makes the worker remove what it made and exit.
    fn finish(&mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.finish();
    }
}

/// What the raw paths created, for the cleanup (also from the signal task).
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    ports: Vec<String>,
}

struct Raw {
    docker: Docker,
    run_id: String,
    created: Arc<Mutex<Created>>,
    counter: Mutex<usize>,
}

/// One measured burst: per-operation latencies and the burst's wall time.
#[derive(Default, Clone)]
struct Sample {
    lat: Vec<f64>,
    wall: f64,
}

impl Sample {
    fn from_json(v: &Value) -> Sample {
        Sample {
            lat: v["lat"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
            wall: v["wall"].as_f64().unwrap_or(0.0),
        }
    }
}

impl Raw {
    fn next_name(&self, variant: &str) -> (String, usize) {
        let mut c = self.counter.lock().expect("counter");
        *c += 1;
        let tag = variant.replace('+', "-");
        (format!("ndbench-{tag}-{}-{}", self.run_id, *c), *c)
    }

    /// The same limits the service sets for a 64 MiB, 1 vCPU flavor.
    fn body(&self, name: &str) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(IMAGE.to_string()),
            hostname: Some("ndbench".into()),
            env: Some(vec![]),
            labels: Some(HashMap::from([
                ("ndbench.run".to_string(), self.run_id.clone()),
                ("ndbench.name".to_string(), name.to_string()),
            ])),
            host_config: Some(HostConfig {
                memory: Some(64 * MIB),
                memory_swap: Some(64 * MIB),
                cpu_shares: Some(1024),
                pids_limit: Some(1024),
                privileged: Some(false),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                network_mode: Some("bridge".into()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(HashMap::from([
                        ("max-size".to_string(), "10m".to_string()),
                        ("max-file".to_string(), "2".to_string()),
                    ])),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn spawn_one(&self, variant: &str) -> Res<(String, Option<String>, f64)> {
        let (name, n) = self.next_name(variant);
        let vif = (variant == "raw+vif").then(|| vif_json(n));
        let t0 = Instant::now();
        self.created
            .lock()
            .expect("created")
            .containers
            .push(name.clone());
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(opts), self.body(&name))
            .await
            .map_err(|e| format!("create {name}: {e}"))?;
        self.docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("start {name}: {e}"))?;
        let mut devname = None;
        if let Some(vif) = vif {
            devname = Some(self.plug(&name, &vif).await?);
        }
        Ok((name, devname, t0.elapsed().as_secs_f64()))
    }

    /// The least a VIF needs: the service's netlink steps (veth, move into
    /// the namespace, eth1 with MAC, MTU, address, routes) and one ovs-vsctl
    /// transaction for the port and Neutron's external_ids.
    async fn plug(&self, name: &str, vif: &Value) -> Res<String> {
        let c = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map_err(|e| format!("inspect {name}: {e}"))?;
        let pid = c
            .state
            .and_then(|s| s.pid)
            .filter(|p| *p > 0)
            .ok_or(format!("{name} has no pid"))?;
        let plan = novadock::network::vif::plan(&vif.clone().into(), 0, BRIDGE)
            .map_err(|e| e.to_string())?;
        let dev = plan.devname.clone();
        self.created
            .lock()
            .expect("created")
            .ports
            .push(dev.clone());
        let target = novadock::network::ContainerProcess {
            pid: pid as u32,
            container_id: c.id.clone().ok_or(format!("{name} has no id"))?,
        };
        novadock::network::netlink::plug(&target, vec![plan.clone()], true)
            .await
            .map_err(|e| format!("plug {name}: {e}"))?;
        let out = tokio::process::Command::new("ovs-vsctl")
            .args([
                &format!("--db={}", ovsdb()),
                "--timeout=10",
                "--",
                "add-port",
                BRIDGE,
                &dev,
                "--",
                "set",
                "Interface",
                &dev,
                &format!("external_ids:iface-id={}", plan.iface_id),
                "external_ids:iface-status=active",
                &format!("external_ids:attached-mac={}", plan.mac_text),
                &format!("external_ids:vm-uuid={name}"),
                "mtu_request=1400",
            ])
            .output()
            .await
            .map_err(|e| format!("ovs-vsctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ovs-vsctl add-port {dev}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dev)
    }

    async fn destroy_one(&self, name: &str, dev: Option<&str>) -> Res<f64> {
        let t0 = Instant::now();
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        self.docker
            .remove_container(name, Some(opts))
            .await
            .map_err(|e| format!("remove {name}: {e}"))?;
        if let Some(dev) = dev {
            del_ports(&[dev.to_string()]).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let mut created = self.created.lock().expect("created");
        created.containers.retain(|c| c != name);
        created.ports.retain(|p| Some(p.as_str()) != dev);
        Ok(secs)
    }

    /// One boot of a main process that exits at once (`sh -c 'echo; exit
    /// 3'`): how long start took, from start's return until the service's
    /// start-up watch saw the death and until Docker's own wait answered,
    /// and how long the process lived: what `startup_check_seconds` has to
    /// cover.
    async fn exit_one(&self) -> Res<[f64; 4]> {
        let (name, _) = self.next_name("exit");
        self.created
            .lock()
            .expect("created")
            .containers
            .push(name.clone());
        let mut body = self.body(&name);
        body.cmd = Some(
            ["sh", "-c", "echo dying-now; exit 3"]
                .map(String::from)
                .to_vec(),
        );
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| format!("create {name}: {e}"))?;
        let t0 = Instant::now();
        self.docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("start {name}: {e}"))?;
        let started = Instant::now();
        let seen = async {
            novadock::compute::startup_watch::main_process_exit(
                &novadock::docker::Engine::from(self.docker.clone()),
                &name,
            )
            .await;
            started.elapsed().as_secs_f64()
        };
        let docker_saw = async {
            let mut wait = self
                .docker
                .wait_container(&name, None::<WaitContainerOptions>);
            let _ = wait.next().await;
            started.elapsed().as_secs_f64()
        };
        let (seen, docker_saw) = tokio::join!(seen, docker_saw);
        let start = (started - t0).as_secs_f64();
        // The process's own life, as Docker dates it (StartedAt is set once
        // the process runs, FinishedAt from the exit).
        let state = self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .map_err(|e| format!("inspect {name}: {e}"))?
            .state;
        let at = |t: Option<String>| t.as_deref().and_then(seconds_of_day);
        let life = match state {
            Some(s) => match (at(s.started_at), at(s.finished_at)) {
                (Some(a), Some(b)) => (b - a).rem_euclid(86_400.0),
                _ => f64::NAN,
            },
            None => f64::NAN,
        };
        self.destroy_one(&name, None).await?;
        Ok([start, seen, docker_saw, life])
    }

    /// `count` exiting boots at once.
    async fn exit_burst(&self, count: usize) -> Res<Vec<[f64; 4]>> {
        join_all((0..count).map(|_| self.exit_one()))
            .await
            .into_iter()
            .collect()
    }

    /// `count` spawns at once, then their destroys at once.
    async fn burst(&self, variant: &str, count: usize) -> Res<(Sample, Sample)> {
        let t0 = Instant::now();
        let spawned: Vec<_> = join_all((0..count).map(|_| self.spawn_one(variant))).await;
        let wall = t0.elapsed().as_secs_f64();
        let mut made = Vec::new();
        let mut first_err = None;
        for r in spawned {
            match r {
                Ok(m) => made.push(m),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        let spawn = Sample {
            lat: made.iter().map(|m| m.2).collect(),
            wall,
        };
        let t0 = Instant::now();
        let destroyed = join_all(
            made.iter()
                .map(|(n, d, _)| self.destroy_one(n, d.as_deref())),
        )
        .await;
        let wall = t0.elapsed().as_secs_f64();
        if let Some(e) = first_err {
            return Err(e);
        }
        let destroy = Sample {
            lat: destroyed.into_iter().collect::<Res<Vec<_>>>()?,
            wall,
        };
        Ok((spawn, destroy))
    }
}

async fn del_ports(devs: &[String]) {
    for dev in devs {
        let _ = tokio::process::Command::new("ovs-vsctl")
            .args([
                &format!("--db={}", ovsdb()),
                "--timeout=10",
                "--",
                "--if-exists",
                "del-port",
                dev,
            ])
            .output()
            .await;
    }
}

/// An OVS VIF as Nova's network_info carries it, address n in 198.18.200.0/21.
fn vif_json(n: usize) -> Value {
    let h = 2 + n % 2040;
    let port = uuid::Uuid::new_v4().to_string();
    json!({
        "id": port, "address": format!("fa:16:3e:7e:{:02x}:{:02x}", h >> 8, h & 255),
        "type": "ovs", "devname": format!("tap{}", &port[..11]), "ovs_interfaceid": port,
        "active": true, "details": {"port_filter": true, "bridge_name": BRIDGE},
        "network": {"id": "ndbench", "bridge": BRIDGE, "label": "ndbench", "meta": {"mtu": 1400},
            "subnets": [{"cidr": "198.18.200.0/21", "version": 4,
                "gateway": {"address": "198.18.200.1", "type": "gateway"},
                "ips": [{"address": format!("198.18.{}.{}", 200 + h / 256, h % 256), "type": "fixed"}],
                "routes": [], "dns": []}]}
    })
}

/// Removes every container and port of this run that the raw paths left.
fn raw_cleanup(
    rt: &tokio::runtime::Runtime,
    docker: &Docker,
    run_id: &str,
    created: &Mutex<Created>,
) {
    let (ports, mut names) = {
        let mut c = created.lock().unwrap_or_else(|p| p.into_inner());
        (
            std::mem::take(&mut c.ports),
            std::mem::take(&mut c.containers),
        )
    };
    rt.block_on(async {
        // The run's labels also find what was created but not yet recorded,
        // and a driver instance whose spawn ended after its worker's cleanup.
        for label in [
            format!("ndbench.run={run_id}"),
            format!("org.openstack.nova.project-id=ndbench-{run_id}"),
        ] {
            let opts = ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([("label".to_string(), vec![label])])),
                ..Default::default()
            };
            if let Ok(list) = docker.list_containers(Some(opts)).await {
                names.extend(list.into_iter().filter_map(|s| s.id));
            }
        }
        let rm = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        for n in &names {
            let _ = docker.remove_container(n, Some(rm.clone())).await;
        }
        del_ports(&ports).await;
    });
}

/// Boots of a main process that exits at once through the service's own
/// spawn (library, default `startup_check_seconds`, no VIF: nothing hides
/// the window), `count` at once: how many failed as they must (caught) and
/// how many went ACTIVE (missed, left to the lifecycle event).
async fn service_exits(docker: &Docker, run_id: &str, count: usize) -> Res<(usize, usize)> {
    let mut raw = novadock::config::RawConfig::default();
    raw.merge_str(
        "[DEFAULT]\nhost = ndbench\n[novadock]\nallow_local_images = true\n",
        Path::new("ndbench.conf"),
    )
    .map_err(|e| e.to_string())?;
    let cfg = novadock::config::Config::from_raw(&raw).map_err(|e| e.to_string())?;
    let c = novadock::compute::Compute::new(docker.clone(), cfg).map_err(|e| e.to_string())?;
    let one = |_| {
        let c = c.clone();
        async move {
            let uuid = uuid::Uuid::new_v4().to_string();
            let req: novadock::model::SpawnRequest = serde_json::from_value(json!({
                "instance": {"uuid": uuid, "name": "ndbench-exit", "hostname": "ndbench",
                             "project_id": format!("ndbench-{run_id}"), "user_id": "ndbench",
                             "metadata": {}},
                "flavor": {"name": "m.bench", "memory_mb": 64, "vcpus": 1, "extra_specs": {}},
                "image": {"id": null, "name": IMAGE,
                          "properties": {"os_command_line": "sh -c 'echo dying-now; exit 3'"}},
            }))
            .map_err(|e| e.to_string())?;
            let caught = match c.spawn(&req).await {
                Err(novadock::error::Error::SpawnFailed(m)) if m.contains("dying-now") => true,
                Err(e) => return Err(format!("spawn: {e}")),
                Ok(_) => false,
            };
            let _ = c.destroy(&uuid, &[]).await;
            Ok::<bool, String>(caught)
        }
    };
    let got = join_all((0..count).map(one))
        .await
        .into_iter()
        .collect::<Res<Vec<bool>>>()?;
    let caught = got.iter().filter(|c| **c).count();
    Ok((caught, got.len() - caught))
}

/// Seconds since midnight of an RFC 3339 time with a fraction, as Docker
/// writes StartedAt and FinishedAt (UTC, `Z`).
fn seconds_of_day(t: &str) -> Option<f64> {
    let time = t.split_once('T')?.1.strip_suffix('Z')?;
    let mut parts = time.splitn(3, ':');
    let h = parts.next()?.parse::<f64>().ok()?;
    let m = parts.next()?.parse::<f64>().ok()?;
    let s = parts.next()?.parse::<f64>().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

fn pct(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((q / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[i.min(s.len() - 1)]
}

fn ms(s: f64) -> String {
    format!("{:.1}", s * 1000.0)
}

fn python_paths() -> Res<(PathBuf, PathBuf)> {
    let venv = repo().join(".venv/bin/python");
    let bench = repo().join("target/bench-venv/bin/python");
    if !bench.exists() {
        let st = Command::new(repo().join("benchmarks/setup.sh"))
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("benchmarks/setup.sh: {e}"))?;
        if !st.success() {
            return Err("benchmarks/setup.sh failed".into());
        }
    }
    if !venv.exists() {
        return Err(format!(
            "{} missing: run tools/setup-dev.sh",
            venv.display()
        ));
    }
    Ok((venv, bench))
}

struct Results {
    seq_spawn: BTreeMap<String, Vec<f64>>,
    seq_destroy: BTreeMap<String, Vec<f64>>,
    /// variant -> level -> (spawn, destroy)
    bursts: BTreeMap<String, BTreeMap<usize, (Sample, Sample)>>,
    scale: Value,
    /// concurrency -> [start, seen by the service, seen by Docker, the
    /// process's life] per boot
    exits: BTreeMap<usize, Vec<[f64; 4]>>,
    /// concurrency -> (caught, missed) by the service's start-up check
    caught: BTreeMap<usize, (usize, usize)>,
}

fn run(
    o: &Opts,
    rt: &tokio::runtime::Runtime,
    raw: &Raw,
    driver: &mut Worker,
    dock: &mut Worker,
) -> Res<Results> {
    let variants: Vec<&str> = RAW.iter().chain(&DOCKER).chain(&DRIVER).copied().collect();
    let mut res = Results {
        seq_spawn: BTreeMap::new(),
        seq_destroy: BTreeMap::new(),
        bursts: BTreeMap::new(),
        scale: Value::Null,
        exits: BTreeMap::new(),
        caught: BTreeMap::new(),
    };
    // One (spawn, destroy) of `variant` with `count` at once.
    let mut one = |variant: &str, count: usize| -> Res<(Sample, Sample)> {
        if RAW.contains(&variant) {
            return rt.block_on(raw.burst(variant, count));
        }
        let w = if DOCKER.contains(&variant) {
            &mut *dock
        } else {
            &mut *driver
        };
        let s = w.call(json!({"op": "spawn", "variant": variant, "count": count}))?;
        let d = w.call(json!({"op": "destroy", "variant": variant}))?;
        Ok((Sample::from_json(&s), Sample::from_json(&d)))
    };
    eprintln!(
        "sequential: {} boots of each of {} paths",
        o.boots,
        variants.len()
    );
    for i in 0..o.boots {
        // Rotating the order spreads any warm-up or drift over every path.
        for k in 0..variants.len() {
            let v = variants[(i + k) % variants.len()];
            let (s, d) = one(v, 1)?;
            res.seq_spawn.entry(v.into()).or_default().extend(s.lat);
            res.seq_destroy.entry(v.into()).or_default().extend(d.lat);
        }
    }
    for (j, &level) in o.levels.iter().enumerate() {
        eprintln!("burst: {level} at once");
        for k in 0..variants.len() {
            let v = variants[(j + k) % variants.len()];
            let r = one(v, level)?;
            res.bursts.entry(v.into()).or_default().insert(level, r);
        }
    }
    // Processes that exit at once: one at a time, then the top level at once.
    let top = o.levels.iter().copied().max().unwrap_or(1);
    eprintln!("exits: {} one at a time, {top} at once", o.boots);
    for _ in 0..o.boots {
        let e = rt.block_on(raw.exit_burst(1))?;
        res.exits.entry(1).or_default().extend(e);
    }
    if top > 1 {
        res.exits.insert(top, rt.block_on(raw.exit_burst(top))?);
    }
    eprintln!(
        "exits through the service: {} one at a time, {top} at once",
        o.boots
    );
    let mut one_by_one = (0, 0);
    for _ in 0..o.boots {
        let (c, m) = rt.block_on(service_exits(&raw.docker, &raw.run_id, 1))?;
        one_by_one = (one_by_one.0 + c, one_by_one.1 + m);
    }
    res.caught.insert(1, one_by_one);
    if top > 1 {
        res.caught.insert(
            top,
            rt.block_on(service_exits(&raw.docker, &raw.run_id, top))?,
        );
    }
    if o.instances > 0 {
        eprintln!("scale: {} instances through the service", o.instances);
        // A failure here keeps the figures measured so far.
        res.scale = scale(o, rt, raw, driver).unwrap_or_else(|e| {
            eprintln!("scale test failed: {e}");
            json!({"error": e})
        });
    }
    Ok(res)
}

fn scale(o: &Opts, rt: &tokio::runtime::Runtime, raw: &Raw, driver: &mut Worker) -> Res<Value> {
    let calls = 2000.min(o.instances * 20).max(200);
    let mut scale = driver.call(json!({
        "op": "scale", "n": o.instances, "get_info_calls": calls,
        "repeats": if o.quick { 3 } else { 5 }, "parallel": 8,
    }));
    if scale.is_ok() {
        // Raw reference while the instances run: what Docker answers itself.
        let raw_q = rt.block_on(raw_queries(&raw.docker, calls));
        if let (Ok(s), Ok((list_s, inspect))) = (scale.as_mut(), raw_q) {
            s["raw_list_s"] = json!(list_s);
            s["raw_inspect_p50_s"] = json!(pct(&inspect, 50.0));
            s["raw_inspect_p99_s"] = json!(pct(&inspect, 99.0));
        }
    }
    // Always: the worker destroys what it booted, also after a failed boot.
    let down = driver.call(json!({"op": "scale_down"}))?;
    let mut scale = scale?;
    scale["destroy_all_s"] = down["destroy_all_s"].clone();
    scale["rss_after_kib"] = down["rss_after_kib"].clone();
    Ok(scale)
}

/// Docker's own list of the service's containers and inspect p50/p99 of them.
async fn raw_queries(docker: &Docker, calls: usize) -> Res<(f64, Vec<f64>)> {
    let opts = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec!["org.openstack.nova.instance-uuid".to_string()],
        )])),
        ..Default::default()
    };
    let mut lists = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let l = docker
            .list_containers(Some(opts.clone()))
            .await
            .map_err(|e| e.to_string())?;
        lists.push(t0.elapsed().as_secs_f64());
        ids = l.into_iter().filter_map(|s| s.id).collect::<Vec<_>>();
    }
    let mut lat = Vec::new();
    for i in 0..calls {
        let id = &ids[(i * 7919) % ids.len().max(1)];
        let t0 = Instant::now();
        let _ = docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await;
        lat.push(t0.elapsed().as_secs_f64());
    }
    Ok((pct(&lists, 50.0), lat))
}

fn print_and_save(o: &Opts, res: &Results, hello: Value) -> Res<()> {
    let base = |v: &str| res.seq_spawn.get(v).map(|l| pct(l, 50.0));
    let based = |v: &str| res.seq_destroy.get(v).map(|l| pct(l, 50.0));
    let ratio = |x: f64, b: Option<f64>| b.map_or("-".into(), |b| format!("{:.2}x", x / b));
    println!(
        "\nSequential, one at a time ({} each; ms; ratios of medians)",
        o.boots
    );
    println!(
        "{:<22} {:>9} {:>9} {:>7} {:>9} | {:>11} {:>9} {:>7} {:>9}",
        "path",
        "spawn p50",
        "p95",
        "x raw",
        "x raw+vif",
        "destroy p50",
        "p95",
        "x raw",
        "x raw+vif"
    );
    let order: Vec<&str> = RAW.iter().chain(&DOCKER).chain(&DRIVER).copied().collect();
    let mut seq = serde_json::Map::new();
    for v in &order {
        let (Some(s), Some(d)) = (res.seq_spawn.get(*v), res.seq_destroy.get(*v)) else {
            continue;
        };
        let (s50, d50) = (pct(s, 50.0), pct(d, 50.0));
        println!(
            "{:<22} {:>9} {:>9} {:>7} {:>9} | {:>11} {:>9} {:>7} {:>9}",
            v,
            ms(s50),
            ms(pct(s, 95.0)),
            ratio(s50, base("raw")),
            ratio(s50, base("raw+vif")),
            ms(d50),
            ms(pct(d, 95.0)),
            ratio(d50, based("raw")),
            ratio(d50, based("raw+vif")),
        );
        seq.insert(
            v.to_string(),
            json!({"spawn": s, "destroy": d, "spawn_p50": s50, "spawn_p95": pct(s, 95.0),
                   "destroy_p50": d50, "destroy_p95": pct(d, 95.0)}),
        );
    }
    println!("\nBursts: N spawns at once, then N destroys at once (wall time of each burst, ms)");
    print!("{:<22}", "path");
    for l in &o.levels {
        print!(
            " {:>10} {:>10}",
            format!("spawn@{l}"),
            format!("destroy@{l}")
        );
    }
    println!();
    let mut bursts = serde_json::Map::new();
    for v in &order {
        let Some(by) = res.bursts.get(*v) else {
            continue;
        };
        print!("{v:<22}");
        let mut m = serde_json::Map::new();
        for l in &o.levels {
            if let Some((s, d)) = by.get(l) {
                print!(" {:>10} {:>10}", ms(s.wall), ms(d.wall));
                m.insert(
                    l.to_string(),
                    json!({"spawn_wall": s.wall, "spawn_p50": pct(&s.lat, 50.0),
                           "spawn_p95": pct(&s.lat, 95.0), "destroy_wall": d.wall,
                           "destroy_p50": pct(&d.lat, 50.0), "destroy_p95": pct(&d.lat, 95.0)}),
                );
            }
        }
        println!();
        bursts.insert(v.to_string(), Value::Object(m));
    }
    if res.scale.get("error").is_none() && !res.scale.is_null() {
        let s = &res.scale;
        let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        println!("\n{} instances through the service", s["n"]);
        println!(
            "  boot all {:.1} s, destroy all {:.1} s (8 at a time)",
            f("boot_all_s"),
            f("destroy_all_s")
        );
        println!(
            "  list_instances {} ms (docker list {} ms)",
            ms(f("list_instances_s")),
            ms(f("raw_list_s"))
        );
        println!(
            "  get_info p50 {} ms p99 {} ms (target p99 < 1 ms; docker inspect p50 {} p99 {} ms)",
            ms(f("get_info_p50_s")),
            ms(f("get_info_p99_s")),
            ms(f("raw_inspect_p50_s")),
            ms(f("raw_inspect_p99_s"))
        );
        println!(
            "  get_available_resource {} ms",
            ms(f("get_available_resource_s"))
        );
        println!(
            "  service RSS: at start {:.1} MiB (target < 30), at {} {:.1} MiB (target < 100), after destroy {:.1} MiB",
            hello["driver"]["info"]["scale_rss_start_kib"]
                .as_f64()
                .unwrap_or(f64::NAN)
                / 1024.0,
            s["n"],
            f("rss_at_n_kib") / 1024.0,
            f("rss_after_kib") / 1024.0
        );
    }
    println!("\nA main process that exits at once: ms after start returned (p50 / p95 / max)");
    let mut exits = serde_json::Map::new();
    for (level, e) in &res.exits {
        let col = |i: usize| e.iter().map(|x| x[i]).collect::<Vec<_>>();
        let (start, seen, dock, life) = (col(0), col(1), col(2), col(3));
        let line = |v: &[f64]| {
            format!(
                "{} / {} / {}",
                ms(pct(v, 50.0)),
                ms(pct(v, 95.0)),
                ms(pct(v, 100.0))
            )
        };
        println!(
            "  {level} at once ({} boots): lived {}; service sees it {}, Docker's wait {}; start took {}",
            e.len(),
            line(&life),
            line(&seen),
            line(&dock),
            line(&start)
        );
        exits.insert(
            level.to_string(),
            json!({"start": start, "seen": seen, "docker": dock, "life": life}),
        );
    }
    let mut caught = serde_json::Map::new();
    for (level, (c, m)) in &res.caught {
        println!(
            "  through the service, {level} at once: {c} boots failed as they must, {m} went ACTIVE"
        );
        caught.insert(level.to_string(), json!({"caught": c, "missed": m}));
    }
    let out = json!({
        "quick": o.quick, "boots": o.boots, "levels": o.levels, "instances": o.instances,
        "command": std::env::args().collect::<Vec<_>>(),
        "workers": hello, "sequential": seq, "bursts": bursts, "scale": res.scale,
        "exits": exits, "caught": caught,
    });
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    std::fs::write(&o.out, text).map_err(|e| format!("{}: {e}", o.out.display()))?;
    eprintln!("\nresults: {}", o.out.display());
    Ok(())
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("compare: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let docker = rt
        .block_on(async {
            Docker::connect_with_local_defaults()?
                .negotiate_version()
                .await
        })
        .expect("cannot reach dockerd");
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let created = Arc::new(Mutex::new(Created::default()));
    let worker_pids = Arc::new(Mutex::new(Vec::<u32>::new()));

    // SIGINT/SIGTERM: workers clean up on their own signal; the raw leftovers here.
    {
        let (docker, run_id, created, pids) = (
            docker.clone(),
            run_id.clone(),
            created.clone(),
            worker_pids.clone(),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("signal runtime");
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
                let mut int = signal(SignalKind::interrupt()).expect("SIGINT");
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            });
            eprintln!("\ninterrupted: removing what this run created");
            for pid in pids.lock().expect("pids").iter() {
                // SAFETY: plain kill(2) of a child this process started.
                unsafe { libc::kill(*pid as i32, libc::SIGTERM) };
            }
            // Wait for the workers to remove theirs (1000 instances take minutes).
            let deadline = Instant::now() + std::time::Duration::from_secs(900);
            for pid in pids.lock().expect("pids").iter() {
                // SAFETY: waitpid(2) on a child of this process, no status kept.
                while unsafe { libc::waitpid(*pid as i32, std::ptr::null_mut(), libc::WNOHANG) }
                    == 0
                    && Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
            raw_cleanup(&rt, &docker, &run_id, &created);
            std::process::exit(130);
        });
    }

    let outcome = (|| -> Res<()> {
        let (venv, bench) = python_paths()?;
        let raw = Raw {
            docker: docker.clone(),
            run_id: run_id.clone(),
            created: created.clone(),
            counter: Mutex::new(0),
        };
        // The driver worker first: it starts the tests' Open vSwitch if needed.
        let mut driver = Worker::start(&venv, "driver", &run_id)?;
        worker_pids.lock().expect("pids").push(driver.child.id());
        let mut dock = Worker::start(&bench, "docker", &run_id)?;
        worker_pids.lock().expect("pids").push(dock.child.id());
        let hello = json!({"driver": driver.hello, "docker": dock.hello, "run_id": run_id});
        let res = run(&o, &rt, &raw, &mut driver, &mut dock);
        driver.finish();
        dock.finish();
        print_and_save(&o, &res?, hello)?;
        if o.docs {
            let st = Command::new(&bench)
                .arg(repo().join("benchmarks/spawn_report.py"))
                .arg(&o.out)
                .status()
                .map_err(|e| format!("spawn_report.py: {e}"))?;
            if !st.success() {
                return Err("spawn_report.py failed".into());
            }
        }
        Ok(())
    })();
    raw_cleanup(&rt, &docker, &run_id, &created);
    if let Err(e) = outcome {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

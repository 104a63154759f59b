//! The compute-driver contract over Docker: lifecycle, power state, console
//! and host resources. Every answer comes from Docker or the host itself.

pub mod config_drive;
pub mod console;
pub mod diagnostics;
pub mod events;
pub mod interfaces;
pub mod lifecycle;
pub mod migration;
pub mod power_state;
pub mod reconcile;
pub mod resources;
pub mod snapshot;
pub mod startup_watch;
pub mod state;
pub mod stop_signal;

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::ListContainersOptions;

use crate::config::Config;
use crate::docker::engine_features::EngineFeatures;
use crate::docker::{is_not_found, naming};
use crate::error::ApiError;
use crate::image::Images;
use crate::model::InstanceInfo;
use crate::network::Network;
use crate::network::ovs::Ovs;
use state::Tracked;

#[derive(Clone)]
pub struct Compute {
    docker: Docker,
    config: Config,
    network: Network,
    states: Arc<state::States>,
    images: Images,
    /// The Nova host this service serves: its containers carry it as a label.
    host: String,
    /// What the engine can enforce, read once from `docker info`.
    features: Arc<tokio::sync::OnceCell<EngineFeatures>>,
    /// Set when the engine refused a disk limit its driver should take.
    disk_limits_refused: Arc<std::sync::atomic::AtomicBool>,
}

impl Compute {
    pub fn new(docker: Docker, config: Config) -> Result<Self, ApiError> {
        let n = &config.novadock;
        let network = Network {
            ovs: Ovs {
                db: n.ovsdb_connection.clone(),
                timeout_secs: n.ovs_vsctl_timeout,
                owner: config.nova.host_name(),
            },
            default_bridge: n.ovs_bridge.clone(),
            nova_default_route: n.nova_default_route,
        };
        let host = config.nova.host_name();
        Ok(Compute {
            images: Images::new(
                docker.clone(),
                std::time::Duration::from_secs(config.novadock.glance_read_timeout),
            )?,
            docker,
            config,
            network,
            states: Arc::new(state::States::default()),
            host,
            features: Arc::new(tokio::sync::OnceCell::new()),
            disk_limits_refused: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Whether spawns set the flavor's root disk as a limit.
    pub async fn disk_limits_work(&self) -> Result<bool, ApiError> {
        Ok(self.features().await?.disk_limits.is_ok()
            && !self
                .disk_limits_refused
                .load(std::sync::atomic::Ordering::Relaxed))
    }

    fn disk_limits_refused(&self) {
        self.disk_limits_refused
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine's tenant-isolation features (read on first use).
    pub async fn features(&self) -> Result<EngineFeatures, ApiError> {
        self.features
            .get_or_try_init(|| async { EngineFeatures::read(&self.docker).await })
            .await
            .cloned()
            .map_err(ApiError::from)
    }

    pub fn images(&self) -> &Images {
        &self.images
    }

    pub fn states(&self) -> &state::States {
        &self.states
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// `[DEFAULT] host`, else the hostname: read once, at start.
    pub fn host_name(&self) -> &str {
        &self.host
    }

    /// Docker's label filter for this host's containers.
    pub fn host_label_filter(&self) -> String {
        format!("{}={}", naming::LABEL_HOST, self.host)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The instance's container, or InstanceNotFound.
    pub async fn inspect(&self, uuid: &str) -> Result<ContainerInspectResponse, ApiError> {
        match self
            .docker
            .inspect_container(&naming::container_name(uuid), None)
            .await
        {
            Ok(c) if label(&c, naming::LABEL_UUID) == Some(uuid) => Ok(c),
            Ok(_) => Err(ApiError::InstanceNotFound(uuid.to_string())),
            Err(e) if is_not_found(&e) => Err(ApiError::InstanceNotFound(uuid.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// From the event-fed map when it is in sync with Docker, else from Docker.
    pub async fn get_info(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        if self.states.is_synced() {
            return self
                .states
                .get(uuid)
                .ok_or_else(|| ApiError::InstanceNotFound(uuid.to_string()));
        }
        self.refresh(uuid).await
    }

    /// Asks Docker and records the answer: what an operation returns.
    pub async fn refresh(&self, uuid: &str) -> Result<InstanceInfo, ApiError> {
        match self.inspect(uuid).await {
            Ok(c) => {
                let t = tracked(&c);
                let i = t.info.clone();
                self.states.set(t);
                Ok(i)
            }
            Err(ApiError::InstanceNotFound(u)) => {
                self.states.remove(uuid, None, true);
                Err(ApiError::InstanceNotFound(u))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self) -> Result<Vec<InstanceInfo>, ApiError> {
        if self.states.is_synced() {
            return Ok(self.states.list());
        }
        let mut out: Vec<InstanceInfo> = self.containers().await?.iter().map(info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uuid.cmp(&b.uuid)));
        Ok(out)
    }

    /// Every container that carries an instance uuid label, a resize's
    /// set-aside one included, of every host sharing this engine: one Docker
    /// call, labels included.
    pub async fn labelled_containers(&self) -> Result<Vec<ContainerSummary>, ApiError> {
        self.list_labelled(vec![naming::LABEL_UUID.to_string()])
            .await
    }

    async fn list_labelled(&self, labels: Vec<String>) -> Result<Vec<ContainerSummary>, ApiError> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), labels)])),
            ..Default::default()
        };
        Ok(self.docker.list_containers(Some(opts)).await?)
    }

    /// The listing of every instance's own container on this host (not one
    /// set aside by a resize, nor another host's).
    pub async fn container_summaries(&self) -> Result<Vec<ContainerSummary>, ApiError> {
        let mut summaries = self
            .list_labelled(vec![
                naming::LABEL_UUID.to_string(),
                self.host_label_filter(),
            ])
            .await?;
        summaries.retain(|s| {
            s.labels
                .as_ref()
                .and_then(|l| l.get(naming::LABEL_UUID))
                .is_some_and(|u| {
                    let name = format!("/{}", naming::container_name(u));
                    s.names.as_ref().is_some_and(|n| n.contains(&name))
                })
        });
        Ok(summaries)
    }

    /// Every instance's own container, inspected.
    pub async fn containers(&self) -> Result<Vec<ContainerInspectResponse>, ApiError> {
        let summaries = self.container_summaries().await?;
        let mut out = Vec::with_capacity(summaries.len());
        for s in summaries {
            let Some(id) = s.id else { continue };
            // The listing lacks the CPU weight that tells SUSPENDED from
            // PAUSED, so each container is inspected.
            match self.docker.inspect_container(&id, None).await {
                Ok(c) => out.push(c),
                // Removed between the listing and the inspection.
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

pub fn label<'a>(c: &'a ContainerInspectResponse, key: &str) -> Option<&'a str> {
    c.config
        .as_ref()?
        .labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The pid of the container's main process while it has one (running or
/// frozen): what a network namespace is entered through.
pub fn running_pid(c: &ContainerInspectResponse) -> Option<u32> {
    if !power_state::is_up(&info(c).power_state) {
        return None;
    }
    c.state
        .as_ref()
        .and_then(|s| s.pid)
        .filter(|p| *p > 0)
        .and_then(|p| u32::try_from(p).ok())
}

pub fn info(c: &ContainerInspectResponse) -> InstanceInfo {
    InstanceInfo {
        uuid: label(c, naming::LABEL_UUID).unwrap_or_default().to_string(),
        name: label(c, naming::LABEL_NAME).unwrap_or_default().to_string(),
        power_state: power_state::of(c),
        container_id: c.id.clone().unwrap_or_default(),
    }
}

/// The vCPUs a container's flavor claims, from its label's value.
pub fn claimed_vcpus(label_value: Option<&str>) -> i64 {
    label_value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// What the power-state map keeps of a container.
pub fn tracked(c: &ContainerInspectResponse) -> Tracked {
    Tracked {
        info: info(c),
        vcpus: claimed_vcpus(label(c, naming::LABEL_VCPUS)),
    }
}

//! Containers in the engine: create, start, stop, signal, freeze, update,
//! rename, wait, read logs and usage, commit, remove, inspect, list.

use std::collections::HashMap;
use std::future::Future;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerUpdateBody,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, RenameContainerOptions, StatsOptions,
    StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

use super::{Engine, EngineError};

/// A container as the service reads it from the engine.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub id: Option<String>,
    pub labels: HashMap<String, String>,
    /// The signal a stop sends, when the image or the spec names one.
    pub stop_signal: Option<String>,
    /// Its processes; None when the engine reported no state.
    pub state: Option<RunState>,
    /// The host file Docker bind-mounts as the container's resolv.conf.
    pub resolv_conf_path: Option<String>,
    /// The memory limit in bytes, when one is set.
    pub memory_limit: Option<i64>,
    /// The CPU weight it runs with now.
    pub cpu_shares: Option<i64>,
}

/// The state of a container's processes.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    /// Docker's word for the state; None when it gave none.
    pub status: Option<Status>,
    pub running: bool,
    pub paused: bool,
    pub oom_killed: bool,
    /// The main process, while there is one.
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// Docker's states of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Stopping,
}

/// One container as listed: no state, but its names and image.
#[derive(Debug, Clone, Default)]
pub struct ContainerSummary {
    pub id: Option<String>,
    /// Its names, each with a leading `/`.
    pub names: Vec<String>,
    pub labels: HashMap<String, String>,
    pub image_id: Option<String>,
}

impl From<ContainerInspectResponse> for Container {
    fn from(c: ContainerInspectResponse) -> Self {
        let (labels, stop_signal) = match c.config {
            Some(cfg) => (cfg.labels.unwrap_or_default(), cfg.stop_signal),
            None => (HashMap::new(), None),
        };
        let (memory_limit, cpu_shares) = match c.host_config {
            Some(h) => (h.memory, h.cpu_shares),
            None => (None, None),
        };
        Container {
            id: c.id,
            labels,
            stop_signal,
            state: c.state.map(|s| RunState {
                status: s.status.and_then(|st| match st {
                    ContainerStateStatusEnum::CREATED => Some(Status::Created),
                    ContainerStateStatusEnum::RUNNING => Some(Status::Running),
                    ContainerStateStatusEnum::PAUSED => Some(Status::Paused),
                    ContainerStateStatusEnum::RESTARTING => Some(Status::Restarting),
                    ContainerStateStatusEnum::REMOVING => Some(Status::Removing),
                    ContainerStateStatusEnum::EXITED => Some(Status::Exited),
                    ContainerStateStatusEnum::DEAD => Some(Status::Dead),
                    ContainerStateStatusEnum::STOPPING => Some(Status::Stopping),
                    ContainerStateStatusEnum::EMPTY => None,
                }),
                running: s.running.unwrap_or(false),
                paused: s.paused.unwrap_or(false),
                oom_killed: s.oom_killed.unwrap_or(false),
                pid: s.pid,
                exit_code: s.exit_code,
                started_at: s.started_at,
                finished_at: s.finished_at,
            }),
            resolv_conf_path: c.resolv_conf_path,
            memory_limit,
            cpu_shares,
        }
    }
}

/// A running container's resource use at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_time_ns: u64,
    pub memory_bytes: u64,
}

/// What `commit` records in the new image.
pub struct Commit<'a> {
    pub container: &'a str,
    pub repo: &'a str,
    pub tag: &'a str,
    pub comment: String,
    /// Freeze the processes while committing, for a consistent filesystem.
    pub pause: bool,
}

impl Engine {
    pub async fn create_container(
        &self,
        name: &str,
        spec: ContainerCreateBody,
    ) -> Result<(), EngineError> {
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        self.docker.create_container(Some(opts), spec).await?;
        Ok(())
    }

    pub async fn start_container(&self, name: &str) -> Result<(), EngineError> {
        Ok(self.docker.start_container(name, None).await?)
    }

    /// Docker's stop: the stop signal, then SIGKILL after `grace_secs`.
    pub async fn stop_container(&self, name: &str, grace_secs: i32) -> Result<(), EngineError> {
        let opts = StopContainerOptions {
            t: Some(grace_secs),
            signal: None,
        };
        Ok(self.docker.stop_container(name, Some(opts)).await?)
    }

    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let opts = KillContainerOptions {
            signal: signal.to_string(),
        };
        Ok(self.docker.kill_container(name, Some(opts)).await?)
    }

    pub async fn pause_container(&self, name: &str) -> Result<(), EngineError> {
        Ok(self.docker.pause_container(name).await?)
    }

    pub async fn unpause_container(&self, name: &str) -> Result<(), EngineError> {
        Ok(self.docker.unpause_container(name).await?)
    }

    /// Changes the container's CPU weight while it exists.
    pub async fn set_cpu_shares(&self, name: &str, shares: i64) -> Result<(), EngineError> {
        let update = ContainerUpdateBody {
            cpu_shares: Some(shares),
            ..Default::default()
        };
        self.docker.update_container(name, update).await?;
        Ok(())
    }

    pub async fn rename_container(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let opts = RenameContainerOptions {
            name: new_name.to_string(),
        };
        Ok(self.docker.rename_container(name, opts).await?)
    }

    /// Removes a container with its anonymous volumes, running or not. A
    /// missing container, or one whose removal is already under way, counts
    /// as removed.
    pub async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match EngineError::from(e) {
                EngineError::NotFound(_) => Ok(()),
                EngineError::Conflict(m) if m.contains("already in progress") => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn inspect_container(&self, name_or_id: &str) -> Result<Container, EngineError> {
        Ok(self
            .docker
            .inspect_container(name_or_id, None)
            .await?
            .into())
    }

    /// Every container (running or not) carrying all of these labels
    /// (`key` or `key=value`); every container of the engine without any.
    pub async fn list_containers(
        &self,
        labels: Vec<String>,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let filters = if labels.is_empty() {
            None
        } else {
            Some(HashMap::from([("label".to_string(), labels)]))
        };
        let opts = ListContainersOptions {
            all: true,
            filters,
            ..Default::default()
        };
        Ok(self
            .docker
            .list_containers(Some(opts))
            .await?
            .into_iter()
            .map(|s| ContainerSummary {
                id: s.id,
                names: s.names.unwrap_or_default(),
                labels: s.labels.unwrap_or_default(),
                image_id: s.image_id,
            })
            .collect())
    }

    /// Resolves when the container's main process has exited (or the wait
    /// could not go on). Asked for now, so an exit right after a start that
    /// follows is not missed.
    pub fn wait_exit(&self, name: &str) -> impl Future<Output = ()> + Send + 'static {
        let mut wait = self
            .docker
            .wait_container(name, None::<WaitContainerOptions>);
        async move {
            // A non-zero exit comes as an error item: it is an exit all the same.
            let _ = wait.next().await;
        }
    }

    /// The last `lines` lines of stdout and stderr as bytes, and how many
    /// lines came.
    pub async fn logs_tail(
        &self,
        name: &str,
        lines: usize,
    ) -> Result<(Vec<u8>, usize), EngineError> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(name, Some(opts));
        let mut buf: Vec<u8> = Vec::new();
        let mut count = 0usize;
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?.into_bytes());
            count += 1;
        }
        Ok((buf, count))
    }

    /// One reading of a running container's CPU time and memory use; None
    /// when the engine gave none.
    pub async fn usage(&self, name: &str) -> Result<Option<Usage>, EngineError> {
        let opts = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stats = self.docker.stats(name, Some(opts));
        let Some(s) = stats.next().await else {
            return Ok(None);
        };
        let s = s?;
        Ok(Some(Usage {
            cpu_time_ns: s
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            memory_bytes: s.memory_stats.and_then(|m| m.usage).unwrap_or(0),
        }))
    }

    /// Commits a container's filesystem as an image tagged `repo:tag`;
    /// returns the image id.
    pub async fn commit_container(&self, c: Commit<'_>) -> Result<String, EngineError> {
        let opts = CommitContainerOptions {
            container: Some(c.container.to_string()),
            repo: Some(c.repo.to_string()),
            tag: Some(c.tag.to_string()),
            comment: Some(c.comment),
            pause: c.pause,
            ..Default::default()
        };
        let committed = self
            .docker
            .commit_container(opts, bollard::models::ContainerConfig::default())
            .await?;
        Ok(committed.id)
    }
}

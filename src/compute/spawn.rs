//! Spawn: a new instance's container from Nova's request, booted with its
//! VIFs plugged. A failed spawn leaves nothing: no container, drive or VIF.

use super::{Compute, config_drive};
use crate::docker::container_spec;
use crate::docker::{EngineError, naming};
use crate::error::Error;
use crate::model::{InstanceInfo, SpawnRequest};

impl Compute {
    /// The local image for a spawn: from Glance (downloaded once, access
    /// checked with the user's token). Only a move's own image (set by the
    /// service) or, with `allow_local_images`, the Glance id's cached image
    /// or the image name as an engine reference, boot without Glance: a
    /// name is the user's to choose, and would reach any image of the engine.
    async fn resolve_image(&self, req: &SpawnRequest) -> Result<String, Error> {
        if let (Some(access), Some(id)) = (&req.glance, &req.image.id) {
            return Ok(self.images().fetch(access, id).await?.docker_id);
        }
        if let Some(local) = &req.image.local {
            return Ok(local.clone());
        }
        if !self.config().novadock.allow_local_images {
            return Err(Error::ImageNotFound(format!(
                "image {}: the boot carries no Glance access, and novadock boots only images it \
                 reads from Glance with the user's token ([novadock] allow_local_images is off)",
                req.image.id.as_deref().unwrap_or("without id"),
            )));
        }
        let mut candidates = Vec::new();
        if let Some(id) = &req.image.id {
            candidates.push(naming::glance_image_reference(id));
        }
        if let Some(name) = req.image.name.as_ref().filter(|n| !n.is_empty()) {
            candidates.push(name.clone());
        }
        for reference in &candidates {
            match self.docker().inspect_image(reference).await {
                // Pin the exact image so a retag during the boot changes nothing.
                Ok(image) => return Ok(image.id.unwrap_or_else(|| reference.clone())),
                // A malformed reference is as absent as a missing one.
                Err(EngineError::NotFound(_) | EngineError::Invalid(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::ImageNotFound(format!(
            "image {} ({}) is not in this host's Docker engine",
            req.image.id.as_deref().unwrap_or("without id"),
            req.image.name.as_deref().unwrap_or("without name"),
        )))
    }

    pub async fn spawn(&self, req: &SpawnRequest) -> Result<InstanceInfo, Error> {
        let uuid = &req.instance.uuid;
        let begun = std::time::Instant::now();
        // Every VIF is checked before anything is created.
        let vifs = self.network().plan(&req.network_info)?;
        // An instance that has its container keeps it, and its drive.
        match self.inspect(uuid).await {
            Ok(_) => return Err(Error::InstanceExists(uuid.clone())),
            Err(Error::InstanceNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let drive = if req.config_drive.is_empty() {
            None
        } else {
            let files = config_drive::decode(&req.config_drive)?;
            Some((
                self.config_drive_dir(uuid)?,
                files,
                self.config_drive_gid().await?,
            ))
        };
        let image = self.resolve_image(req).await?;
        let disk_limit = self.disk_limits_work().await?;
        let drive_dir = match drive {
            Some((dir, files, gid)) => {
                config_drive::write(&dir, files, gid).await?;
                Some(dir)
            }
            None => None,
        };
        let name = naming::container_name(uuid);
        let build = |limit| {
            container_spec::build(
                req,
                &image,
                &self.config().novadock,
                self.host_name(),
                limit,
                drive_dir.as_deref(),
            )
        };
        let mut created = match build(disk_limit) {
            Ok(body) => self.docker().create_container(&name, body).await,
            Err(e) => {
                self.forget_config_drive(uuid).await;
                return Err(e);
            }
        };
        if let Err(refusal) = &created
            && disk_limit
            && refusal.refuses_disk_limit()
        {
            // overlay2 on xfs without pquota: boots go on, unlimited, and
            // the operator is told. Only the driver's own refusal counts (an
            // image's content can make other create errors name storage-opt),
            // and only once a boot without the limit worked.
            let message = refusal.message().unwrap_or_default().to_string();
            let retried = match build(false) {
                Ok(body) => self.docker().create_container(&name, body).await,
                Err(e) => {
                    self.forget_config_drive(uuid).await;
                    return Err(e);
                }
            };
            if retried.is_ok() {
                tracing::error!(
                    "the engine refused a root disk limit ({message}): root_gb is not enforced on this host"
                );
                self.disk_limits_refused();
            }
            created = retried;
        }
        if created.is_err() {
            self.forget_config_drive(uuid).await;
        }
        match created {
            Ok(_) => {}
            Err(EngineError::Conflict(_)) => {
                return Err(Error::InstanceExists(uuid.clone()));
            }
            Err(EngineError::Invalid(message)) => {
                return Err(Error::InvalidInput(format!(
                    "Docker refused the container: {message}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let created_after = begun.elapsed();
        let started = if req.power_on {
            self.start_and_check(uuid, &vifs).await
        } else {
            Ok(())
        };
        match started {
            Ok(()) => {
                // Where a boot's time goes (benchmarks/rally/breakdown.py
                // reads this beside Nova's own log lines).
                tracing::info!(
                    instance = %uuid,
                    created_ms = created_after.as_millis() as u64,
                    total_ms = begun.elapsed().as_millis() as u64,
                    vifs = vifs.len(),
                    "spawned"
                );
                self.refresh(uuid).await
            }
            Err(e) => {
                if let Err(cleanup) = self.remove_container(uuid).await {
                    tracing::error!(instance = %uuid, "failed spawn left its container: {cleanup}");
                }
                self.forget_config_drive(uuid).await;
                if let Err(cleanup) = self.network().unplug_instance(uuid, &vifs).await {
                    tracing::error!(instance = %uuid, "failed spawn left VIFs: {cleanup}");
                }
                Err(e)
            }
        }
    }
}

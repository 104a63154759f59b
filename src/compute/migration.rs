//! Resize and cold migration. The old container is kept aside, stopped, until
//! Nova confirms or reverts. On this host the new one boots from the old
//! one's filesystem with the new flavor; to another host that filesystem is
//! exported as an image (tagged `novadock-migration:<uuid>` by the service:
//! never a label, which an image's content sets) that travels through
//! Glance, and the destination boots it like any Glance image.
//!
//! A move is built from the instance's public operations (power_off, spawn,
//! power_on, refresh), `remove_container` (destroy.rs: the container alone,
//! where destroy would take the set-aside one too), `forget_config_drive`
//! (config_drive.rs), and what moves keep between steps (move_state.rs).

use super::Compute;
use super::move_state::aside_name;
use crate::docker::containers::Commit;
use crate::docker::{EngineError, naming};
use crate::error::Error;
use crate::image::copies;
use crate::model::{FetchedImage, InstanceInfo, SpawnRequest, VifEntry};

impl Compute {
    /// True when `dest` (Nova's destination host address) is this host.
    async fn is_this_host(&self, dest: &str) -> Result<bool, Error> {
        let host = self.host().await?;
        Ok(dest == host.host_ip || dest == host.nodename)
    }

    /// Stops the instance and sets its container aside; true when `dest` is
    /// this host (the resize then finishes here from the aside container).
    pub async fn migrate_out(
        &self,
        uuid: &str,
        dest: &str,
        timeout: u64,
        retry_interval: u64,
    ) -> Result<bool, Error> {
        let same_host = self.is_this_host(dest).await?;
        self.inspect(uuid).await?;
        self.power_off(uuid, timeout, retry_interval).await?;
        self.docker()
            .rename_container(&naming::container_name(uuid), &aside_name(uuid))
            .await?;
        self.states().remove(uuid, None, false);
        Ok(same_host)
    }

    /// Commits the aside container as the image of Glance image `glance_id`,
    /// for the destination host to boot.
    pub async fn export_migration_image(
        &self,
        uuid: &str,
        glance_id: &str,
    ) -> Result<FetchedImage, Error> {
        let image = match self
            .commit_for_glance(
                &aside_name(uuid),
                glance_id,
                format!("migration of Nova instance {uuid}"),
                false,
            )
            .await
        {
            Ok(image) => image,
            Err(EngineError::NotFound(_)) => {
                return Err(Error::InstanceNotFound(format!(
                    "{uuid} (no migration in progress)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        copies::tag_in(
            self.docker(),
            &image.docker_id,
            naming::MIGRATION_REPOSITORY,
            uuid,
        )
        .await?;
        Ok(image)
    }

    /// Boots the resized instance: the old filesystem, the new flavor.
    pub async fn finish_migration(&self, req: &SpawnRequest) -> Result<InstanceInfo, Error> {
        let uuid = &req.instance.uuid;
        // Checked before the commit, which spawn would otherwise follow
        // with the refusal of a VIF it cannot plug.
        self.network().plan(&req.network_info)?;
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let aside = aside_name(uuid);
        let tag = naming::resize_tag(uuid, n);
        let commit = Commit {
            container: &aside,
            repo: naming::RESIZE_REPOSITORY,
            tag: &tag,
            comment: format!("resize of Nova instance {uuid}"),
            // Docker's default: the set-aside container is stopped anyway.
            pause: true,
        };
        let committed = match self.images().docker().commit_container(commit).await {
            Ok(id) => id,
            Err(EngineError::NotFound(_)) => {
                return Err(Error::InstanceNotFound(format!(
                    "{uuid} (no resize in progress)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let mut from_old = req.clone();
        from_old.glance = None;
        from_old.image.id = None;
        from_old.image.local = Some(committed);
        self.spawn(&from_old).await
    }

    /// Nova confirmed the resize: the old container goes. The image of its
    /// filesystem stays while the new container runs on it (destroy removes it).
    pub async fn confirm_migration(&self, uuid: &str) -> Result<(), Error> {
        self.remove_aside(uuid).await?;
        // An earlier resize's image went with the old container.
        self.sweep_resize_images(uuid).await;
        match self.inspect(uuid).await {
            // Resized here: the new container uses the same VIFs.
            Ok(_) => Ok(()),
            // Moved to another host: its OVS ports and its config drive here
            // serve nothing now.
            Err(Error::InstanceNotFound(_)) => {
                self.network().unplug_moved_away(uuid).await?;
                self.forget_config_drive(uuid).await;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Nova reverted the resize: the new container goes, the old one comes back.
    pub async fn revert_migration(
        &self,
        uuid: &str,
        network_info: &[VifEntry],
        power_on: bool,
    ) -> Result<InstanceInfo, Error> {
        let aside = self.docker().inspect_container(&aside_name(uuid)).await;
        match aside {
            Ok(_) => {
                // Checked before the new container goes, not after.
                let vifs = self.network().plan(network_info)?;
                // The new container only: destroy would take the old one too.
                self.remove_container(uuid).await?;
                self.network().unplug_instance(uuid, &vifs).await?;
                self.docker()
                    .rename_container(&aside_name(uuid), &naming::container_name(uuid))
                    .await?;
                self.sweep_resize_images(uuid).await;
            }
            // Reverted before the new container existed, or already reverted.
            Err(EngineError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if power_on {
            self.power_on(uuid, network_info).await
        } else {
            self.refresh(uuid).await
        }
    }
}

//! What a resize or a migration keeps on this host between its steps, and
//! its removal: the old container set aside (`nova-<uuid>-resize`), the
//! images a same-host resize boots from (`novadock-resize:<uuid>.<n>`) and
//! the image exported for another host (`novadock-migration:<uuid>`).
//! Destroy and the moves both clean up through here.

use super::Compute;
use crate::docker::{EngineError, naming};
use crate::error::Error;
use crate::image::copies;

/// Where the old container waits while a resize is unconfirmed.
pub fn aside_name(uuid: &str) -> String {
    format!("nova-{uuid}-resize")
}

impl Compute {
    /// Removes this host's copy of the image exported for the instance's
    /// move (found by the service's own tag); returns the Glance ids it went
    /// as, for the caller to delete them there. An image a container runs
    /// on (the destination on the same engine) keeps its Glance tag.
    pub async fn forget_migration_images(&self, uuid: &str) -> Result<Vec<String>, Error> {
        let reference = naming::migration_reference(uuid);
        let image = match self.docker().inspect_image(&reference).await {
            Ok(i) => i,
            Err(EngineError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let prefix = format!("{}:", naming::GLANCE_REPOSITORY);
        let tags = image.repo_tags;
        let ids: Vec<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix(&prefix))
            .map(String::from)
            .collect();
        let in_use = match &image.id {
            Some(id) => copies::in_use(self.docker(), id).await?,
            None => true,
        };
        if !in_use {
            for id in &ids {
                copies::remove(self.docker(), &naming::glance_image_reference(id)).await?;
            }
        }
        // Never the image's last tag while it is in use: its Glance tag stays.
        copies::remove(self.docker(), &reference).await?;
        Ok(ids)
    }

    /// What a resize left of a destroyed instance.
    pub async fn forget_resize(&self, uuid: &str) {
        if let Err(e) = self.remove_aside(uuid).await {
            tracing::warn!(instance = uuid, "removing the resize's old container: {e}");
        }
        self.sweep_resize_images(uuid).await;
        if let Err(e) = self.forget_migration_images(uuid).await {
            tracing::warn!(instance = uuid, "removing the migration images: {e}");
        }
    }

    pub(super) async fn remove_aside(&self, uuid: &str) -> Result<(), Error> {
        Ok(self.docker().remove_container(&aside_name(uuid)).await?)
    }

    /// Housekeeping that never fails the operation it follows: a leftover
    /// image goes at the next sweep (or the instance's destroy).
    pub(super) async fn sweep_resize_images(&self, uuid: &str) {
        if let Err(e) = self.remove_unused_resize_images(uuid).await {
            tracing::warn!(instance = uuid, "removing the resize images: {e}");
        }
    }

    /// Removes the instance's resize images that no container uses any more
    /// (the one its container runs on stays); returns how many went.
    async fn remove_unused_resize_images(&self, uuid: &str) -> Result<usize, Error> {
        let prefix = format!("{}:{uuid}.", naming::RESIZE_REPOSITORY);
        let mut removed = 0;
        let images = self
            .docker()
            .list_images(Some(naming::resize_references(uuid)))
            .await?;
        for image in images {
            for tag in image.repo_tags.iter().filter(|t| t.starts_with(&prefix)) {
                match copies::remove(self.docker(), tag).await {
                    // Untagged; a parent of a later resize's image goes with it.
                    Ok(()) => removed += 1,
                    // In use by the instance's container (or its set-aside one).
                    Err(Error::InstanceInvalidState(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

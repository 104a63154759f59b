//! Snapshots: the container's filesystem committed (paused meanwhile) as an
//! image tagged for the Glance image Nova created.

use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptions;

use super::Compute;
use crate::docker::naming;
use crate::error::ApiError;
use crate::model::FetchedImage;

impl Compute {
    pub async fn snapshot(&self, uuid: &str, glance_id: &str) -> Result<FetchedImage, ApiError> {
        match self.inspect(uuid).await {
            Ok(_) => {}
            Err(ApiError::InstanceNotFound(_)) => {
                return Err(ApiError::InstanceNotRunning(uuid.to_string()));
            }
            Err(e) => return Err(e),
        }
        // A consistent filesystem: the processes are frozen while committing.
        self.commit_for_glance(
            &naming::container_name(uuid),
            glance_id,
            format!("snapshot of Nova instance {uuid}"),
            true,
        )
        .await
        .map_err(ApiError::from)
    }

    /// Commits `container` as the image of Glance image `glance_id`
    /// (`novadock-glance:<id>`), for a snapshot or a move to another host.
    pub(super) async fn commit_for_glance(
        &self,
        container: &str,
        glance_id: &str,
        comment: String,
        pause: bool,
    ) -> Result<FetchedImage, bollard::errors::Error> {
        let opts = CommitContainerOptions {
            container: Some(container.to_string()),
            repo: Some(naming::GLANCE_REPOSITORY.to_string()),
            tag: Some(glance_id.to_string()),
            comment: Some(comment),
            pause,
            ..Default::default()
        };
        let id = self
            .images()
            .docker()
            .commit_container(opts, ContainerConfig::default())
            .await?;
        Ok(FetchedImage {
            glance_id: glance_id.to_string(),
            docker_id: id.id,
            downloaded: false,
        })
    }
}

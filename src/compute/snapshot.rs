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
        let opts = CommitContainerOptions {
            container: Some(naming::container_name(uuid)),
            repo: Some(naming::GLANCE_REPOSITORY.to_string()),
            tag: Some(glance_id.to_string()),
            comment: Some(format!("snapshot of Nova instance {uuid}")),
            // A consistent filesystem: the processes are frozen while committing.
            pause: true,
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

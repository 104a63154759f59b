//! Snapshots: the container's filesystem committed (paused meanwhile) as an
//! image tagged for the Glance image Nova created.

use super::Compute;
use crate::docker::containers::Commit;
use crate::docker::{EngineError, naming};
use crate::error::Error;
use crate::model::FetchedImage;

impl Compute {
    pub async fn snapshot(&self, uuid: &str, glance_id: &str) -> Result<FetchedImage, Error> {
        match self.inspect(uuid).await {
            Ok(_) => {}
            Err(Error::InstanceNotFound(_)) => {
                return Err(Error::InstanceNotRunning(uuid.to_string()));
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
        .map_err(Error::from)
    }

    /// Commits `container` as the image of Glance image `glance_id`
    /// (`novadock-glance:<id>`), for a snapshot or a move to another host.
    pub(super) async fn commit_for_glance(
        &self,
        container: &str,
        glance_id: &str,
        comment: String,
        pause: bool,
    ) -> Result<FetchedImage, EngineError> {
        let commit = Commit {
            container,
            repo: naming::GLANCE_REPOSITORY,
            tag: glance_id,
            comment,
            pause,
        };
        let docker_id = self.images().docker().commit_container(commit).await?;
        Ok(FetchedImage {
            glance_id: glance_id.to_string(),
            docker_id,
            downloaded: false,
        })
    }
}

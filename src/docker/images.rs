//! Images in the engine: load and save as streams, inspect, tag, list, remove.

use std::collections::HashMap;

use bollard::query_parameters::{
    ImportImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{Engine, EngineError};

/// One image as inspected.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub id: Option<String>,
    pub repo_tags: Vec<String>,
    /// When a tag was last set (RFC 3339), Docker's LastTagTime.
    pub last_tag_time: Option<String>,
}

/// One image as listed.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub size: i64,
    /// Unix seconds.
    pub created: i64,
}

impl Engine {
    /// `docker load` of a tarball stream; yields the engine's progress lines
    /// (`Loaded image ID: ...`) as they come.
    pub fn load_image<S>(&self, data: S) -> impl Stream<Item = Result<String, EngineError>> + use<S>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        self.docker
            .import_image_stream(ImportImageOptions::default(), data, None)
            .map(|item| {
                item.map(|info| info.stream.unwrap_or_default())
                    .map_err(EngineError::from)
            })
    }

    /// `docker save` of a reference, as the engine sends it.
    pub fn save_image(
        &self,
        reference: &str,
    ) -> impl Stream<Item = Result<Bytes, EngineError>> + Send + use<> {
        self.docker
            .export_image(reference)
            .map(|chunk| chunk.map_err(EngineError::from))
    }

    pub async fn inspect_image(&self, reference: &str) -> Result<Image, EngineError> {
        let i = self.docker.inspect_image(reference).await?;
        Ok(Image {
            id: i.id,
            repo_tags: i.repo_tags.unwrap_or_default(),
            last_tag_time: i
                .metadata
                .and_then(|m| m.last_tag_time)
                .map(|t| t.to_string()),
        })
    }

    pub async fn tag_image(&self, image: &str, repo: &str, tag: &str) -> Result<(), EngineError> {
        let opts = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        Ok(self.docker.tag_image(image, Some(opts)).await?)
    }

    /// Removes an image reference; the image goes when nothing else holds it.
    pub async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        self.docker
            .remove_image(reference, Some(RemoveImageOptions::default()), None)
            .await?;
        Ok(())
    }

    /// The images whose references match `pattern` (`repo:*`), or every
    /// image without one. With a pattern, each image's `repo_tags` holds only
    /// its matching tags (Docker's answer), not all of them.
    pub async fn list_images(
        &self,
        pattern: Option<String>,
    ) -> Result<Vec<ImageSummary>, EngineError> {
        let opts = ListImagesOptions {
            filters: pattern.map(|p| HashMap::from([("reference".to_string(), vec![p])])),
            ..Default::default()
        };
        Ok(self
            .docker
            .list_images(Some(opts))
            .await?
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                repo_tags: i.repo_tags,
                size: i.size,
                created: i.created,
            })
            .collect())
    }
}

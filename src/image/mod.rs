//! Container images: Glance to the engine and back as streams, one download
//! per image per host, the glance_store backend's operations, the cache.

pub mod catalog;
pub mod copies;
pub mod digest;
pub mod glance;
pub mod tarball;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::docker::{Engine, naming};
use crate::error::Error;
use crate::model::{FetchedImage, GlanceAccess, StoredImage};
use digest::Hasher;
use glance::Glance;

const IMAGE_TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Glance's os_hash_algo choices for stored data (MD5 is the `checksum`).
fn multihash_algo(algo: &str) -> Result<(), Error> {
    match algo {
        "sha256" | "sha384" | "sha512" => Ok(()),
        other => Err(Error::InvalidInput(format!(
            "hashing_algo {other:?}: sha256, sha384 or sha512"
        ))),
    }
}

#[derive(Clone)]
pub struct Images {
    docker: Engine,
    glance: Glance,
    /// One lock per Glance image id: concurrent boots of an uncached image
    /// wait for the one download.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Images {
    pub fn new(docker: Engine, glance_read_timeout: std::time::Duration) -> Result<Images, Error> {
        Ok(Images {
            // Loading or saving a large image takes far longer than Docker's
            // other calls; a stalled transfer still ends with its source.
            docker: docker.with_timeout(IMAGE_TRANSFER_TIMEOUT),
            glance: Glance::new(glance_read_timeout)?,
            locks: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The Docker client for long transfers: loads, saves and commits.
    pub fn docker(&self) -> &Engine {
        &self.docker
    }

    fn lock_for(&self, glance_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(glance_id.to_string())
            .or_default()
            .clone()
    }

    /// The engine image for a Glance image, downloaded if the host lacks it.
    /// Glance is asked first, with the user's token, even when the image is
    /// cached: a private image cached for one project never boots for another.
    pub async fn fetch(
        &self,
        access: &GlanceAccess,
        glance_id: &str,
    ) -> Result<FetchedImage, Error> {
        let meta = self.glance.image(access, glance_id).await?;
        let format = meta.container_format.as_deref().unwrap_or("none");
        if format != "docker" {
            return Err(Error::ImageUnacceptable(format!(
                "image {glance_id} has container_format {format}: novadock boots only container_format=docker \
                 images (the data of `docker save`)"
            )));
        }
        let lock = self.lock_for(glance_id);
        let _held = lock.lock().await;
        if let Some(docker_id) = copies::local(&self.docker, glance_id).await? {
            return Ok(FetchedImage {
                glance_id: glance_id.to_string(),
                docker_id,
                downloaded: false,
            });
        }
        // Verify with the strongest digest Glance advertises.
        let (algo, expected) = match (&meta.os_hash_algo, &meta.os_hash_value) {
            (Some(a), Some(v)) if !a.is_empty() && !v.is_empty() => (a.clone(), Some(v.clone())),
            _ => ("md5".to_string(), meta.checksum.clone()),
        };
        let data = self.glance.download(access, glance_id).await?;
        let loaded = copies::load(&self.docker, data, Some(Hasher::new(&algo)?)).await?;
        if let (Some(want), Some(got)) = (&expected, &loaded.digest)
            && !want.eq_ignore_ascii_case(got)
        {
            // Never tagged, so never used; removed unless an older copy shares it.
            copies::remove_if_untagged(&self.docker, &loaded.docker_id).await;
            return Err(Error::ImageUnacceptable(format!(
                "image {glance_id}: the {algo} of the downloaded data is {got}, Glance says {want}"
            )));
        }
        copies::tag(&self.docker, &loaded.docker_id, glance_id).await?;
        tracing::info!(
            image = glance_id,
            bytes = loaded.bytes,
            "loaded from Glance"
        );
        Ok(FetchedImage {
            glance_id: glance_id.to_string(),
            docker_id: loaded.docker_id,
            downloaded: true,
        })
    }

    /// glance_store `add`: the uploaded tarball into the engine. The answer
    /// describes what `read` gives back, which is what Glance must record.
    pub async fn store<S>(&self, glance_id: &str, data: S, algo: &str) -> Result<StoredImage, Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        Hasher::new(algo)?;
        let lock = self.lock_for(glance_id);
        let _held = lock.lock().await;
        if let Some(docker_id) = copies::local(&self.docker, glance_id).await? {
            // Glance writes an image's data once; the engine has it already
            // when it is this host's snapshot, committed under that id.
            let mut data = Box::pin(data);
            while let Some(chunk) = data.next().await {
                chunk.map_err(|e| {
                    Error::ImageUnavailable(format!("the image data stopped arriving: {e}"))
                })?;
            }
            copies::tag_stored(&self.docker, &docker_id, glance_id).await?;
            return self.describe(glance_id, algo).await;
        }
        let loaded = copies::load(&self.docker, data, None).await?;
        copies::tag(&self.docker, &loaded.docker_id, glance_id).await?;
        copies::tag_stored(&self.docker, &loaded.docker_id, glance_id).await?;
        self.describe(glance_id, algo).await
    }

    /// Size and digests of the stored image's tarball.
    pub async fn describe(&self, glance_id: &str, algo: &str) -> Result<StoredImage, Error> {
        multihash_algo(algo)?;
        let docker_id = copies::local(&self.docker, glance_id)
            .await?
            .ok_or_else(|| {
                Error::ImageNotFound(format!("image {glance_id} is not stored on this host"))
            })?;
        let reference = naming::glance_image_reference(glance_id);
        let (size, checksum, multihash) =
            copies::save_digests(&self.docker, &reference, algo).await?;
        Ok(StoredImage {
            glance_id: glance_id.to_string(),
            docker_id,
            size,
            checksum,
            multihash,
            hashing_algo: algo.to_string(),
        })
    }

    /// The stored image's tarball, streamed.
    pub async fn read(
        &self,
        glance_id: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, Error> {
        if copies::local(&self.docker, glance_id).await?.is_none() {
            return Err(Error::ImageNotFound(format!(
                "image {glance_id} is not stored on this host"
            )));
        }
        Ok(copies::save(
            &self.docker,
            &naming::glance_image_reference(glance_id),
        ))
    }

    /// glance_store `delete`: Glance's mark, then the image. A server's
    /// container may still run on it: as with a VM's copy of a deleted
    /// image, it keeps running, and the image stays as cache (pruned once
    /// unused) rather than failing the delete half-way.
    pub async fn delete(&self, glance_id: &str) -> Result<(), Error> {
        copies::remove(&self.docker, &naming::glance_store_reference(glance_id)).await?;
        match copies::remove(&self.docker, &naming::glance_image_reference(glance_id)).await {
            Ok(()) | Err(Error::InstanceInvalidState(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A snapshot: the committed image goes to Glance as `docker save` data.
    pub async fn upload(&self, access: &GlanceAccess, glance_id: &str) -> Result<(), Error> {
        let data = self.read(glance_id).await?;
        self.glance.upload(access, glance_id, data).await
    }

    /// Removes Glance images of the cache that no container uses and that were
    /// loaded at least `min_age_seconds` ago. Images Glance's novadock store
    /// keeps on this host are Glance's data, not cache: they stay.
    pub async fn prune(&self, min_age_seconds: u64) -> Result<Vec<String>, Error> {
        // Unfiltered: filtered by reference, Docker answers only each image's
        // matching tags, and the store mark below would never be seen.
        let images = self.docker.list_images(None).await?;
        let used: Vec<String> = self
            .docker
            .list_containers(Vec::new())
            .await?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut removed = Vec::new();
        for image in images {
            if used.contains(&image.id) {
                continue;
            }
            for tag in &image.repo_tags {
                let Some(glance_id) = tag.strip_prefix(&format!("{}:", naming::GLANCE_REPOSITORY))
                else {
                    continue;
                };
                if image
                    .repo_tags
                    .contains(&naming::glance_store_reference(glance_id))
                {
                    continue;
                }
                let loaded_at = self.loaded_at(tag).await.unwrap_or(image.created);
                if now - loaded_at < min_age_seconds as i64 {
                    continue;
                }
                match copies::remove(&self.docker, tag).await {
                    Ok(()) => removed.push(glance_id.to_string()),
                    Err(e) => tracing::warn!(image = glance_id, "not pruned: {e}"),
                }
            }
        }
        Ok(removed)
    }

    /// When the tag was set (Docker's LastTagTime), in Unix seconds.
    async fn loaded_at(&self, reference: &str) -> Option<i64> {
        let i = self.docker.inspect_image(reference).await.ok()?;
        catalog::parse_rfc3339(&i.last_tag_time?)
    }
}

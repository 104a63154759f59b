//! The engine's copies of Glance images: `docker load` from a stream with
//! the bytes hashed on the way, `docker save` as a stream, the service's
//! tags (`novadock-glance:<id>` and the other repositories of
//! docker/naming.rs) and removal. Built on the gateway (src/docker/), which
//! knows the engine's API; this file knows what the service's images mean.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::digest::Hasher;
use super::tarball::TarFilter;
use crate::docker::{Engine, EngineError, naming};
use crate::error::Error;

/// What streamed through a load: byte count, digest, and whether the source
/// itself failed (as opposed to Docker refusing the data).
struct Tally {
    bytes: u64,
    hasher: Option<Hasher>,
    source_error: Option<String>,
    filter: TarFilter,
    /// Why the tarball's content was refused (see tarball.rs).
    content_error: Option<String>,
}

pub struct Loaded {
    pub docker_id: String,
    pub bytes: u64,
    pub digest: Option<String>,
}

/// Loads a `docker save` tarball of exactly one image; returns its id. The
/// stream passes through the tarball filter, so nothing the tarball names is
/// tagged: the caller tags only data it has verified, by id.
pub async fn load<S>(docker: &Engine, data: S, hasher: Option<Hasher>) -> Result<Loaded, Error>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let tally = Arc::new(Mutex::new(Tally {
        bytes: 0,
        hasher,
        source_error: None,
        filter: TarFilter::new(),
        content_error: None,
    }));
    let seen = tally.clone();
    // The digest is of the bytes as Glance holds them; Docker gets them filtered.
    let counted = data.map(move |chunk| {
        let mut t = seen.lock().unwrap_or_else(|p| p.into_inner());
        let b = match chunk {
            Ok(b) => b,
            Err(e) => {
                t.source_error = Some(e.to_string());
                return Err(e);
            }
        };
        t.bytes += b.len() as u64;
        if let Some(h) = t.hasher.as_mut() {
            h.update(&b);
        }
        if let Some(e) = &t.content_error {
            return Err(std::io::Error::other(e.clone()));
        }
        match t.filter.push(&b) {
            Ok(out) => Ok(Bytes::from(out)),
            Err(e) => {
                t.content_error = Some(e.clone());
                Err(std::io::Error::other(e))
            }
        }
    });
    let ended = tally.clone();
    let end = futures_util::stream::once(async move {
        let mut t = ended.lock().unwrap_or_else(|p| p.into_inner());
        if t.content_error.is_some() || t.source_error.is_some() {
            return None;
        }
        let e = t.filter.finish().err()?;
        t.content_error = Some(e.clone());
        Some(Err(std::io::Error::other(e)))
    })
    .filter_map(std::future::ready);
    let mut progress = Box::pin(docker.load_image(counted.chain(end)));
    let mut loaded: Vec<String> = Vec::new();
    let mut refused: Option<String> = None;
    while let Some(item) = progress.next().await {
        match item {
            Ok(text) => {
                for line in text.lines() {
                    if let Some(r) = line.strip_prefix("Loaded image ID: ") {
                        loaded.push(r.trim().to_string());
                    } else if let Some(r) = line.strip_prefix("Loaded image: ") {
                        loaded.push(r.trim().to_string());
                    }
                }
            }
            Err(e) => refused = Some(e.to_string()),
        }
    }
    let (bytes, digest, source_error, content_error) = {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        (
            t.bytes,
            t.hasher.take().map(Hasher::hex),
            t.source_error.take(),
            t.content_error.take(),
        )
    };
    if let Some(e) = source_error {
        return Err(Error::ImageUnavailable(format!(
            "the image data stopped arriving: {e}"
        )));
    }
    if let Some(e) = content_error {
        remove_loaded(docker, &loaded).await;
        return Err(Error::ImageUnacceptable(format!(
            "the image data was refused before loading: {e} (a docker save tarball is expected)"
        )));
    }
    if let Some(e) = refused {
        if e.contains("no space left on device") {
            return Err(Error::InsufficientStorage(format!(
                "the Docker engine's storage on this host is full; the image was not loaded: {e}"
            )));
        }
        return Err(Error::ImageUnacceptable(format!(
            "Docker cannot load the image data (a docker save tarball is expected): {e}"
        )));
    }
    // The filter let one untagged image through: Docker names it by id.
    let first = match loaded.as_slice() {
        [one] if one.starts_with("sha256:") => one,
        [] => {
            return Err(Error::ImageUnacceptable(
                "the image data holds no image (a docker save tarball is expected)".into(),
            ));
        }
        more => {
            remove_loaded(docker, &loaded).await;
            return Err(Error::ImageUnacceptable(format!(
                "the image data loaded {} images ({}); novadock takes exactly one untagged image",
                more.len(),
                more.join(", ")
            )));
        }
    };
    let image = docker
        .inspect_image(first)
        .await
        .map_err(|e| Error::Internal(format!("inspecting the loaded image {first}: {e}")))?;
    Ok(Loaded {
        docker_id: image.id.unwrap_or_else(|| first.clone()),
        bytes,
        digest,
    })
}

/// Removes what a refused load left, by id.
async fn remove_loaded(docker: &Engine, loaded: &[String]) {
    for id in loaded.iter().filter(|r| r.starts_with("sha256:")) {
        remove_if_untagged(docker, id).await;
    }
}

/// Removes a refused image by id unless it carries a tag: the same bytes
/// may already be another image of the engine, which stays (`docker rmi`
/// of an id would untag and delete it).
pub async fn remove_if_untagged(docker: &Engine, docker_id: &str) {
    match docker.inspect_image(docker_id).await {
        Ok(i) if i.repo_tags.is_empty() => {
            if let Err(e) = remove(docker, docker_id).await {
                tracing::warn!(image = docker_id, "removing a refused image: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(image = docker_id, "inspecting a refused image: {e}"),
    }
}

/// The Docker image id behind `novadock-glance:<glance_id>`, if loaded.
pub async fn local(docker: &Engine, glance_id: &str) -> Result<Option<String>, Error> {
    match docker
        .inspect_image(&naming::glance_image_reference(glance_id))
        .await
    {
        Ok(i) => Ok(i.id),
        Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn tag(docker: &Engine, docker_id: &str, glance_id: &str) -> Result<(), Error> {
    tag_in(docker, docker_id, naming::GLANCE_REPOSITORY, glance_id).await
}

/// Marks the image as held by Glance's novadock store (see
/// naming::GLANCE_STORE_REPOSITORY).
pub async fn tag_stored(docker: &Engine, docker_id: &str, glance_id: &str) -> Result<(), Error> {
    tag_in(
        docker,
        docker_id,
        naming::GLANCE_STORE_REPOSITORY,
        glance_id,
    )
    .await
}

/// Whether a container (running or not) is made from the image.
pub async fn in_use(docker: &Engine, docker_id: &str) -> Result<bool, Error> {
    let containers = docker.list_containers(Vec::new()).await?;
    Ok(containers
        .iter()
        .any(|c| c.image_id.as_deref() == Some(docker_id)))
}

pub async fn tag_in(docker: &Engine, docker_id: &str, repo: &str, tag: &str) -> Result<(), Error> {
    docker.tag_image(docker_id, repo, tag).await?;
    Ok(())
}

/// Removes an image reference; the image goes when nothing else holds it.
/// Missing is fine; an image a container uses stays (409).
pub async fn remove(docker: &Engine, reference: &str) -> Result<(), Error> {
    match docker.remove_image(reference).await {
        Ok(()) | Err(EngineError::NotFound(_)) => Ok(()),
        Err(EngineError::Conflict(message)) => Err(Error::InstanceInvalidState(format!(
            "image {reference} is in use: {message}"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `docker save` of a reference, as a stream. A task owns the Docker
/// request; the bounded channel carries its backpressure to the reader.
pub fn save(
    docker: &Engine,
    reference: &str,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let docker = docker.clone();
    let reference = reference.to_string();
    tokio::spawn(async move {
        let mut chunks = Box::pin(docker.save_image(&reference));
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// Size and digests of what `save` gives for the reference.
pub async fn save_digests(
    docker: &Engine,
    reference: &str,
    algo: &str,
) -> Result<(u64, String, String), Error> {
    let mut md5 = Hasher::new("md5")?;
    let mut multi = Hasher::new(algo)?;
    let mut size = 0u64;
    let mut stream = Box::pin(save(docker, reference));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Internal(format!("docker save {reference}: {e}")))?;
        size += chunk.len() as u64;
        md5.update(&chunk);
        multi.update(&chunk);
    }
    Ok((size, md5.hex(), multi.hex()))
}

//! The Glance v2 API as a compute host needs it, with the requesting user's
//! token: image metadata, data download and snapshot upload, all streamed.

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use serde::Deserialize;

use crate::error::Error;
use crate::model::GlanceAccess;

#[derive(Debug, Clone, Deserialize)]
pub struct GlanceImage {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub container_format: Option<String>,
    pub disk_format: Option<String>,
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
}

#[derive(Clone)]
pub struct Glance {
    http: reqwest::Client,
}

fn unreachable(endpoint: &str, e: reqwest::Error) -> Error {
    Error::ImageUnavailable(format!("Glance at {endpoint} cannot be reached: {e}"))
}

impl Glance {
    /// `read_timeout`: how long Glance may send nothing, in the answer's
    /// headers or in the middle of an image's data, before the transfer
    /// fails (a stalled Glance would otherwise hold every boot of that
    /// image on the host).
    pub fn new(read_timeout: std::time::Duration) -> Result<Glance, Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(read_timeout)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        Ok(Glance { http })
    }

    fn url(access: &GlanceAccess, path: &str) -> String {
        format!("{}{path}", access.endpoint.trim_end_matches('/'))
    }

    fn get(&self, access: &GlanceAccess, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(Self::url(access, path))
            .header("X-Auth-Token", &access.token)
    }

    /// Sends a GET, once more if the first never got an answer: a pooled
    /// connection the server closed while idle fails the send, and a GET
    /// can be repeated.
    async fn send_get(
        &self,
        access: &GlanceAccess,
        path: &str,
    ) -> Result<reqwest::Response, Error> {
        match self.get(access, path).send().await {
            Ok(r) => Ok(r),
            Err(e) if e.is_request() || e.is_connect() => {
                tracing::debug!("GET {path} to Glance failed ({e}); once more");
                self.get(access, path)
                    .send()
                    .await
                    .map_err(|e| unreachable(&access.endpoint, e))
            }
            Err(e) => Err(unreachable(&access.endpoint, e)),
        }
    }

    /// The image as the user sees it; NotFound also when the user may not
    /// see it, which is how access to a cached image is checked.
    pub async fn image(&self, access: &GlanceAccess, id: &str) -> Result<GlanceImage, Error> {
        let resp = self.send_get(access, &format!("/v2/images/{id}")).await?;
        match resp.status().as_u16() {
            200 => resp.json::<GlanceImage>().await.map_err(|e| {
                Error::ImageUnavailable(format!("Glance answered image {id} oddly: {e}"))
            }),
            401 | 403 | 404 => Err(Error::ImageNotFound(format!(
                "image {id} is not in Glance or this user may not use it (Glance answered {})",
                resp.status()
            ))),
            s => Err(Error::ImageUnavailable(format!(
                "Glance answered {s} for image {id}"
            ))),
        }
    }

    /// The image's data as a stream of chunks.
    pub async fn download(
        &self,
        access: &GlanceAccess,
        id: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, Error> {
        let resp = self
            .send_get(access, &format!("/v2/images/{id}/file"))
            .await?;
        if !resp.status().is_success() {
            return Err(Error::ImageUnavailable(format!(
                "Glance answered {} for the data of image {id}",
                resp.status()
            )));
        }
        Ok(resp.bytes_stream().map_err(std::io::Error::other))
    }

    /// Marks the image as a container image, then uploads its data.
    pub async fn upload<S>(&self, access: &GlanceAccess, id: &str, data: S) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let patch = serde_json::json!([
            {"op": "replace", "path": "/container_format", "value": "docker"},
            {"op": "replace", "path": "/disk_format", "value": "raw"},
        ]);
        let resp = self
            .http
            .patch(Self::url(access, &format!("/v2/images/{id}")))
            .header("X-Auth-Token", &access.token)
            .header(
                "Content-Type",
                "application/openstack-images-v2.1-json-patch",
            )
            .body(patch.to_string())
            .send()
            .await
            .map_err(|e| unreachable(&access.endpoint, e))?;
        if !resp.status().is_success() {
            return Err(Error::ImageUnavailable(format!(
                "Glance refused to mark image {id} as a docker image: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            )));
        }
        let resp = self
            .http
            .put(Self::url(access, &format!("/v2/images/{id}/file")))
            .header("X-Auth-Token", &access.token)
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(data))
            .send()
            .await
            .map_err(|e| unreachable(&access.endpoint, e))?;
        if !resp.status().is_success() {
            return Err(Error::ImageUnavailable(format!(
                "Glance refused the data of image {id}: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            )));
        }
        Ok(())
    }
}

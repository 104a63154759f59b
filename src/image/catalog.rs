//! The engine's images as Glance v2 images, for the read-only facade
//! (src/api/glance_facade.rs): stable ids (uuid v5 of the Docker image id),
//! the fields Nova, the openstack client and Horizon read, and `Catalog`,
//! the facade's one door: which images a viewer may see, and their data.

use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Value, json};

use super::copies;
use super::glance::Glance;
use crate::docker::{Engine, naming};
use crate::error::Error;
use crate::model::GlanceAccess;
use crate::ttl_cache::TtlCache;

/// How long Glance's answer on whether a viewer may see an image is reused.
const VISIBILITY_TTL: Duration = Duration::from_secs(60);
const VISIBILITY_MAX: usize = 16384;

/// Who looks at the catalog.
pub enum Viewer {
    /// Every image of the engine: the facade without authentication, or an
    /// admin's token.
    Everyone,
    /// Only the engine's copies of the Glance images that Glance shows this
    /// token: never engine-only images such as another project's resize or
    /// a move's filesystem.
    User {
        token: String,
        /// Glance's URL from the token's catalog.
        glance_endpoint: Option<String>,
    },
}

/// The engine's images as the facade serves them, each viewer seeing what
/// Glance would show them.
#[derive(Clone)]
pub struct Catalog {
    docker: Engine,
    glance: Glance,
    /// Glance's URL when nova.conf names it; else the token's catalog.
    glance_endpoint: Option<String>,
    /// (token, Glance id) -> may see, and when Glance said so.
    visible: TtlCache<(String, String), bool>,
}

impl Catalog {
    pub fn new(docker: Engine, glance_endpoint: Option<String>) -> Result<Catalog, Error> {
        Ok(Catalog {
            docker,
            // Visibility checks are small answers: Glance has 15 s.
            glance: Glance::new(Duration::from_secs(15))?,
            glance_endpoint,
            visible: TtlCache::new(VISIBILITY_TTL, VISIBILITY_MAX),
        })
    }

    /// The engine's images the viewer may see, newest first.
    pub async fn images(&self, viewer: &Viewer) -> Result<Vec<CatalogImage>, Error> {
        let all = list(&self.docker).await?;
        let mut out = Vec::with_capacity(all.len());
        for i in all {
            if let Some(v) = self.view(viewer, i).await {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The image of facade id `id`, if the viewer may see it: None does not
    /// tell whether it exists.
    pub async fn image(&self, viewer: &Viewer, id: &str) -> Result<Option<CatalogImage>, Error> {
        let Some(image) = list(&self.docker).await?.into_iter().find(|i| i.id == id) else {
            return Ok(None);
        };
        Ok(self.view(viewer, image).await)
    }

    /// The `docker save` data of the image of facade id `id`, if the viewer
    /// may see it. Saved by its name, so `docker load` brings the tag back too.
    pub async fn data(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<Option<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<>>, Error>
    {
        let Some(image) = self.image(viewer, id).await? else {
            return Ok(None);
        };
        let reference = image.name.as_deref().unwrap_or(&image.docker_id);
        Ok(Some(copies::save(&self.docker, reference)))
    }

    /// The image as the viewer may see it, if at all: as Glance would answer
    /// them. A user sees only the tags of the Glance images Glance shows
    /// them (projects that uploaded the same bytes share one engine image,
    /// and its other tags name their private images).
    async fn view(&self, viewer: &Viewer, image: CatalogImage) -> Option<CatalogImage> {
        let (token, endpoint) = match viewer {
            Viewer::Everyone => return Some(image),
            Viewer::User {
                token,
                glance_endpoint,
            } => (
                token,
                self.glance_endpoint
                    .clone()
                    .or_else(|| glance_endpoint.clone())?,
            ),
        };
        let mut seen_ids = Vec::new();
        for id in glance_ids(&image) {
            let key = (token.clone(), id.clone());
            let seen = match self.visible.get(&key) {
                Some(v) => v,
                None => {
                    let access = GlanceAccess {
                        endpoint: endpoint.clone(),
                        token: token.clone(),
                    };
                    let v = self.glance.image(&access, &id).await.is_ok();
                    self.visible.insert(key, v);
                    v
                }
            };
            if seen {
                seen_ids.push(id);
            }
        }
        let tags: Vec<String> = seen_ids
            .iter()
            .map(|id| naming::glance_image_reference(id))
            .collect();
        let name = tags.first().cloned();
        if tags.is_empty() {
            return None;
        }
        Some(CatalogImage {
            tags,
            name,
            ..image
        })
    }
}

/// The Glance ids the service's own tags give the image (cache and store).
fn glance_ids(image: &CatalogImage) -> Vec<String> {
    let prefixes = [
        format!("{}:", naming::GLANCE_REPOSITORY),
        format!("{}:", naming::GLANCE_STORE_REPOSITORY),
    ];
    let mut ids: Vec<String> = image
        .tags
        .iter()
        .filter_map(|t| prefixes.iter().find_map(|p| t.strip_prefix(p.as_str())))
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub fn facade_id(docker_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, docker_id.as_bytes()).to_string()
}

#[derive(Debug, Clone)]
pub struct CatalogImage {
    pub id: String,
    pub docker_id: String,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub size: i64,
    pub created: i64,
}

impl CatalogImage {
    pub fn to_glance(&self) -> Value {
        let when = format_rfc3339(self.created);
        json!({
            "id": self.id,
            "name": self.name,
            "status": "active",
            "visibility": "public",
            "protected": false,
            "os_hidden": false,
            "tags": [],
            "container_format": "docker",
            "disk_format": "raw",
            // Docker's size of the image; its docker save tarball is a little larger.
            "size": self.size,
            "virtual_size": null,
            "checksum": null,
            "os_hash_algo": null,
            "os_hash_value": null,
            "min_disk": 0,
            "min_ram": 0,
            "owner": null,
            "created_at": when,
            "updated_at": when,
            "docker_image_id": self.docker_id,
            "docker_tags": self.tags.join(" "),
            "self": format!("/v2/images/{}", self.id),
            "file": format!("/v2/images/{}/file", self.id),
            "schema": "/v2/schemas/image",
        })
    }
}

/// Every image of the engine, newest first.
async fn list(docker: &Engine) -> Result<Vec<CatalogImage>, Error> {
    let images = docker.list_images(None).await?;
    let mut out: Vec<CatalogImage> = images
        .into_iter()
        .map(|i| {
            let mut tags: Vec<String> = i
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect();
            tags.sort();
            // A user's own tag names the image better than the cache's or
            // the store's.
            let ours = [
                format!("{}:", naming::GLANCE_REPOSITORY),
                format!("{}:", naming::GLANCE_STORE_REPOSITORY),
            ];
            let name = tags
                .iter()
                .find(|t| !ours.iter().any(|p| t.starts_with(p.as_str())))
                .or_else(|| tags.iter().find(|t| t.starts_with(ours[0].as_str())))
                .or(tags.first())
                .cloned();
            CatalogImage {
                id: facade_id(&i.id),
                name,
                docker_id: i.id,
                tags,
                size: i.size,
                created: i.created,
            }
        })
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2026-11-22T02:35:01.5Z" (or with an offset) as Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let clock: String = rest.chars().take(8).collect();
    let mut t = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let zone = rest
        .rfind(['Z', '+', '-'])
        .map(|i| &rest[i..])
        .unwrap_or("Z");
    let offset = if zone == "Z" || zone.len() < 6 {
        0
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let oh: i64 = zone.get(1..3)?.parse().ok()?;
        let om: i64 = zone.get(4..6)?.parse().ok()?;
        sign * (oh * 3600 + om * 60)
    };
    Some(days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_228_501), "2026-11-21T02:35:01Z");
        assert_eq!(
            parse_rfc3339("2026-11-21T02:35:01.123456789Z"),
            Some(1_795_228_501)
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T04:35:01+02:00"),
            Some(1_795_228_501)
        );
        assert_eq!(parse_rfc3339("not a time"), None);
    }

    #[test]
    fn ids_are_stable_uuids() {
        let a = facade_id("sha256:abc");
        assert_eq!(a, facade_id("sha256:abc"));
        assert_ne!(a, facade_id("sha256:abd"));
        assert_eq!(
            uuid::Uuid::parse_str(&a).map(|u| u.get_version_num()).ok(),
            Some(5)
        );
    }
}

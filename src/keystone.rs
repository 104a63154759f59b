//! Who a token belongs to, asked of Keystone as Glance's keystonemiddleware
//! would: the token validates itself (`GET /v3/auth/tokens` with the same
//! token as X-Auth-Token and X-Subject-Token: Keystone's policy lets a
//! token's owner validate it), which gives its project, roles and catalog.
//! Answers are kept a short while so a page of Horizon costs one round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::ttl_cache::TtlCache;

/// How long a validated token is trusted without asking again (keystonemiddleware's
/// token cache keeps 300 s; revocations reach the facade sooner here).
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Cached tokens at most; the cache empties when full.
const CACHE_MAX: usize = 4096;
/// How long a refused token is refused without asking again: without it,
/// every request with a forged or expired token costs Keystone a round
/// trip, a cheap way to load Keystone through the facade. Short, since a
/// refusal is final for a token anyway (Keystone never un-revokes one).
const REFUSED_TTL: Duration = Duration::from_secs(30);
/// Refused tokens kept at most. A cache of its own, so that a flood of
/// forged tokens empties only itself, never the accepted tokens' cache.
const REFUSED_MAX: usize = 4096;

/// What the facade needs of a validated token.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub project_id: Option<String>,
    /// When the token expires (Unix seconds): a cached answer is not used
    /// past it.
    pub expires: Option<i64>,
    pub admin: bool,
    /// Glance's URL from the token's catalog (internal, else public).
    pub glance_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: Token,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
    #[serde(default)]
    catalog: Vec<Service>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Service {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    interface: String,
    url: String,
}

/// Why a token gave no caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeystoneError {
    #[error("the token is not valid (Keystone refused it)")]
    Unauthorized,
    #[error("Keystone cannot validate tokens now: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct Keystone {
    http: reqwest::Client,
    tokens_url: String,
    /// Accepted tokens by their SHA-256 (the token itself is never kept).
    cache: TtlCache<[u8; 32], Caller>,
    /// Refused tokens by their SHA-256.
    refused: TtlCache<[u8; 32], ()>,
    /// Questions to Keystone under way, by the token's SHA-256: concurrent
    /// requests with one token (a burst of one forged token, a Horizon
    /// page) share one round trip. An entry lives only while its question
    /// does.
    inflight: Arc<Mutex<HashMap<[u8; 32], Asked>>>,
}

type Asked = Arc<tokio::sync::OnceCell<Result<Caller, KeystoneError>>>;

/// `.../v3/auth/tokens` from an auth URL given with or without `/v3`.
fn tokens_url(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    let base = base.strip_suffix("/v3").unwrap_or(base);
    format!("{base}/v3/auth/tokens")
}

impl Keystone {
    pub fn new(auth_url: &str) -> Result<Keystone, KeystoneError> {
        Keystone::with_refusals(auth_url, REFUSED_TTL, REFUSED_MAX)
    }

    fn with_refusals(
        auth_url: &str,
        refused_ttl: Duration,
        refused_max: usize,
    ) -> Result<Keystone, KeystoneError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| KeystoneError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Keystone {
            http,
            tokens_url: tokens_url(auth_url),
            cache: TtlCache::new(CACHE_TTL, CACHE_MAX),
            refused: TtlCache::new(refused_ttl, refused_max),
            inflight: Arc::default(),
        })
    }

    /// The token's owner, or Unauthorized for a token Keystone does not
    /// accept.
    pub async fn validate(&self, token: &str) -> Result<Caller, KeystoneError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(caller) = self.cache.get(&key) {
            return live(caller);
        }
        if self.refused.get(&key).is_some() {
            return Err(KeystoneError::Unauthorized);
        }
        let asked: Asked = self
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        // Forgotten when this request ends, answered or dropped (a client
        // gone mid-question must not leave its entry behind): later
        // requests find the caches.
        let _forget = Forget {
            inflight: &self.inflight,
            key,
            asked: asked.clone(),
        };
        let answer = asked.get_or_init(|| self.ask(token, key)).await.clone();
        live(answer?)
    }

    /// One round trip to Keystone; the answer, accepted or refused, cached.
    async fn ask(&self, token: &str, key: [u8; 32]) -> Result<Caller, KeystoneError> {
        let resp = self
            .http
            .get(&self.tokens_url)
            .header("X-Auth-Token", token)
            .header("X-Subject-Token", token)
            .send()
            .await
            .map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 | 404 => {
                self.refused.insert(key, ());
                return Err(KeystoneError::Unauthorized);
            }
            s => {
                return Err(KeystoneError::Unavailable(format!("Keystone answered {s}")));
            }
        }
        let body: TokenBody = resp
            .json()
            .await
            .map_err(|e| KeystoneError::Unavailable(format!("Keystone's answer: {e}")))?;
        let caller = caller_of(body.token);
        self.cache.insert(key, caller.clone());
        Ok(caller)
    }
}

/// Removes a question from `inflight` when the request that made it ends,
/// unless a newer question took its place.
struct Forget<'a> {
    inflight: &'a Mutex<HashMap<[u8; 32], Asked>>,
    key: [u8; 32],
    asked: Asked,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if inflight
            .get(&self.key)
            .is_some_and(|a| Arc::ptr_eq(a, &self.asked))
        {
            inflight.remove(&self.key);
        }
    }
}

/// The caller, unless its token has expired meanwhile.
fn live(caller: Caller) -> Result<Caller, KeystoneError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match caller.expires {
        Some(t) if t <= now => Err(KeystoneError::Unauthorized),
        _ => Ok(caller),
    }
}

fn caller_of(token: Token) -> Caller {
    let glance_endpoint = token
        .catalog
        .iter()
        .filter(|s| s.kind == "image")
        .flat_map(|s| s.endpoints.iter())
        .min_by_key(|e| match e.interface.as_str() {
            "internal" => 0,
            "public" => 1,
            _ => 2,
        })
        .map(|e| e.url.clone());
    Caller {
        expires: token
            .expires_at
            .as_deref()
            .and_then(crate::image::catalog::parse_rfc3339),
        project_id: token.project.and_then(|p| p.id),
        admin: token
            .roles
            .iter()
            .any(|r| r.name.as_deref() == Some("admin")),
        glance_endpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokens_url_follows_any_auth_url() {
        for u in [
            "http://127.0.0.1:5000",
            "http://127.0.0.1:5000/",
            "http://127.0.0.1:5000/v3",
            "http://127.0.0.1:5000/v3/",
        ] {
            assert_eq!(tokens_url(u), "http://127.0.0.1:5000/v3/auth/tokens");
        }
        assert_eq!(
            tokens_url("http://h/identity"),
            "http://h/identity/v3/auth/tokens"
        );
    }

    #[test]
    fn a_token_gives_its_project_roles_and_glance() {
        let t: TokenBody = serde_json::from_value(serde_json::json!({"token": {
        "project": {"id": "p1", "name": "demo"},
        "roles": [{"id": "r", "name": "member"}],
        "catalog": [
            {"type": "identity", "endpoints": [{"interface": "public", "url": "http://k"}]},
            {"type": "image", "endpoints": [
                {"interface": "public", "url": "http://g-public"},
                {"interface": "internal", "url": "http://g-internal"}]}
        ]}}))
        .expect("token");
        let c = caller_of(t.token);
        assert_eq!(c.project_id.as_deref(), Some("p1"));
        assert_eq!(c.expires, None);
        let expired = Caller {
            expires: Some(1),
            ..c.clone()
        };
        assert!(matches!(live(expired), Err(KeystoneError::Unauthorized)));
        assert!(!c.admin);
        assert_eq!(c.glance_endpoint.as_deref(), Some("http://g-internal"));
    }
    /// An https Keystone gets a TLS handshake: the HTTP client has its
    /// crypto provider (without one, building the client fails).
    #[tokio::test]
    async fn an_https_keystone_is_spoken_to_in_tls() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let keystone = Keystone::new(&format!("https://127.0.0.1:{port}/v3")).expect("client");
        let first_bytes = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut head = [0u8; 3];
            conn.read_exact(&mut head).await.expect("read");
            head
        });
        // The listener never answers: the validation fails, after the hello.
        let _ = tokio::time::timeout(Duration::from_secs(2), keystone.validate("t")).await;
        let head = first_bytes.await.expect("listener");
        // A TLS record: handshake (22), protocol major version 3.
        assert_eq!(&head[..2], &[22, 3], "not a TLS ClientHello: {head:?}");
    }

    /// A Keystone on loopback that accepts the token "good", refuses any
    /// other with 404, answers "flaky" with 503, and counts the requests
    /// per token.
    async fn fake_keystone() -> (
        String,
        std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    ) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
            String,
            usize,
        >::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v3", listener.local_addr().expect("addr"));
        let counter = seen.clone();
        // HTTP/1.1 by hand (GETs only, kept alive): the service's HTTP
        // framework stays in api/.
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut conn = BufReader::new(conn);
                    loop {
                        let mut token = String::new();
                        let mut line = String::new();
                        loop {
                            line.clear();
                            match conn.read_line(&mut line).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                            let l = line.trim_end();
                            if l.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = l.split_once(':')
                                && k.eq_ignore_ascii_case("x-subject-token")
                            {
                                token = v.trim().to_string();
                            }
                        }
                        *counter
                            .lock()
                            .expect("counter")
                            .entry(token.clone())
                            .or_default() += 1;
                        let (status, body) = match token.as_str() {
                            "good" => (
                                "200 OK",
                                r#"{"token": {"project": {"id": "p1"}, "roles": []}}"#,
                            ),
                            "flaky" => ("503 Service Unavailable", "{}"),
                            _ => ("404 Not Found", r#"{"error": {"code": 404}}"#),
                        };
                        let response = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.get_mut().write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, seen)
    }

    fn asked(
        seen: &std::sync::Mutex<std::collections::HashMap<String, usize>>,
        token: &str,
    ) -> usize {
        seen.lock()
            .expect("counter")
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// A forged token sent again and again costs Keystone one round trip
    /// while its refusal is kept, and one more after that.
    #[tokio::test]
    async fn a_refused_token_is_not_asked_again_for_a_while() {
        let (url, seen) = fake_keystone().await;
        let k =
            Keystone::with_refusals(&url, Duration::from_millis(300), REFUSED_MAX).expect("client");
        for _ in 0..50 {
            assert!(matches!(
                k.validate("forged").await,
                Err(KeystoneError::Unauthorized)
            ));
        }
        assert_eq!(asked(&seen, "forged"), 1, "50 tries, one round trip");
        // Keyed by the token: another forged token is asked about.
        assert!(k.validate("forged-2").await.is_err());
        assert_eq!(asked(&seen, "forged-2"), 1);
        // The refusal is kept only briefly.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(k.validate("forged").await.is_err());
        assert_eq!(asked(&seen, "forged"), 2);
        // Keystone failing is no refusal: asked again each time.
        for _ in 0..3 {
            assert!(matches!(
                k.validate("flaky").await,
                Err(KeystoneError::Unavailable(_))
            ));
        }
        assert_eq!(asked(&seen, "flaky"), 3);
    }

    /// Forged tokens fill only the refusals' cache: an accepted token stays
    /// cached however many of them come, and the refusals' cache is bounded.
    #[tokio::test]
    async fn forged_tokens_do_not_evict_accepted_ones() {
        let (url, seen) = fake_keystone().await;
        let k = Keystone::with_refusals(&url, REFUSED_TTL, 4).expect("client");
        assert_eq!(
            k.validate("good")
                .await
                .expect("valid")
                .project_id
                .as_deref(),
            Some("p1")
        );
        for i in 0..20 {
            assert!(k.validate(&format!("forged-{i}")).await.is_err());
        }
        assert!(k.validate("good").await.is_ok());
        assert_eq!(asked(&seen, "good"), 1, "still cached");
        assert!(
            k.refused.entries_len() <= 4,
            "bounded: {}",
            k.refused.entries_len()
        );
    }

    /// A burst of one forged token, all at once, is one round trip; a
    /// request dropped mid-question leaves nothing behind.
    #[tokio::test]
    async fn concurrent_requests_with_one_token_share_a_round_trip() {
        let (url, seen) = fake_keystone().await;
        let k = Keystone::new(&url).expect("client");
        let burst = (0..30).map(|_| k.validate("forged-burst"));
        for answer in futures_util::future::join_all(burst).await {
            assert!(matches!(answer, Err(KeystoneError::Unauthorized)));
        }
        assert_eq!(
            asked(&seen, "forged-burst"),
            1,
            "30 at once, one round trip"
        );
        let goods = (0..10).map(|_| k.validate("good"));
        for answer in futures_util::future::join_all(goods).await {
            assert!(answer.is_ok());
        }
        assert_eq!(asked(&seen, "good"), 1);
        // Dropped before Keystone answered (a client gone): no entry stays.
        let pending = k.validate("slow-forged");
        let _ = tokio::time::timeout(Duration::from_nanos(1), pending).await;
        assert!(k.inflight.lock().expect("inflight").is_empty());
    }
}

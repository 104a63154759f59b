//! Fuzzing the socket API's request parsing: any method, path, header and
//! body against the real router must come back as a documented answer, and
//! every failure as a JSON error with a code from api/openapi.json — never a
//! panic. The engine refuses connections here, so every request that parses ends
//! in DockerUnavailable instead of acting on this machine.
//!
//! Cases: $PROPTEST_CASES (default 3000, the CI run); the benchmark run uses
//! a million (docs/benchmarks-spawn.md gives the command).

use std::path::Path;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use novadock::compute::Compute;
use novadock::config::{Config, RawConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Spec {
    /// (method, path template) of every documented operation.
    operations: Vec<(String, String)>,
    codes: Vec<String>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json"))
                .expect("api/openapi.json");
        let v: Value = serde_json::from_str(&text).expect("spec is JSON");
        let mut operations = Vec::new();
        for (path, item) in v["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("item").keys() {
                if method != "parameters" {
                    operations.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        let codes = v["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
            ["enum"]
            .as_array()
            .expect("code enum")
            .iter()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        Spec { operations, codes }
    })
}

fn runner_config() -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3000);
    RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    }
}

/// The real router on a Compute whose engine refuses every connection: a
/// socket file nobody listens on.
fn router(rt: &tokio::runtime::Runtime) -> axum::Router {
    let dir = std::env::temp_dir().join(format!("novadock-fuzz-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = dir.join("docker.sock");
    let _ = std::fs::remove_file(&socket);
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("socket file"));
    let mut raw = RawConfig::default();
    raw.merge_str(
        &format!(
            "[novadock]\ndocker_url = unix://{}\n\
             ovsdb_connection = unix:{}/ovs.sock\n",
            socket.display(),
            dir.display()
        ),
        Path::new("fuzz.conf"),
    )
    .expect("config");
    let config = Config::from_raw(&raw).expect("config");
    let _guard = rt.enter();
    let docker = bollard::Docker::connect_with_unix(
        &socket.display().to_string(),
        5,
        bollard::API_DEFAULT_VERSION,
    )
    .expect("a client for the refusing engine");
    novadock::api::router(Compute::new(docker, config).expect("compute"))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("00000000-0000-4000-8000-000000000000")),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names of the API's bodies, and others. The Glance endpoint is left
/// out on purpose: a fuzzer must not make the service dial random addresses.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "instance",
            "uuid",
            "name",
            "hostname",
            "metadata",
            "flavor",
            "memory_mb",
            "vcpus",
            "extra_specs",
            "image",
            "id",
            "properties",
            "network_info",
            "power_on",
            "type",
            "timeout",
            "retry_interval",
            "vif",
            "image_id",
            "min_age_seconds",
            "dest",
            "existing",
            "address",
            "devname",
            "details",
            "network",
            "subnets",
        ])
        .prop_map(String::from),
        "[a-z_]{1,12}",
    ]
}

/// A path parameter: a uuid, a near miss, or anything.
fn parameter() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("00000000-0000-4000-8000-000000000000".to_string()),
        "[0-9a-f-]{0,40}",
        "[A-Za-z0-9._~%-]{0,60}",
        Just("..%2F..%2Fetc".to_string()),
    ]
}

fn path() -> impl Strategy<Value = (Option<String>, String)> {
    let documented =
        (0..spec().operations.len(), parameter(), parameter()).prop_map(|(i, a, b)| {
            let (method, template) = &spec().operations[i];
            let path = template
                .replacen("{uuid}", &a, 1)
                .replacen("{glance_id}", &a, 1)
                .replacen("{port_id}", &b, 1);
            (Some(method.clone()), path)
        });
    let anything = "(/[A-Za-z0-9._~%{}-]{0,20}){0,6}".prop_map(|p| (None, p));
    prop_oneof![4 => documented, 1 => anything]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // Valid-looking bodies with one part replaced.
        (json_value(), field_name()).prop_map(|(v, k)| {
            let mut b = json!({
                "instance": {"uuid": "00000000-0000-4000-8000-000000000000", "name": "i",
                             "metadata": {}},
                "flavor": {"name": "m1.tiny", "memory_mb": 64, "vcpus": 1, "extra_specs": {}},
                "image": {"id": null, "name": "busybox", "properties": {}},
                "network_info": [], "power_on": true,
            });
            b[k] = v;
            b.to_string().into_bytes()
        }),
    ]
}

/// Inputs the fuzzer once found wrong answers for.
#[test]
fn found_by_the_fuzzer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = router(&rt);
    let uuid = "00000000-0000-4000-8000-000000000000";
    for (method, path, body) in [
        ("POST", format!("/v1/instances/{uuid}/plug"), "[[null]]"),
        ("DELETE", "/v1/images/%A0".to_string(), ""),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(&path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let (status, v) = rt.block_on(async {
            let resp = app.clone().oneshot(req).await.expect("infallible");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).expect("JSON"),
            )
        });
        assert!(
            status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path} {body}: {status} {v}"
        );
        assert_ne!(
            v["error"]["code"], "Internal",
            "{method} {path} {body}: {v}"
        );
    }
}

#[test]
fn any_request_gets_a_documented_answer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = router(&rt);
    let methods = prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]);
    let content_types = prop::sample::select(vec![
        "application/json",
        "application/x-tar",
        "text/plain",
        "",
    ]);
    let mut runner = TestRunner::new(runner_config());
    runner
        .run(
            &(path(), methods, content_types, body()),
            |((documented, path), method, content_type, body)| {
                let method = documented.unwrap_or_else(|| method.to_string());
                let mut req = Request::builder().method(method.as_str()).uri(&path);
                if !content_type.is_empty() {
                    req = req.header("content-type", content_type);
                }
                // Paths the HTTP layer itself rejects never reach the service.
                let Ok(req) = req.body(Body::from(body)) else {
                    return Ok(());
                };
                let (status, bytes) = rt.block_on(async {
                    let resp = app.clone().oneshot(req).await.expect("infallible");
                    let status = resp.status();
                    if status.is_success() {
                        // Streams (events, image data) never end: the head is the answer.
                        return (status, Vec::new());
                    }
                    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                        .await
                        .expect("error body");
                    (status, bytes.to_vec())
                });
                prop_assert!(
                    status != StatusCode::INTERNAL_SERVER_ERROR,
                    "{method} {path}: bad input must not be an internal error"
                );
                // A HEAD answer has no body, by HTTP's rules.
                if status.is_success() || method == "HEAD" {
                    return Ok(());
                }
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    TestCaseError::fail(format!("{method} {path}: {status} not JSON ({e})"))
                })?;
                let code = v["error"]["code"].as_str().unwrap_or_default().to_string();
                prop_assert!(
                    spec().codes.contains(&code),
                    "{method} {path}: {status} with undocumented code {v}"
                );
                prop_assert!(v["error"]["message"].is_string(), "{v}");
                prop_assert!(code != "Internal", "{method} {path}: {v}");
                Ok(())
            },
        )
        .expect("every request answered as documented");
}

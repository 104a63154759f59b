//! The service against api/openapi.json: every documented operation is
//! served, answers with a documented status and a body its schema accepts,
//! and bad requests get JSON errors. The Python side checks its own half.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::{Value, json};

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json"))
        .expect("spec");
    serde_json::from_str(&text).expect("spec is JSON")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut node = spec;
            for part in r.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            resolve(spec, node)
        }
        None => schema,
    }
}

/// The subset of JSON Schema the spec uses.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = resolve(spec, schema);
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not {t}"));
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: {v} is not {c}"));
    }
    if let Some(Value::Array(e)) = s.get("enum")
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_f64)
        && v.as_f64().is_some_and(|x| x < min)
    {
        return Err(format!("{at}: {v} below {min}"));
    }
    if let Value::Object(map) = v {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = r.as_str().unwrap_or_default();
            if !map.contains_key(key) {
                return Err(format!("{at}: missing {key}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in map {
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => validate(spec, sub, val, &format!("{at}.{k}"))?,
                (None, Some(Value::Bool(false))) => return Err(format!("{at}: unexpected {k}")),
                (None, Some(sub @ Value::Object(_))) => {
                    validate(spec, sub, val, &format!("{at}.{k}"))?
                }
                _ => {}
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (v, s.get("items")) {
        if let Some(n) = s.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < n
        {
            return Err(format!("{at}: fewer than {n} items"));
        }
        for (i, item) in items.iter().enumerate() {
            validate(spec, sub, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Checks one response against the operation's documented responses.
fn check(spec: &Value, path: &str, method: &str, r: &Response) {
    let op = &spec["paths"][path][method];
    let documented = &op["responses"][r.status.to_string()];
    assert!(
        !documented.is_null(),
        "{method} {path} answered {} which the spec does not list: {}",
        r.status,
        r.raw
    );
    let documented = resolve(spec, documented);
    let binary = documented
        .get("content")
        .and_then(Value::as_object)
        .is_some_and(|c| !c.contains_key("application/json"));
    if binary {
        assert!(!r.raw.is_empty(), "{method} {path}: a body is documented");
    } else if let Some(schema) = documented.pointer("/content/application~1json/schema") {
        validate(spec, schema, &r.body, "body")
            .unwrap_or_else(|e| panic!("{method} {path} {}: {e}", r.status));
    } else {
        assert!(
            r.raw.is_empty(),
            "{method} {path}: no body documented, got {}",
            r.raw
        );
    }
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let spec = spec();
    let svc = serve(compute_with(config(CONSOLE)).await).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    // Bodies for the operations that need one; the instance is spawned first
    // so that the instance routes act on something real.
    let attach = vif(41, 10);
    let snap = new_uuid();
    let here = compute().await.host().await.expect("host").host_ip;
    let mut spawn_body = spawn_request(&uuid);
    spawn_body["network_info"] = json!([vif(40, 10)]);
    let port_id = attach["id"].as_str().expect("id").to_string();
    let bodies = json!({
        "computeInventory": {"existing": {}},
        "snapshot": {"image_id": snap},
        "pruneImages": {"min_age_seconds": 86400},
        "migrate": {"dest": here, "timeout": 0, "retry_interval": 0},
        "exportMigrationImage": {"image_id": new_uuid()},
        "finishMigration": spawn_request(&uuid),
        "revertMigration": {"network_info": []},
        "attachInterface": {"vif": attach},
        "plugVifs": {"network_info": []},
        "powerOn": {"network_info": [vif(40, 10)]},
        "spawn": spawn_body,
        "reboot": {"type": "HARD"},
        "powerOff": {"timeout": 0, "retry_interval": 0},
    });
    let order = [
        "getVersion",
        "getCapabilities",
        "getHost",
        "getHostResources",
        "computeInventory",
        "getHostTraits",
        "getHostCpuStats",
        "spawn",
        "listInstances",
        "getInstance",
        "getConsoleOutput",
        "getSerialConsole",
        "getDiagnostics",
        "pause",
        "unpause",
        "suspend",
        "resume",
        "attachInterface",
        "detachInterface",
        "plugVifs",
        "snapshot",
        "getImage",
        "readImage",
        "pruneImages",
        "deleteImage",
        "reboot",
        "powerOff",
        "powerOn",
        "migrate",
        "finishMigration",
        "revertMigration",
        "migrate",
        "exportMigrationImage",
        "forgetMigrationImages",
        "finishMigration",
        "confirmMigration",
        "destroy",
    ];
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                ops.push((id.to_string(), path.clone(), method.clone()));
            }
        }
    }
    // Exercised elsewhere: the event stream never ends (tests/events.rs);
    // storing an image takes a tarball (below); fetching and uploading need
    // a real Glance (nova_shim and glance_backend tests).
    ops.retain(|(id, _, _)| {
        !["streamEvents", "storeImage", "fetchImage", "uploadImage"].contains(&id.as_str())
    });
    let distinct: std::collections::BTreeSet<&str> = order.iter().copied().collect();
    assert_eq!(
        ops.len(),
        distinct.len(),
        "every operation is exercised: {ops:?}"
    );
    for id in order {
        let (_, path, method) = ops
            .iter()
            .find(|(i, _, _)| i == id)
            .unwrap_or_else(|| panic!("{id} in spec"));
        let url = path
            .replace("{uuid}", &uuid)
            .replace("{port_id}", &port_id)
            .replace("{glance_id}", &snap);
        let body = bodies.get(id).map(Value::to_string);
        let r = request(&svc.socket, &method.to_uppercase(), &url, body.as_deref()).await;
        assert!(r.status < 400, "{id}: {} {}", r.status, r.raw);
        check(&spec, path, method, &r);
    }
    // After destroy, the instance routes answer with a documented 404.
    let r = request(&svc.socket, "GET", &format!("/v1/instances/{uuid}"), None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("InstanceNotFound"))
    );
    check(&spec, "/v1/instances/{uuid}", "get", &r);
}

/// Serial consoles on, on ports of their own.
const CONSOLE: &str = "[serial_console]\nenabled = true\nport_range = 38000:38999\n";

/// The console's answers, each as documented: its address, Nova's 409s
/// (consoles off, instance not running) and 404. No VIF: no Open vSwitch.
#[tokio::test]
async fn serial_console_answers_as_documented() {
    let spec = spec();
    let path = "/v1/instances/{uuid}/serial-console";
    let on = serve(compute_with(config(CONSOLE)).await).await;
    let off = serve(compute().await).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let url = path.replace("{uuid}", &uuid);
    let r = request(
        &on.socket,
        "POST",
        "/v1/instances",
        Some(&spawn_request(&uuid).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.raw);

    let r = request(&on.socket, "POST", &url, None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    check(&spec, path, "post", &r);
    let r = request(&off.socket, "POST", &url, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("ConsoleTypeUnavailable"))
    );
    check(&spec, path, "post", &r);
    let r = request(
        &on.socket,
        "POST",
        &format!("/v1/instances/{uuid}/pause"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = request(&on.socket, "POST", &url, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("InstanceNotReady"))
    );
    check(&spec, path, "post", &r);
    let r = request(&on.socket, "DELETE", &format!("/v1/instances/{uuid}"), None).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = request(&on.socket, "POST", &url, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("InstanceNotFound"))
    );
    check(&spec, path, "post", &r);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let spec = spec();
    let svc = serve(compute().await).await;
    let s = &svc.socket;
    let error_schema = json!({"$ref": "#/components/schemas/Error"});
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("GET", "/v1/nowhere".into(), None, 404, "NoSuchRoute"),
        ("PUT", "/v1/version".into(), None, 405, "MethodNotAllowed"),
        (
            "POST",
            "/v1/instances".into(),
            Some("{not json".into()),
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/v1/instances".into(),
            Some("[]".into()),
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/v1/instances".into(),
            Some(json!({"instance": {}, "flavor": {}, "image": {}, "surprise": 1}).to_string()),
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/v1/instances/not-a-uuid".into(),
            None,
            400,
            "BadRequest",
        ),
        (
            "POST",
            format!("/v1/instances/{}/reboot", new_uuid()),
            Some(json!({"type": "GENTLE"}).to_string()),
            400,
            "BadRequest",
        ),
        (
            "POST",
            format!("/v1/instances/{}/pause", new_uuid()),
            None,
            404,
            "InstanceNotFound",
        ),
        (
            "POST",
            "/v1/host/inventory".into(),
            Some("x".repeat(2 * 1024 * 1024)),
            413,
            "PayloadTooLarge",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let r = request(s, method, &path, body.as_deref()).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], code, "{method} {path}: {}", r.raw);
        validate(&spec, &error_schema, &r.body, "error").expect("error body follows the spec");
    }
    // The service is still serving after all that.
    assert_eq!(request(s, "GET", "/v1/version", None).await.status, 200);
}

/// VIFs that are not VIFs: refused as InvalidInput before anything is
/// touched, by every route that plugs; destroy skips them (they cannot have
/// been plugged) and cleans up the rest. No Open vSwitch needed: nothing is
/// plugged.
#[tokio::test]
async fn malformed_vifs_get_json_errors() {
    let spec = spec();
    let svc = serve(compute().await).await;
    let s = &svc.socket;
    let error_schema = json!({"$ref": "#/components/schemas/Error"});
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let mut no_id = vif(42, 10);
    no_id.as_object_mut().expect("object").remove("id");
    let mut bad_mac = vif(42, 10);
    bad_mac["address"] = json!("not-a-mac");
    let mut bad_mtu = vif(42, 10);
    bad_mtu["network"]["meta"]["mtu"] = json!("1400");
    let spawn_with = |nwinfo: Value| {
        let mut b = spawn_request(&uuid);
        b["network_info"] = nwinfo;
        Some(b.to_string())
    };
    let instance = format!("/v1/instances/{uuid}");
    // Method, path, body, then the answer: status, code, part of the message.
    type Case<'a> = (&'a str, String, Option<String>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/instances".into(),
            spawn_with(json!([no_id])),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: missing field `id`",
        ),
        (
            "POST",
            "/v1/instances".into(),
            spawn_with(json!([vif(42, 10), 5])),
            400,
            "InvalidInput",
            "network_info[1] is not a VIF: invalid type: integer `5`",
        ),
        (
            "POST",
            "/v1/instances".into(),
            spawn_with(json!([bad_mtu])),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: invalid type: string \"1400\"",
        ),
        (
            "POST",
            "/v1/instances".into(),
            spawn_with(json!([bad_mac])),
            400,
            "InvalidInput",
            "\"not-a-mac\" is not a MAC address",
        ),
        (
            "POST",
            "/v1/instances".into(),
            spawn_with(json!({"id": "x"})),
            400,
            "BadRequest",
            "network_info",
        ),
        (
            "POST",
            format!("{instance}/power-on"),
            Some(json!({"network_info": [{}]}).to_string()),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: missing field `id`",
        ),
        (
            "POST",
            format!("{instance}/reboot"),
            Some(json!({"type": "HARD", "network_info": [null]}).to_string()),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: invalid type: null",
        ),
        (
            "POST",
            format!("{instance}/plug"),
            Some(json!({"network_info": [{"id": 7}]}).to_string()),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: invalid type: integer `7`",
        ),
        (
            "POST",
            format!("{instance}/revert-migration"),
            Some(json!({"network_info": [{}]}).to_string()),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: missing field `id`",
        ),
        // Checked before the resize's commit: no resize is in progress, but
        // the VIFs are looked at first.
        (
            "POST",
            format!("{instance}/finish-migration"),
            spawn_with(json!([{}])),
            400,
            "InvalidInput",
            "network_info[0] is not a VIF: missing field `id`",
        ),
        (
            "POST",
            format!("{instance}/interfaces"),
            Some(json!({"vif": {}}).to_string()),
            404,
            "InstanceNotFound",
            "has no container",
        ),
    ];
    for (method, path, body, status, code, message) in cases {
        let r = request(s, method, &path, body.as_deref()).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], code, "{method} {path}: {}", r.raw);
        let text = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{method} {path}: {}", r.raw);
        validate(&spec, &error_schema, &r.body, "error").expect("error body follows the spec");
    }
    assert!(docker_inspect(&format!("nova-{uuid}")).is_none());
    // Destroy skips what is not a VIF and still removes the instance.
    let r = request(s, "POST", "/v1/instances", spawn_with(json!([])).as_deref()).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let r = request(
        s,
        "POST",
        &format!("{instance}/interfaces"),
        Some(&json!({"vif": {"id": null}}).to_string()),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("InvalidInput")),
        "{}",
        r.raw
    );
    assert!(
        r.raw.contains("is not a VIF: invalid type: null"),
        "{}",
        r.raw
    );
    let r = request(
        s,
        "DELETE",
        &instance,
        Some(&json!({"network_info": [{}, "x", no_id]}).to_string()),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(docker_inspect(&format!("nova-{uuid}")).is_none());
}

#[tokio::test]
async fn the_socket_is_group_accessible_only() {
    let svc = serve(compute().await).await;
    let mode = std::fs::metadata(&svc.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[tokio::test]
async fn storing_an_image_answers_as_documented() {
    let spec = spec();
    let svc = serve(compute().await).await;
    let id = new_uuid();
    let tar = docker_save(TEST_IMAGE);
    let conn = tokio::net::UnixStream::connect(&svc.socket)
        .await
        .expect("connect");
    let (status, body) = exchange(
        conn,
        "PUT",
        &format!("/v1/images/{id}/data"),
        "application/x-tar",
        &tar,
    )
    .await;
    let r = Response {
        status,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: String::from_utf8_lossy(&body).into_owned(),
    };
    check(&spec, "/v1/images/{glance_id}/data", "put", &r);
    assert_eq!(status, 201);
    assert_eq!(
        request(&svc.socket, "DELETE", &format!("/v1/images/{id}"), None)
            .await
            .status,
        204
    );
}

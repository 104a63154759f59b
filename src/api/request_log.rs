//! One log line per request with its status and how long the service took:
//! what an operator reads to tell novadock's share of an operation from
//! Nova's and Neutron's (benchmarks/rally/breakdown.py reads it too).
//! Actions log at INFO; reads, which Nova polls, at DEBUG.

use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

pub async fn log_requests(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    // For a streamed body (events, image data) this is the time to the
    // response's head, not to its end.
    let ms = started.elapsed().as_millis();
    let status = resp.status().as_u16();
    if method == Method::GET || method == Method::HEAD {
        tracing::debug!(%method, path, status, ms, "request");
    } else {
        tracing::info!(%method, path, status, ms, "request");
    }
    resp
}

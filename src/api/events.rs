//! GET /v1/events: the lifecycle transitions as a stream of JSON lines, with
//! a heartbeat so the client can tell a quiet host from a dead connection.
//! STOPPED comes `[novadock] lifecycle_event_delay` late, or not at all if
//! the instance changed again meanwhile (compute/holdback.rs, once for all
//! readers). The stream ends when the service shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use crate::compute::Compute;
use crate::compute::holdback::Feed;

const HEARTBEAT: Duration = Duration::from_secs(10);

fn lagged(missed: u64) -> String {
    format!("{{\"event\":\"lagged\",\"missed\":{missed}}}")
}

pub async fn stream(State(c): State<Compute>) -> Response {
    let rx = c.lifecycle_events();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let lines = futures_util::stream::unfold((rx, tick), |(mut rx, mut tick)| async move {
        let line = tokio::select! {
            ev = rx.recv() => match ev {
                Ok(Feed::Transition(t)) => serde_json::to_string(&t).unwrap_or_default(),
                // Too slow a reader, or transitions lost before the
                // hold-back: say so, Nova's power sync covers the gap.
                Ok(Feed::Lagged(n)) | Err(RecvError::Lagged(n)) => lagged(n),
                // The service is shutting down.
                Err(RecvError::Closed) => return None,
            },
            _ = tick.tick() => "{\"event\":\"heartbeat\"}".to_string(),
        };
        Some((Ok::<_, Infallible>(format!("{line}\n")), (rx, tick)))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

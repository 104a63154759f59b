//! The engine's event stream, for containers.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use super::{Engine, EngineError};

/// Something that happened to a container.
#[derive(Debug, Clone)]
pub struct ContainerEvent {
    /// Docker's action: create, start, die, destroy, rename, ...
    pub action: String,
    pub container_id: Option<String>,
    /// The container's labels and its name (`name`), as the event reports them.
    pub attributes: HashMap<String, String>,
}

impl Engine {
    /// Events of containers carrying all of these labels, from `since` (Unix
    /// seconds) on; the stream ends when the engine goes away. Events with
    /// no container named are left out.
    pub fn container_events(
        &self,
        since: u64,
        labels: Vec<String>,
    ) -> impl Stream<Item = Result<ContainerEvent, EngineError>> + use<> {
        let opts = EventsOptions {
            since: Some(since.to_string()),
            until: None,
            filters: Some(HashMap::from([
                ("type".to_string(), vec!["container".to_string()]),
                ("label".to_string(), labels),
            ])),
        };
        self.docker.events(Some(opts)).filter_map(|ev| {
            std::future::ready(match ev {
                Ok(ev) => ev.actor.map(|actor| {
                    Ok(ContainerEvent {
                        action: ev.action.unwrap_or_default(),
                        container_id: actor.id,
                        attributes: actor.attributes.unwrap_or_default(),
                    })
                }),
                Err(e) => Some(Err(EngineError::from(e))),
            })
        })
    }
}

//! Nova's power state of a container, from what Docker reports about it.

use crate::docker::{ContainerInspectResponse, ContainerStateStatusEnum as S};

use crate::docker::container_spec::SUSPENDED_CPU_SHARES;
use crate::docker::naming::LABEL_CPU_SHARES;
use crate::model::PowerState;

pub fn of(c: &ContainerInspectResponse) -> PowerState {
    let Some(state) = &c.state else {
        return PowerState::Nostate;
    };
    let paused = state.paused.unwrap_or(false);
    let running = state.running.unwrap_or(false);
    if paused {
        // Suspend is a freeze with the CPU weight parked at the minimum; the
        // flavor's own weight is on a label, so a plain pause is never mistaken.
        let shares = c.host_config.as_ref().and_then(|h| h.cpu_shares);
        let flavor_shares = c
            .config
            .as_ref()
            .and_then(|cfg| cfg.labels.as_ref())
            .and_then(|l| l.get(LABEL_CPU_SHARES))
            .and_then(|v| v.parse::<i64>().ok());
        return if shares == Some(SUSPENDED_CPU_SHARES)
            && flavor_shares != Some(SUSPENDED_CPU_SHARES)
        {
            PowerState::Suspended
        } else {
            PowerState::Paused
        };
    }
    if running {
        return PowerState::Running;
    }
    match state.status {
        // An OOM kill is SHUTDOWN too: Nova acts on a STOPPED lifecycle event
        // only when get_info agrees with it, and stops the server either way.
        // Why it stopped is in the console log (console.rs).
        Some(S::EXITED | S::DEAD | S::CREATED | S::STOPPING) => PowerState::Shutdown,
        Some(S::RUNNING | S::RESTARTING) => PowerState::Running,
        Some(S::PAUSED) => PowerState::Paused,
        Some(S::REMOVING | S::EMPTY) | None => PowerState::Nostate,
    }
}

/// Whether the container's processes exist (running or frozen).
pub fn is_up(state: &PowerState) -> bool {
    matches!(
        state,
        PowerState::Running | PowerState::Paused | PowerState::Suspended
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::{ContainerConfig, ContainerState, HostConfig};
    use std::collections::HashMap;

    fn container(
        status: S,
        running: bool,
        paused: bool,
        oom: bool,
        shares: i64,
    ) -> ContainerInspectResponse {
        ContainerInspectResponse {
            state: Some(ContainerState {
                status: Some(status),
                running: Some(running),
                paused: Some(paused),
                oom_killed: Some(oom),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                cpu_shares: Some(shares),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                labels: Some(HashMap::from([(
                    LABEL_CPU_SHARES.to_string(),
                    "1024".to_string(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn states_map_to_nova() {
        assert_eq!(
            of(&container(S::RUNNING, true, false, false, 1024)),
            PowerState::Running
        );
        assert_eq!(
            of(&container(S::PAUSED, true, true, false, 1024)),
            PowerState::Paused
        );
        assert_eq!(
            of(&container(S::PAUSED, true, true, false, 2)),
            PowerState::Suspended
        );
        assert_eq!(
            of(&container(S::EXITED, false, false, false, 1024)),
            PowerState::Shutdown
        );
        assert_eq!(
            of(&container(S::EXITED, false, false, true, 1024)),
            PowerState::Shutdown,
            "OOM-killed"
        );
        assert_eq!(
            of(&container(S::CREATED, false, false, false, 1024)),
            PowerState::Shutdown
        );
        assert_eq!(
            of(&ContainerInspectResponse::default()),
            PowerState::Nostate
        );
    }
}

//! Nova's power state of a container, from what Docker reports about it.

use crate::docker::container_spec::SUSPENDED_CPU_SHARES;
use crate::docker::naming::LABEL_CPU_SHARES;
use crate::docker::{Container, Status as S};
use crate::model::PowerState;

pub fn of(c: &Container) -> PowerState {
    let Some(state) = &c.state else {
        return PowerState::Nostate;
    };
    if state.paused {
        // Suspend is a freeze with the CPU weight parked at the minimum; the
        // flavor's own weight is on a label, so a plain pause is never mistaken.
        let flavor_shares = c
            .labels
            .get(LABEL_CPU_SHARES)
            .and_then(|v| v.parse::<i64>().ok());
        return if c.cpu_shares == Some(SUSPENDED_CPU_SHARES)
            && flavor_shares != Some(SUSPENDED_CPU_SHARES)
        {
            PowerState::Suspended
        } else {
            PowerState::Paused
        };
    }
    if state.running {
        return PowerState::Running;
    }
    match state.status {
        // An OOM kill is SHUTDOWN too: Nova acts on a STOPPED lifecycle event
        // only when get_info agrees with it, and stops the server either way.
        // Why it stopped is in the console log (console.rs).
        Some(S::Exited | S::Dead | S::Created | S::Stopping) => PowerState::Shutdown,
        Some(S::Running | S::Restarting) => PowerState::Running,
        Some(S::Paused) => PowerState::Paused,
        Some(S::Removing) | None => PowerState::Nostate,
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
    use crate::docker::RunState;
    use std::collections::HashMap;

    fn container(status: S, running: bool, paused: bool, oom: bool, shares: i64) -> Container {
        Container {
            state: Some(RunState {
                status: Some(status),
                running,
                paused,
                oom_killed: oom,
                ..Default::default()
            }),
            cpu_shares: Some(shares),
            labels: HashMap::from([(LABEL_CPU_SHARES.to_string(), "1024".to_string())]),
            ..Default::default()
        }
    }

    #[test]
    fn states_map_to_nova() {
        assert_eq!(
            of(&container(S::Running, true, false, false, 1024)),
            PowerState::Running
        );
        assert_eq!(
            of(&container(S::Paused, true, true, false, 1024)),
            PowerState::Paused
        );
        assert_eq!(
            of(&container(S::Paused, true, true, false, 2)),
            PowerState::Suspended
        );
        assert_eq!(
            of(&container(S::Exited, false, false, false, 1024)),
            PowerState::Shutdown
        );
        assert_eq!(
            of(&container(S::Exited, false, false, true, 1024)),
            PowerState::Shutdown,
            "OOM-killed"
        );
        assert_eq!(
            of(&container(S::Created, false, false, false, 1024)),
            PowerState::Shutdown
        );
        assert_eq!(of(&Container::default()), PowerState::Nostate);
    }
}

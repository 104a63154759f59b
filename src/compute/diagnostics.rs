//! What `openstack server diagnostics` shows: CPU time and memory from the
//! container's cgroup, and per Nova VIF the traffic of its veth.

use super::{Compute, claimed_vcpus, info, label, power_state};
use crate::docker::containers::Usage;
use crate::docker::naming;
use crate::error::Error;
use crate::image::catalog::parse_rfc3339;
use crate::model::{Diagnostics, NicDiagnostics};

/// A counter of a host link, as the container sees it: the veth's host end
/// receives what the container sends.
fn counter(devname: &str, name: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{devname}/statistics/{name}"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl Compute {
    pub async fn diagnostics(&self, uuid: &str) -> Result<Diagnostics, Error> {
        let c = self.inspect(uuid).await?;
        let state = info(&c).power_state;
        let up = power_state::is_up(&state);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let started = c
            .state
            .as_ref()
            .and_then(|s| s.started_at.as_deref())
            .and_then(parse_rfc3339);
        // A stopped container has no cgroup to read.
        let usage = if up {
            self.docker()
                .usage(&naming::container_name(uuid))
                .await?
                .unwrap_or_default()
        } else {
            Usage::default()
        };
        let mut nics = Vec::new();
        for (devname, mac) in self.network().port_macs(uuid).await.unwrap_or_default() {
            nics.push(NicDiagnostics {
                mac_address: mac,
                rx_octets: counter(&devname, "tx_bytes"),
                rx_packets: counter(&devname, "tx_packets"),
                rx_errors: counter(&devname, "tx_errors"),
                rx_drop: counter(&devname, "tx_dropped"),
                tx_octets: counter(&devname, "rx_bytes"),
                tx_packets: counter(&devname, "rx_packets"),
                tx_errors: counter(&devname, "rx_errors"),
                tx_drop: counter(&devname, "rx_dropped"),
                devname,
            });
        }
        let limit = c.memory_limit.unwrap_or(0);
        Ok(Diagnostics {
            power_state: state,
            uptime_seconds: match (up, started) {
                (true, Some(t)) => (now - t).max(0),
                _ => 0,
            },
            vcpus: claimed_vcpus(label(&c, naming::LABEL_VCPUS)),
            cpu_time_ns: usage.cpu_time_ns,
            memory_limit_mb: limit / (1024 * 1024),
            // Rounded up: a running container always uses some memory.
            memory_used_mb: usage.memory_bytes.div_ceil(1024 * 1024) as i64,
            nics,
        })
    }
}

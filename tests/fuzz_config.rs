//! Fuzzing config parsing: any nova.conf text is either a valid Config whose
//! values keep their bounds, or an error naming what is wrong — never a panic.
//! Cases: $PROPTEST_CASES (default 3000, the CI run).

use std::path::Path;

use novadock::config::{Config, NOVADOCK_KEYS, RawConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

/// Options of other sections the service reads.
const OTHER_KEYS: &[&str] = &[
    "ovs_bridge",
    "host",
    "my_ip",
    "cpu_allocation_ratio",
    "initial_cpu_allocation_ratio",
    "reserved_host_memory_mb",
];

fn runner_config() -> RunnerConfig {
    RunnerConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(3000),
        failure_persistence: None,
        ..RunnerConfig::default()
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        Just(String::new()),
        Just("nova, glance,".to_string()),
        Just("127.0.0.1:9293".to_string()),
        Just("unix:///var/run/docker.sock".to_string()),
        "[ -~]{0,30}",
        ".{0,30}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["DEFAULT", "novadock", "neutron", "NOVADOCK", "glance"])
            .prop_map(|s| format!("[{s}]")),
        "\\[[ -~]{0,12}\\]?",
        (
            prop::sample::select([NOVADOCK_KEYS, OTHER_KEYS].concat()),
            value()
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        ("[ -~]{0,12}", "[=:]", value()).prop_map(|(k, sep, v)| format!("{k}{sep}{v}")),
        "[#;][ -~]{0,20}",
        "\\s{0,4}[ -~]{0,20}",
        ".{0,40}",
    ]
}

#[test]
fn any_config_text_parses_or_says_why() {
    let mut runner = TestRunner::new(runner_config());
    runner
        .run(&prop::collection::vec(line(), 0..24), |lines| {
            let text = lines.join("\n");
            let mut raw = RawConfig::default();
            if let Err(e) = raw.merge_str(&text, Path::new("fuzz.conf")) {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
            let _ = Config::unknown_keys(&raw);
            match Config::from_raw(&raw) {
                Ok(c) => {
                    prop_assert!(c.novadock.pids_limit >= 1);
                    prop_assert!((0.0..=60.0).contains(&c.novadock.startup_check_seconds));
                    let names_ok = c.novadock.cap_drop.iter().all(|c| {
                        !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                    });
                    prop_assert!(names_ok, "{:?}", c.novadock.cap_drop);
                    prop_assert!(!c.novadock.docker_network.is_empty());
                }
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(text.contains('['), "the error names the option: {text}");
                }
            }
            Ok(())
        })
        .expect("every config text parses or is refused with a reason");
}

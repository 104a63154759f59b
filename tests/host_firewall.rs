//! The host's firewall for Docker's bridge, as `tools/lib/dockerd.sh`
//! `novadock_docker_host_firewall` sets it and `novadock check` reads it,
//! both run in a network namespace of the test's own (its own iptables and
//! ip6tables, a bridge named docker0, an uplink with IPv4 and IPv6 default
//! routes): the host's real firewall is never touched.

mod common;

use std::process::Command;

use common::TempDir;
use novadock::host_firewall::{docker_user_rule, input_rule};

const BIN: &str = env!("CARGO_BIN_EXE_novadock");

/// `novadock check` before and after the tool, then what each table holds.
const SCRIPT: &str = r#"
set -e
ip link add docker0 type bridge
ip link add up0 type veth peer name up1
ip link set up1 up
ip link set up0 up
ip addr add 198.18.99.2/24 dev up0
ip route add default via 198.18.99.1
ip -6 addr add 2001:db8:99::2/64 dev up0 nodad
ip -6 route add default via 2001:db8:99::1
# dockerd's chains, with its RETURN (ip6tables' only with "ip6tables": true).
for t in iptables ip6tables; do $t -N DOCKER-USER; $t -A DOCKER-USER -j RETURN; done
"$BIN" check --config-file "$CONF"
echo ===
. tools/lib/dockerd.sh
novadock_docker_host_firewall docker0
novadock_docker_host_firewall docker0
"$BIN" check --config-file "$CONF"
for t in iptables ip6tables; do
  echo ===; $t -S INPUT; echo ===; $t -S DOCKER-USER
done
"#;

#[test]
fn the_tools_rules_are_what_check_looks_for_in_both_families() {
    let dir = TempDir::new();
    let conf = dir.0.join("nova.conf");
    std::fs::write(
        &conf,
        format!(
            "[novadock]\nsocket_path = {}/s/novadock.sock\n",
            dir.0.display()
        ),
    )
    .expect("config");
    let out = Command::new("unshare")
        .args(["--net", "bash", "-c", SCRIPT])
        .env("BIN", BIN)
        .env("CONF", &conf)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parts: Vec<&str> = text.split("===\n").collect();
    let [before, after, v4_input, v4_user, v6_input, v6_user] = parts[..] else {
        panic!("{text}");
    };

    // Without the rules, check warns and says how to add them.
    assert!(
        before.contains(
            "WARN firewall: iptables: the INPUT rule that keeps containers on docker0 off \
             the host's own services is missing: \
             `iptables -I INPUT -i docker0 -m conntrack --ctstate NEW -j DROP`"
        ),
        "{before}"
    );
    assert!(
        before.contains("`iptables -I DOCKER-USER -i docker0 ! -o up0 -j DROP`"),
        "{before}"
    );
    assert!(!before.contains("OK   firewall"), "{before}");
    // With them, it does not.
    assert!(!after.contains("WARN firewall"), "{after}");
    assert_eq!(
        after.matches("OK   firewall: iptables").count(),
        2,
        "{after}"
    );

    for (family, input, user) in [("IPv4", v4_input, v4_user), ("IPv6", v6_input, v6_user)] {
        assert_eq!(input_rule(input, "docker0"), Ok(()), "{family}: {input}");
        assert_eq!(
            docker_user_rule(user, "docker0"),
            Ok(()),
            "{family}: {user}"
        );
        // Twice run, once there; before dockerd's RETURN.
        assert_eq!(input.matches("-i docker0").count(), 1, "{family}: {input}");
        assert_eq!(user.matches("-i docker0").count(), 1, "{family}: {user}");
        assert!(
            user.find("-i docker0 ! -o up0 -j DROP") < user.find("-j RETURN"),
            "{family}: {user}"
        );
    }
}

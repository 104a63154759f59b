//! Whether the host's firewall keeps containers on Docker's bridge (eth0,
//! shared by every project) off the host's own services and out of its
//! other networks: the rules `tools/lib/dockerd.sh`
//! `novadock_docker_host_firewall` inserts, read back from `iptables -S`
//! for `novadock check`. Docker does not add them; an operator who set the
//! host up by hand may lack them, and nothing else would say so.

use std::time::Duration;

/// A rule of `iptables -S` as words, the quotes of `--comment "a b"` kept
/// together.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// What one `-A CHAIN ...` rule says, as far as these checks care.
#[derive(Debug, Default)]
struct Rule {
    /// `-i`, unless negated.
    input: Option<String>,
    /// Anything negated on `-i`, or any match these checks do not know
    /// (ports, addresses, protocols...): the rule covers only part of the
    /// traffic.
    partial: bool,
    /// `--ctstate`/`--state` list, when it matches on connection state.
    states: Option<String>,
    /// `! -o` (what leaves by any device but this one).
    not_output: Option<String>,
    /// `-o` without negation.
    output: Option<String>,
    target: Option<String>,
}

fn parse(line: &str, chain: &str) -> Option<Rule> {
    let w = words(line);
    if w.first().map(String::as_str) != Some("-A") || w.get(1).map(String::as_str) != Some(chain) {
        return None;
    }
    let mut rule = Rule::default();
    let mut i = 2;
    let mut negate = false;
    while i < w.len() {
        let arg = w.get(i + 1).cloned();
        match (w[i].as_str(), negate) {
            ("!", _) => {
                negate = true;
                i += 1;
                continue;
            }
            ("-i" | "--in-interface", false) => rule.input = arg,
            ("-o" | "--out-interface", true) => rule.not_output = arg,
            ("-o" | "--out-interface", false) => rule.output = arg,
            ("-m" | "--match", false)
                if matches!(arg.as_deref(), Some("conntrack" | "state" | "comment")) => {}
            ("--ctstate" | "--state", false) => rule.states = arg,
            ("--comment", false) => {}
            ("-j" | "--jump", false) => rule.target = arg,
            _ => rule.partial = true,
        }
        negate = false;
        i += 2;
    }
    Some(rule)
}

/// Whether an interface pattern of iptables (`docker0`, `docker+`) matches
/// `device`.
fn matches_device(pattern: &str, device: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(prefix) => device.starts_with(prefix),
        None => pattern == device,
    }
}

/// A rule that lets `bridge`'s traffic through before anything after it
/// is looked at: an ACCEPT (or, in DOCKER-USER, RETURN) with no condition
/// but, at most, the bridge itself.
fn lets_all_through(rule: &Rule, bridge: &str, chain: &str) -> bool {
    let passes = match rule.target.as_deref() {
        Some("ACCEPT") => true,
        Some("RETURN") => chain == "DOCKER-USER",
        _ => false,
    };
    passes
        && !rule.partial
        && rule.states.is_none()
        && rule.output.is_none()
        && rule.not_output.is_none()
        && rule
            .input
            .as_deref()
            .is_none_or(|p| matches_device(p, bridge))
}

fn drops(rule: &Rule) -> bool {
    matches!(rule.target.as_deref(), Some("DROP" | "REJECT"))
}

/// Whether the first rule of `listing` (`iptables -S CHAIN`) that `defends`
/// comes before any rule that lets the bridge's traffic through: Ok(()) when
/// it does, else why not.
fn find(
    listing: &str,
    chain: &str,
    bridge: &str,
    defends: impl Fn(&Rule) -> bool,
) -> Result<(), String> {
    for line in listing.lines() {
        let Some(rule) = parse(line, chain) else {
            continue;
        };
        if defends(&rule) {
            return Ok(());
        }
        if lets_all_through(&rule, bridge, chain) {
            return Err(format!(
                "comes after `{}`, which lets {bridge}'s traffic through first",
                line.trim()
            ));
        }
    }
    Err("is missing".to_string())
}

/// The rule keeping containers from opening connections to the host:
/// new connections (or everything) from the bridge dropped in INPUT.
pub fn input_rule(listing: &str, bridge: &str) -> Result<(), String> {
    find(listing, "INPUT", bridge, |r| {
        drops(r)
            && !r.partial
            && r.output.is_none()
            && r.input
                .as_deref()
                .is_some_and(|p| matches_device(p, bridge))
            && r.states
                .as_deref()
                .is_none_or(|s| s.split(',').any(|s| s == "NEW"))
    })
}

/// The rule keeping containers out of the host's other networks: in
/// DOCKER-USER, what comes from the bridge goes out the uplink only (or
/// nowhere).
pub fn docker_user_rule(listing: &str, bridge: &str) -> Result<(), String> {
    find(listing, "DOCKER-USER", bridge, |r| {
        drops(r)
            && !r.partial
            && r.output.is_none()
            && r.states.is_none()
            && r.input
                .as_deref()
                .is_some_and(|p| matches_device(p, bridge))
    })
}

/// The default route's device, for the fix's text (`/proc/net/route`).
fn uplink() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000")).then(|| f[0].to_string())
    })
}

/// `TOOL -S CHAIN`: Ok(listing), Ok(None) when the chain does not exist,
/// Err when the tool cannot be run or read.
async fn list(tool: &str, chain: &str) -> Result<Option<String>, String> {
    let run = tokio::process::Command::new(tool)
        .args(["-w", "5", "-S", chain])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map_err(|_| format!("`{tool} -S {chain}` did not answer in 10 s"))?
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    // Legacy iptables says "No chain/target/match by that name", nft's
    // "chain `X' in table `filter' is incompatible".
    if err.contains("No chain") || err.contains("incompatible") {
        return Ok(None);
    }
    Err(format!("`{tool} -S {chain}`: {}", err.trim()))
}

/// The checks for `bridge` with `tool` (iptables, or ip6tables when the
/// bridge has IPv6): (holds, text) for `novadock check`.
pub async fn report(tool: &str, bridge: &str) -> Vec<(bool, String)> {
    let uplink = uplink().unwrap_or_else(|| "<uplink>".to_string());
    let how = "(tools/lib/dockerd.sh novadock_docker_host_firewall adds both)";
    let mut out = Vec::new();
    match list(tool, "INPUT").await {
        Ok(listing) => match input_rule(listing.as_deref().unwrap_or_default(), bridge) {
            Ok(()) => out.push((
                true,
                format!("{tool}: containers on {bridge} cannot open connections to the host"),
            )),
            Err(why) => out.push((
                false,
                format!(
                    "{tool}: the INPUT rule that keeps containers on {bridge} off the host's own \
                     services {why}: `{tool} -I INPUT -i {bridge} -m conntrack --ctstate NEW -j DROP` {how}"
                ),
            )),
        },
        Err(e) => out.push((false, format!("{tool}: cannot read the host's firewall: {e}"))),
    }
    match list(tool, "DOCKER-USER").await {
        Ok(Some(listing)) => match docker_user_rule(&listing, bridge) {
            Ok(()) => out.push((
                true,
                format!("{tool}: what comes from {bridge} leaves by the uplink only (DOCKER-USER)"),
            )),
            Err(why) => out.push((
                false,
                format!(
                    "{tool}: the DOCKER-USER rule that keeps containers on {bridge} out of the \
                     host's other networks (Neutron's provider bridges) {why}: \
                     `{tool} -I DOCKER-USER -i {bridge} ! -o {uplink} -j DROP` {how}"
                ),
            )),
        },
        Ok(None) => out.push((
            false,
            format!(
                "{tool}: no DOCKER-USER chain (dockerd does not manage {tool}): nothing keeps \
                 containers on {bridge} out of the host's other networks"
            ),
        )),
        Err(e) => out.push((
            false,
            format!("{tool}: cannot read the host's firewall: {e}"),
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `iptables -S` shows on a host set up by
    /// `novadock_docker_host_firewall` (this machine's, with a typical
    /// firewall around it).
    const INPUT: &str = "-P INPUT ACCEPT
-A INPUT -i docker0 -m conntrack --ctstate NEW -j DROP
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
";
    const DOCKER_USER: &str = "-N DOCKER-USER
-A DOCKER-USER -i docker0 ! -o eth0 -j DROP
-A DOCKER-USER -j RETURN
";

    #[test]
    fn the_tools_rules_are_recognised() {
        assert_eq!(input_rule(INPUT, "docker0"), Ok(()));
        assert_eq!(docker_user_rule(DOCKER_USER, "docker0"), Ok(()));
        // Stricter forms hold too.
        for input in [
            "-A INPUT -i docker0 -j DROP",
            "-A INPUT -i docker+ -m state --state NEW -j REJECT",
            "-A INPUT -i docker0 -m conntrack --ctstate NEW,INVALID -m comment --comment \"novadock: no host\" -j DROP",
        ] {
            assert_eq!(input_rule(input, "docker0"), Ok(()), "{input}");
        }
        assert_eq!(
            docker_user_rule("-A DOCKER-USER -i docker0 -j DROP", "docker0"),
            Ok(())
        );
        // A broad ACCEPT for another device does not let the bridge through.
        assert_eq!(
            input_rule(
                "-A INPUT -i lo -j ACCEPT\n-A INPUT -i docker0 -m conntrack --ctstate NEW -j DROP",
                "docker0"
            ),
            Ok(())
        );
    }

    #[test]
    fn missing_partial_and_shadowed_rules_are_told() {
        let missing = input_rule("-P INPUT ACCEPT\n", "docker0").expect_err("none");
        assert_eq!(missing, "is missing");
        assert!(docker_user_rule("-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n", "docker0").is_err());
        for partial in [
            // Another bridge's.
            "-A INPUT -i br-1234 -m conntrack --ctstate NEW -j DROP",
            // Only some ports, or only some sources.
            "-A INPUT -i docker0 -p tcp --dport 22 -m conntrack --ctstate NEW -j DROP",
            "-A INPUT -s 198.19.128.0/20 -i docker0 -j DROP",
            // Not new connections, or everything but the bridge.
            "-A INPUT -i docker0 -m conntrack --ctstate INVALID -j DROP",
            "-A INPUT ! -i docker0 -j DROP",
            // Logged, not dropped.
            "-A INPUT -i docker0 -m conntrack --ctstate NEW -j LOG",
        ] {
            assert!(input_rule(partial, "docker0").is_err(), "{partial}");
        }
        // After an ACCEPT of everything (or of the bridge), it is never reached.
        let shadowed = input_rule(
            "-A INPUT -i docker0 -j ACCEPT\n-A INPUT -i docker0 -m conntrack --ctstate NEW -j DROP",
            "docker0",
        )
        .expect_err("shadowed");
        assert!(
            shadowed.contains("comes after `-A INPUT -i docker0 -j ACCEPT`"),
            "{shadowed}"
        );
        let shadowed = docker_user_rule(
            "-A DOCKER-USER -j RETURN\n-A DOCKER-USER -i docker0 ! -o eth0 -j DROP",
            "docker0",
        )
        .expect_err("after RETURN");
        assert!(shadowed.contains("RETURN"), "{shadowed}");
        // RETURN ends DOCKER-USER only; in INPUT it is not this kind of rule.
        assert_eq!(
            input_rule(
                "-A INPUT -i docker0 -m conntrack --ctstate NEW -j DROP",
                "docker0"
            ),
            Ok(())
        );
    }

    #[test]
    fn quoted_comments_are_one_word() {
        assert_eq!(
            words("-A INPUT -m comment --comment \"a b\" -j DROP"),
            [
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "a b",
                "-j",
                "DROP"
            ]
        );
    }
}

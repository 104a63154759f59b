//! VIF plugging with real Open vSwitch (userspace datapath) and real
//! containers: what the container and Neutron's agent would see, and
//! traffic from a port on br-int.

mod common;

use common::*;
use novadock::model::{PowerState, RebootType, SpawnRequest};
use serde_json::{Value, json};

fn req(v: Value) -> SpawnRequest {
    serde_json::from_value(v).expect("valid spawn request")
}

fn with_vifs(uuid: &str, vifs: &[Value]) -> Value {
    let mut r = spawn_request(uuid);
    r["network_info"] = Value::Array(vifs.to_vec());
    r
}

fn devname(v: &Value) -> String {
    v["devname"].as_str().expect("devname").to_string()
}

#[tokio::test]
async fn two_vifs_become_eth1_and_eth2_with_their_port_settings() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v1 = {
        let mut v = vif(11, 10);
        v["network"]["subnets"][0]["routes"] =
            json!([{"cidr": "198.19.200.0/24", "gateway": {"address": "198.18.11.254"}}]);
        v["network"]["subnets"][0]["dns"] = json!([{"address": "198.18.11.2"}]);
        v
    };
    let v2 = {
        let mut v = vif(12, 20);
        v["network"]["meta"]["mtu"] = 1450.into();
        v["network"]["subnets"][0]["ips"] =
            json!([{"address": "198.18.12.20"}, {"address": "198.18.12.21"}]);
        v["network"]["subnets"]
            .as_array_mut()
            .expect("subnets")
            .push(json!({
            "cidr": "2001:2:0:12::/64", "version": 6, "gateway": {"address": "2001:2:0:12::1"},
            "ips": [{"address": "2001:2:0:12::20"}], "routes": [], "dns": []}));
        v
    };
    let probe = Probe::new(11);
    c.spawn(&req(with_vifs(&uuid, &[v1.clone(), v2.clone()])))
        .await
        .expect("spawn");

    let links = exec(&uuid, "ls /sys/class/net");
    assert_eq!(
        links.split_whitespace().collect::<Vec<_>>(),
        vec!["eth0", "eth1", "eth2", "lo"]
    );
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth1/address").trim(),
        v1["address"].as_str().expect("mac")
    );
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth2/address").trim(),
        v2["address"].as_str().expect("mac")
    );
    assert_eq!(exec(&uuid, "cat /sys/class/net/eth1/mtu").trim(), "1400");
    assert_eq!(exec(&uuid, "cat /sys/class/net/eth2/mtu").trim(), "1450");
    let addrs = exec(&uuid, "ip -o addr");
    for a in [
        "198.18.11.10/24",
        "198.18.12.20/24",
        "198.18.12.21/24",
        "2001:2:0:12::20/64",
    ] {
        assert!(addrs.contains(a), "{a} in {addrs}");
    }
    let routes = exec(&uuid, "ip route");
    assert!(
        routes.contains("default via 198.18.11.1 dev eth1"),
        "{routes}"
    );
    assert!(
        routes.contains("198.19.200.0/24 via 198.18.11.254 dev eth1"),
        "{routes}"
    );
    assert!(
        !routes.contains(&format!("default via {}", docker_gateway())),
        "Docker's default route is replaced: {routes}"
    );
    assert!(exec(&uuid, "ip -6 route").contains("default via 2001:2:0:12::1 dev eth2"));
    assert!(exec(&uuid, "cat /etc/resolv.conf").contains("nameserver 198.18.11.2"));

    for v in [&v1, &v2] {
        let dev = devname(v);
        let ids = vsctl(&["get", "Interface", &dev, "external_ids"]);
        assert!(
            ids.contains(&format!("iface-id=\"{}\"", v["id"].as_str().expect("id"))),
            "{ids}"
        );
        assert!(ids.contains("iface-status=active"), "{ids}");
        assert!(
            ids.contains(&format!(
                "attached-mac=\"{}\"",
                v["address"].as_str().expect("mac")
            )),
            "{ids}"
        );
        assert!(ids.contains(&format!("vm-uuid=\"{uuid}\"")), "{ids}");
        assert_eq!(vsctl(&["iface-to-br", &dev]), "br-int");
        assert!(host_link_exists(&dev));
    }
    assert!(probe.ping("198.18.11.10"), "eth1 answers from br-int");

    c.destroy(&uuid, &[]).await.expect("destroy");
    for v in [&v1, &v2] {
        assert!(!host_link_exists(&devname(v)), "veth removed");
        assert_eq!(
            vsctl(&["--if-exists", "get", "Interface", &devname(v), "name"]),
            "",
            "OVS port removed"
        );
    }
}

#[tokio::test]
async fn docker_can_keep_the_default_route() {
    let c = novadock::compute::Compute::new(
        compute().await.docker().clone(),
        config("default_route = docker\n"),
    )
    .expect("compute");
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(13, 10);
    c.spawn(&req(with_vifs(&uuid, std::slice::from_ref(&v))))
        .await
        .expect("spawn");
    let routes = exec(&uuid, "ip route");
    assert!(
        routes.contains(&format!("default via {} dev eth0", docker_gateway())),
        "{routes}"
    );
    assert!(routes.contains("198.18.13.0/24 dev eth1"), "{routes}");
    c.destroy(&uuid, &[]).await.expect("destroy");
}

#[tokio::test]
async fn connectivity_survives_stop_start_and_both_reboots() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(14, 10);
    let nwinfo = vec![v.clone()];
    let probe = Probe::new(14);
    c.spawn(&req(with_vifs(&uuid, &nwinfo)))
        .await
        .expect("spawn");
    assert!(probe.ping("198.18.14.10"));

    assert_eq!(
        c.power_off(&uuid, 5, 1).await.expect("off").power_state,
        PowerState::Shutdown
    );
    // The kernel tears a dead namespace down in the background.
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !host_link_exists(&devname(&v))
    });
    assert!(gone, "the veth goes with the namespace");
    assert!(!probe.ping("198.18.14.10"));
    assert_eq!(
        c.power_on(&uuid, &nova_vifs(&nwinfo))
            .await
            .expect("on")
            .power_state,
        PowerState::Running
    );
    assert!(probe.ping("198.18.14.10"), "after stop/start");

    c.reboot(&uuid, RebootType::Soft, Some(5), &nova_vifs(&nwinfo))
        .await
        .expect("soft");
    assert!(probe.ping("198.18.14.10"), "after a soft reboot");
    c.reboot(&uuid, RebootType::Hard, None, &nova_vifs(&nwinfo))
        .await
        .expect("hard");
    assert!(probe.ping("198.18.14.10"), "after a hard reboot");
    assert_eq!(exec(&uuid, "ls /sys/class/net | grep -c eth1").trim(), "1");
    c.destroy(&uuid, &nova_vifs(&nwinfo))
        .await
        .expect("destroy");
    assert!(!host_link_exists(&devname(&v)));
}

/// `[os_vif_ovs] isolate_vif`: a port talks to nothing until Neutron's OVS
/// agent takes it off the dead VLAN, and a replug starts isolated again.
#[tokio::test]
async fn an_isolated_port_talks_only_once_the_agent_wires_it() {
    let c = compute_with(config("[os_vif_ovs]\nisolate_vif = True\n")).await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(31, 10);
    let nwinfo = vec![v.clone()];
    let probe = Probe::new(31);
    c.spawn(&req(with_vifs(&uuid, &nwinfo)))
        .await
        .expect("spawn");
    let dev = devname(&v);
    assert_eq!(vsctl(&["get", "Port", &dev, "tag"]), "4095");
    assert!(
        !ping_from(&probe.ns, "198.18.31.10", 3),
        "an unwired port is reachable"
    );
    // What the agent does once it has wired the port: the network's local
    // VLAN, here the probe's (untagged).
    vsctl(&["clear", "Port", &dev, "tag"]);
    assert!(probe.ping("198.18.31.10"), "once wired");

    c.reboot(&uuid, RebootType::Hard, None, &nova_vifs(&nwinfo))
        .await
        .expect("hard");
    assert_eq!(
        vsctl(&["get", "Port", &dev, "tag"]),
        "4095",
        "a replugged port waits for the agent again"
    );
    c.destroy(&uuid, &nova_vifs(&nwinfo))
        .await
        .expect("destroy");
}

#[tokio::test]
async fn interfaces_attach_and_detach_on_a_running_instance() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v1 = vif(15, 10);
    c.spawn(&req(with_vifs(&uuid, std::slice::from_ref(&v1))))
        .await
        .expect("spawn");
    let probe = Probe::new(16);
    let v2 = vif(16, 10);
    let attached = c
        .attach_interface(&uuid, &v2.clone().into())
        .await
        .expect("attach");
    assert_eq!(attached.ifname, "eth2");
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth2/address").trim(),
        v2["address"].as_str().expect("mac")
    );
    assert!(
        exec(&uuid, "ip route").contains("default via 198.18.15.1 dev eth1"),
        "default route stays"
    );
    assert!(probe.ping("198.18.16.10"), "the new interface answers");
    assert!(vsctl(&["get", "Interface", &devname(&v2), "external_ids"]).contains(&uuid));

    c.detach_interface(&uuid, v2["id"].as_str().expect("id"))
        .await
        .expect("detach");
    assert!(!exec(&uuid, "ls /sys/class/net").contains("eth2"));
    assert!(!host_link_exists(&devname(&v2)));
    assert_eq!(
        vsctl(&["--if-exists", "get", "Interface", &devname(&v2), "name"]),
        ""
    );
    c.detach_interface(&uuid, v2["id"].as_str().expect("id"))
        .await
        .expect("detaching twice is fine");
    assert!(
        exec(&uuid, "ls /sys/class/net").contains("eth1"),
        "the other VIF stays"
    );
    c.destroy(&uuid, &[]).await.expect("destroy");
}

fn leftovers(ports: &[String]) -> (usize, usize) {
    let links = ports.iter().filter(|p| host_link_exists(p)).count();
    let all = vsctl(&[
        "--format=csv",
        "--data=bare",
        "--no-headings",
        "--columns=name",
        "list",
        "Interface",
    ]);
    let ovs = ports
        .iter()
        .filter(|p| all.lines().any(|l| l.trim() == p.as_str()))
        .count();
    (links, ovs)
}

#[tokio::test]
async fn a_failed_plug_leaves_nothing() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    // The second VIF's bridge does not exist: its OVS port cannot be added
    // after both veths were made.
    let v1 = vif(17, 10);
    let mut v2 = vif(18, 10);
    v2["network"]["bridge"] = "br-missing".into();
    let err = c
        .spawn(&req(with_vifs(&uuid, &[v1.clone(), v2.clone()])))
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("br-missing"), "{err}");
    assert!(
        docker_inspect(&format!("nova-{uuid}")).is_none(),
        "no container"
    );
    assert_eq!(
        leftovers(&[devname(&v1), devname(&v2)]),
        (0, 0),
        "no veth, no OVS port"
    );

    let mut v3 = vif(19, 10);
    v3["type"] = "bridge".into();
    let err = c
        .spawn(&req(with_vifs(&uuid, &[v1.clone(), v3])))
        .await
        .expect_err("must fail");
    assert!(
        err.to_string().contains("plugs only Open vSwitch VIFs"),
        "{err}"
    );
    assert!(docker_inspect(&format!("nova-{uuid}")).is_none());
    assert_eq!(leftovers(&[devname(&v1)]), (0, 0));
}

#[tokio::test]
async fn fifty_create_delete_cycles_leave_nothing_behind() {
    let c = compute().await;
    let mut ports = Vec::new();
    let mut uuids = Vec::new();
    for i in 0..50u8 {
        let uuid = new_uuid();
        let _g = Cleanup(uuid.clone());
        let v = vif(20, 10 + i);
        ports.push(devname(&v));
        c.spawn(&req(with_vifs(&uuid, std::slice::from_ref(&v))))
            .await
            .expect("spawn");
        c.destroy(&uuid, &[]).await.expect("destroy");
        uuids.push(uuid);
    }
    assert_eq!(leftovers(&ports), (0, 0), "no veth and no OVS port left");
    let containers = run("docker", &["ps", "-a", "--format", "{{.Names}}"]);
    let left = uuids
        .iter()
        .filter(|u| containers.contains(u.as_str()))
        .count();
    assert_eq!(left, 0, "no container left");
}

#[tokio::test]
async fn vifs_of_instances_without_a_container_are_removed_at_start() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let live = vif(21, 10);
    c.spawn(&req(with_vifs(&uuid, std::slice::from_ref(&live))))
        .await
        .expect("spawn");
    // What a crash between plugging and removing leaves: a port whose
    // instance has no container.
    let orphan = format!("tap{}", &new_uuid()[..11]);
    vsctl(&[
        "add-port",
        "br-int",
        &orphan,
        "--",
        "set",
        "Interface",
        &orphan,
        &format!("external_ids:vm-uuid={}", new_uuid()),
        &format!("external_ids:novadock-host={TEST_HOST}"),
    ]);
    // A port novadock did not plug (a VM's, another host's): never touched.
    let foreign = format!("tap{}", &new_uuid()[..11]);
    vsctl(&[
        "add-port",
        "br-int",
        &foreign,
        "--",
        "set",
        "Interface",
        &foreign,
        &format!("external_ids:vm-uuid={}", new_uuid()),
    ]);
    let removed = c.remove_orphaned_vifs().await.expect("reconcile");
    assert!(removed.contains(&orphan), "{removed:?}");
    assert!(!removed.contains(&foreign), "{removed:?}");
    assert_eq!(
        vsctl(&["--if-exists", "get", "Interface", &foreign, "name"]),
        foreign
    );
    vsctl(&["del-port", &foreign]);
    assert!(
        !removed.contains(&devname(&live)),
        "a live instance keeps its VIF"
    );
    assert_eq!(leftovers(&[orphan]), (0, 0));
    assert_eq!(leftovers(&[devname(&live)]).1, 1);
    c.destroy(&uuid, &[]).await.expect("destroy");
}

/// Two hosts on one switch (the one-machine cloud's `--computes 2`): an
/// instance evacuated away has a port of the same name on the new host,
/// which took the name over; the old host's destroy, once it is back, must
/// leave that port alone.
#[tokio::test]
async fn a_destroy_leaves_another_hosts_port_of_the_instance() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v = vif(23, 10);
    c.spawn(&req(with_vifs(&uuid, std::slice::from_ref(&v))))
        .await
        .expect("spawn");
    let port = devname(&v);
    // What the evacuation's plug on the other host leaves in OVS.
    vsctl(&[
        "set",
        "Interface",
        &port,
        "external_ids:novadock-host=the-other-host",
    ]);
    c.destroy(&uuid, &nova_vifs(std::slice::from_ref(&v)))
        .await
        .expect("destroy");
    assert_eq!(
        vsctl(&["--if-exists", "get", "Interface", &port, "name"]),
        port,
        "the other host's port was removed"
    );
    vsctl(&["del-port", &port]);
}

#[tokio::test]
async fn a_running_instance_missing_a_vif_gets_it_back() {
    let c = compute().await;
    let uuid = new_uuid();
    let _g = Cleanup(uuid.clone());
    let v1 = vif(22, 10);
    let v2 = vif(23, 10);
    let nwinfo = vec![v1.clone(), v2.clone()];
    c.spawn(&req(with_vifs(&uuid, &nwinfo)))
        .await
        .expect("spawn");
    assert!(
        c.ensure_plugged(&uuid, &nova_vifs(&nwinfo))
            .await
            .expect("check")
            .is_empty(),
        "nothing to do"
    );

    // eth2 lost (its host end deleted), eth1's OVS port lost.
    run("ip", &["link", "del", &devname(&v2)]);
    vsctl(&["del-port", &devname(&v1)]);
    let probe = Probe::new(23);
    let plugged = c
        .ensure_plugged(&uuid, &nova_vifs(&nwinfo))
        .await
        .expect("plug");
    assert_eq!(plugged, vec!["eth2".to_string()]);
    assert_eq!(
        exec(&uuid, "cat /sys/class/net/eth2/address").trim(),
        v2["address"].as_str().expect("mac")
    );
    assert!(probe.ping("198.18.23.10"), "eth2 answers again");
    assert_eq!(
        leftovers(&[devname(&v1)]),
        (1, 1),
        "eth1's OVS port is back"
    );

    let mut bad = vif(24, 10);
    bad["type"] = "binding_failed".into();
    assert!(matches!(
        c.ensure_plugged(&uuid, &[bad.into()]).await,
        Err(novadock::error::Error::InvalidInput(_))
    ));
    c.destroy(&uuid, &[]).await.expect("destroy");
}

/// Real bytes, not ping: TCP (an HTTP GET) and UDP (an echo) both ways
/// between a host on br-int and a container, and from container to
/// container. Fails without the checksum fix (nova-docker's bug 1519357):
/// on the userspace datapath the containers' TCP and UDP checksums arrived
/// wrong and only ICMP got through.
#[tokio::test]
async fn tcp_and_udp_cross_eth1_both_ways() {
    let c = compute().await;
    let (a, b) = (new_uuid(), new_uuid());
    let (_ga, _gb) = (Cleanup(a.clone()), Cleanup(b.clone()));
    let probe = Probe::new(26);
    for (uuid, host) in [(&a, 10), (&b, 20)] {
        c.spawn(&req(with_vifs(uuid, &[vif(26, host)])))
            .await
            .expect("spawn");
    }
    // Servers in container A: HTTP on 8080, UDP echo on 9000.
    run(
        "docker",
        &[
            "exec",
            "-d",
            &format!("nova-{a}"),
            "sh",
            "-c",
            "mkdir -p /www && echo served-by-a > /www/index.html && httpd -f -p 8080 -h /www",
        ],
    );
    run(
        "docker",
        &[
            "exec",
            "-d",
            &format!("nova-{a}"),
            "udp-echo",
            "serve",
            "9000",
        ],
    );
    // Servers on the host side, in the probe's namespace.
    let www = TempDir::new();
    std::fs::write(www.0.join("index.html"), "served-by-host\n").expect("page");
    let httpd = Background::start(
        "ip",
        &[
            "netns",
            "exec",
            &probe.ns,
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8081",
            "-h",
            www.0.to_str().expect("utf-8 path"),
        ],
    );
    let echo = Background::start(
        "ip",
        &[
            "netns",
            "exec",
            &probe.ns,
            "python3",
            "-c",
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('0.0.0.0', 9001))\nwhile True:\n    d, a = s.recvfrom(2048)\n    s.sendto(d, a)",
        ],
    );
    assert!(probe.ping("198.18.26.10"), "eth1 answers ping");

    // Host -> container, TCP.
    let got = retry(|| {
        output(
            "ip",
            &[
                "netns",
                "exec",
                &probe.ns,
                "curl",
                "-s",
                "-m",
                "3",
                "http://198.18.26.10:8080/",
            ],
        )
    });
    assert_eq!(got.trim(), "served-by-a", "HTTP GET from br-int to eth1");
    // Container -> host, TCP (busybox's static wget crashes in an empty
    // rootfs: nc speaks the HTTP).
    let got = retry(|| http_get_in(&a, "198.18.26.250 8081"));
    assert!(
        got.contains("served-by-host"),
        "HTTP GET from eth1 to br-int: {got}"
    );
    // Container -> container, TCP.
    let got = retry(|| http_get_in(&b, "198.18.26.10 8080"));
    assert!(
        got.contains("served-by-a"),
        "HTTP GET between two containers: {got}"
    );

    // UDP: host -> container, container -> host, container -> container.
    let udp_from_host = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.settimeout(1)\nfor _ in range(5):\n    s.sendto(b'udp-from-host', ('198.18.26.10', 9000))\n    \
        try:\n        print(s.recv(2048).decode()); break\n    except OSError:\n        pass";
    let got = retry(|| {
        output(
            "ip",
            &["netns", "exec", &probe.ns, "python3", "-c", udp_from_host],
        )
    });
    assert_eq!(got.trim(), "udp-from-host", "UDP echo from br-int to eth1");
    let got = retry(|| {
        output(
            "docker",
            &[
                "exec",
                &format!("nova-{a}"),
                "udp-echo",
                "send",
                "198.18.26.250:9001",
                "udp-from-a",
            ],
        )
    });
    assert_eq!(got.trim(), "udp-from-a", "UDP echo from eth1 to br-int");
    let got = retry(|| {
        output(
            "docker",
            &[
                "exec",
                &format!("nova-{b}"),
                "udp-echo",
                "send",
                "198.18.26.10:9000",
                "udp-from-b",
            ],
        )
    });
    assert_eq!(got.trim(), "udp-from-b", "UDP echo between two containers");

    drop((httpd, echo));
    for uuid in [&a, &b] {
        c.destroy(uuid, &[]).await.expect("destroy");
    }
}

/// The answer to `GET /` from inside the container, empty on failure.
fn http_get_in(uuid: &str, host_port: &str) -> String {
    output(
        "docker",
        &[
            "exec",
            &format!("nova-{uuid}"),
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host_port}"),
        ],
    )
}

/// stdout of a command, empty if it failed.
fn output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| {
            if !o.status.success() {
                eprintln!("{cmd} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
            }
            o.status.success()
        })
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The first non-empty answer of up to five tries a second apart (a server
/// started with `docker exec -d` may not listen yet).
fn retry(mut f: impl FnMut() -> String) -> String {
    for _ in 0..5 {
        let out = f();
        if !out.trim().is_empty() {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    String::new()
}

/// A server the test started, killed by its PID when the test ends.
struct Background(std::process::Child);

impl Background {
    fn start(cmd: &str, args: &[&str]) -> Background {
        Background(
            std::process::Command::new(cmd)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{cmd}: {e}")),
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

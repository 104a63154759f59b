//! Links, addresses and routes through netlink (rtnetlink). Work inside a
//! container's network namespace runs on a dedicated OS thread that enters
//! the namespace; tokio's workers never change namespace.

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::route::{RouteHeader, RouteMessage};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder, new_connection};

use super::error::NetworkError;
use super::vif::VifPlan;

fn err(what: &str, e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Kernel(format!("{what}: {e}"))
}

fn connect() -> Result<Handle, NetworkError> {
    let (conn, handle, _) = new_connection().map_err(|e| err("netlink socket", e))?;
    tokio::spawn(conn);
    Ok(handle)
}

async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        // The kernel answers "No such device" for a missing name.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(err(&format!("looking up link {name}"), e)),
    }
}

/// Deletes a host link by name; true if there was one.
pub async fn delete_host_link(name: &str) -> Result<bool, NetworkError> {
    let handle = connect()?;
    match index_of(&handle, name).await? {
        Some(i) => {
            handle
                .link()
                .del(i)
                .execute()
                .await
                .map_err(|e| err(&format!("deleting link {name}"), e))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub async fn host_link_exists(name: &str) -> Result<bool, NetworkError> {
    Ok(index_of(&connect()?, name).await?.is_some())
}

/// Temporary name of the container end while it crosses namespaces.
fn peer_name(vif: &VifPlan) -> String {
    format!("nd{}", vif.devname.trim_start_matches("tap"))
        .chars()
        .take(15)
        .collect()
}

/// A container's main process as Docker's inspect gave it: its pid and
/// the container's full id. The pid alone is not enough: the container may
/// die and the pid be reused by a stranger's process between the inspect
/// and the namespace's opening (see `open_netns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProcess {
    pub pid: u32,
    pub container_id: String,
}

/// Creates each VIF's veth pair, moves the container end into the
/// namespace of `target` and configures it there as eth1, eth2, ...
/// `replace_default` makes Nova's gateways the default routes.
pub async fn plug(
    target: &ContainerProcess,
    vifs: Vec<VifPlan>,
    replace_default: bool,
) -> Result<(), NetworkError> {
    let target = target.clone();
    in_thread(move || plug_blocking(&target, &vifs, replace_default)).await
}

/// Interface names inside the namespace of `target`.
pub async fn container_links(target: &ContainerProcess) -> Result<Vec<String>, NetworkError> {
    let target = target.clone();
    in_thread(move || {
        let rt = runtime()?;
        enter_netns(&open_netns(&target)?)?;
        rt.block_on(async {
            let handle = connect()?;
            let mut names = Vec::new();
            let mut links = handle.link().get().execute();
            while let Some(l) = links
                .try_next()
                .await
                .map_err(|e| err("listing links", e))?
            {
                for a in l.attributes {
                    if let LinkAttribute::IfName(n) = a {
                        names.push(n);
                    }
                }
            }
            Ok(names)
        })
    })
    .await
}

async fn in_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NetworkError> + Send + 'static,
) -> Result<T, NetworkError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("novadock-netns".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| err("starting the namespace thread", e))?;
    rx.await
        .map_err(|_| NetworkError::Kernel("the namespace thread died".into()))?
}

fn runtime() -> Result<tokio::runtime::Runtime, NetworkError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| err("namespace runtime", e))
}

/// Opens the network namespace of `target`'s process, proven to be the
/// container's: a pid from Docker's inspect may have been reused by another
/// process since (the container died), and a root service configuring links
/// in a stranger's namespace must not be possible. A pidfd pins the process
/// that has the pid now; its cgroup must be the container's; and the pinned
/// process must still live after the namespace and the cgroup were read
/// through /proc/<pid>, so both were that process's. The namespace fd stays
/// valid after that, whatever the process does.
pub fn open_netns(target: &ContainerProcess) -> Result<File, NetworkError> {
    let pid = target.pid;
    let gone = || NetworkError::Kernel(format!("process {pid} of the container is gone"));
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::ESRCH) {
            gone()
        } else {
            err(&format!("pidfd_open({pid}) (Linux 5.3 or later)"), e)
        });
    }
    let raw = i32::try_from(fd).map_err(|e| err("pidfd", e))?;
    // SAFETY: raw is a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let path = format!("/proc/{pid}/ns/net");
    let ns = File::open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => gone(),
        _ => err(&format!("opening {path}"), e),
    })?;
    let mut cgroup = String::new();
    File::open(format!("/proc/{pid}/cgroup"))
        .and_then(|f| f.take(64 * 1024).read_to_string(&mut cgroup))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => gone(),
            _ => err(&format!("reading /proc/{pid}/cgroup"), e),
        })?;
    if !in_container_cgroup(&cgroup, &target.container_id) {
        return Err(NetworkError::Kernel(format!(
            "process {pid} is not in container {}'s cgroup (the container died and its pid \
             was reused?): nothing plugged",
            target.container_id
        )));
    }
    // SAFETY: pidfd_send_signal(2) with signal 0 only checks that the
    // pinned process still lives; no pointer is passed.
    let alive = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if alive != 0 {
        return Err(gone());
    }
    Ok(ns)
}

/// Whether `/proc/<pid>/cgroup` puts the process in container `id`'s cgroup
/// (`/docker/<id>` with cgroupfs, `/system.slice/docker-<id>.scope` with
/// systemd, or below them) in at least one hierarchy and another's in none.
/// The first container-shaped component decides, so another container
/// naming a sub-cgroup after `id` is not taken for it.
pub fn in_container_cgroup(cgroup: &str, id: &str) -> bool {
    let id_shaped = |c: &str| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit());
    if !id_shaped(id) {
        return false;
    }
    let mut any = false;
    for line in cgroup.lines() {
        // hierarchy-id:controllers:path
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let first = path
            .split('/')
            .map(|c| {
                c.strip_prefix("docker-")
                    .and_then(|c| c.strip_suffix(".scope"))
                    .unwrap_or(c)
            })
            .find(|c| id_shaped(c));
        match first {
            Some(c) if c.eq_ignore_ascii_case(id) => any = true,
            // Another container's: not this one.
            Some(_) => return false,
            // A hierarchy dockerd does not place containers in (hybrid
            // cgroup v1 hosts' unified line): tells nothing.
            None => {}
        }
    }
    any
}

/// Moves this OS thread into the network namespace `ns`.
fn enter_netns(ns: &File) -> Result<(), NetworkError> {
    // SAFETY: ns is an open namespace file; setns affects only this thread,
    // which exists for this one job.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(err(
            "entering the container's network namespace",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn plug_blocking(
    target: &ContainerProcess,
    vifs: &[VifPlan],
    replace_default: bool,
) -> Result<(), NetworkError> {
    // Opened and proven once, before anything is created: every step below
    // uses this fd, never the pid again.
    let ns = open_netns(target)?;
    let rt = runtime()?;
    rt.block_on(async {
        let handle = connect()?;
        for v in vifs {
            create_pair(&handle, v, &ns).await?;
        }
        Ok::<_, NetworkError>(())
    })?;
    enter_netns(&ns)?;
    rt.block_on(async {
        let handle = connect()?;
        for v in vifs {
            configure(&handle, v).await?;
        }
        if replace_default {
            set_default_routes(&handle, vifs).await?;
        }
        Ok(())
    })
}

async fn create_pair(handle: &Handle, v: &VifPlan, ns: &File) -> Result<(), NetworkError> {
    let peer = peer_name(v);
    // Left from an earlier start: the new pair takes its place.
    for stale in [&v.devname, &peer] {
        if let Some(i) = index_of(handle, stale).await? {
            handle
                .link()
                .del(i)
                .execute()
                .await
                .map_err(|e| err("deleting stale link", e))?;
        }
    }
    let mut pair = LinkVeth::new(&v.devname, &peer);
    if let Some(mtu) = v.mtu {
        pair = pair.mtu(mtu);
    }
    handle
        .link()
        .add(pair.build())
        .execute()
        .await
        .map_err(|e| err(&format!("creating veth {}", v.devname), e))?;
    let host = index_of(handle, &v.devname)
        .await?
        .ok_or_else(|| err("veth", format!("{} vanished", v.devname)))?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(host).up().build())
        .execute()
        .await
        .map_err(|e| err(&format!("bringing up {}", v.devname), e))?;
    let peer_index = index_of(handle, &peer)
        .await?
        .ok_or_else(|| err("veth", format!("{peer} vanished")))?;
    handle
        .link()
        .set(
            LinkUnspec::new_with_index(peer_index)
                .setns_by_fd(ns.as_raw_fd())
                .build(),
        )
        .execute()
        .await
        .map_err(|e| err(&format!("moving {peer} into the container"), e))?;
    Ok(())
}

async fn configure(handle: &Handle, v: &VifPlan) -> Result<(), NetworkError> {
    let peer = peer_name(v);
    let index = index_of(handle, &peer)
        .await?
        .ok_or_else(|| err("container link", format!("{peer} is not in the container")))?;
    let mut link = LinkUnspec::new_with_index(index)
        .name(v.ifname.clone())
        .address(v.mac.to_vec());
    if let Some(mtu) = v.mtu {
        link = link.mtu(mtu);
    }
    handle
        .link()
        .set(link.build())
        .execute()
        .await
        .map_err(|e| err(&format!("naming {}", v.ifname), e))?;
    // This thread is in the container's namespace: the ioctl reaches eth1.
    super::offload::disable_tx_checksum(&v.ifname)?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| err(&format!("bringing up {}", v.ifname), e))?;
    if v.addresses.iter().any(|(a, _)| a.is_ipv6()) {
        enable_ipv6(&v.ifname)?;
    }
    for (addr, prefix) in &v.addresses {
        handle
            .address()
            .add(index, *addr, *prefix)
            .replace()
            .execute()
            .await
            .map_err(|e| err(&format!("adding {addr}/{prefix} to {}", v.ifname), e))?;
    }
    for (dest, prefix, gw) in &v.routes {
        let Some(msg) = route_message(Some((*dest, *prefix)), *gw, index) else {
            continue;
        };
        handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| err(&format!("route {dest}/{prefix} via {gw}"), e))?;
    }
    Ok(())
}

/// Docker turns IPv6 off in containers without an IPv6 network; a VIF with
/// IPv6 addresses needs it on. This thread is in the container's namespace,
/// so /proc/sys/net is the container's.
fn enable_ipv6(ifname: &str) -> Result<(), NetworkError> {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
    std::fs::write(&path, "0").map_err(|e| err(&format!("writing {path}"), e))
}

/// A route via `gw` on link `index`; to `dest` or, without one, the default.
fn route_message(dest: Option<(IpAddr, u8)>, gw: IpAddr, index: u32) -> Option<RouteMessage> {
    match (dest, gw) {
        (None, IpAddr::V4(g)) => Some(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(g)
                .output_interface(index)
                .build(),
        ),
        (None, IpAddr::V6(g)) => Some(
            RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(g)
                .output_interface(index)
                .build(),
        ),
        (Some((IpAddr::V4(d), p)), IpAddr::V4(g)) => Some(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(d, p)
                .gateway(g)
                .output_interface(index)
                .build(),
        ),
        (Some((IpAddr::V6(d), p)), IpAddr::V6(g)) => Some(
            RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(d, p)
                .gateway(g)
                .output_interface(index)
                .build(),
        ),
        _ => None,
    }
}

/// Default routes via the first VIF subnets that have gateways, replacing
/// Docker's.
async fn set_default_routes(handle: &Handle, vifs: &[VifPlan]) -> Result<(), NetworkError> {
    let v4 = vifs
        .iter()
        .find_map(|v| v.gateway4.map(|g| (IpAddr::V4(g), v)));
    let v6 = vifs
        .iter()
        .find_map(|v| v.gateway6.map(|g| (IpAddr::V6(g), v)));
    for (gw, v) in v4.into_iter().chain(v6) {
        let family = if gw.is_ipv4() {
            RouteMessageBuilder::<Ipv4Addr>::new().build()
        } else {
            RouteMessageBuilder::<Ipv6Addr>::new().build()
        };
        delete_defaults(handle, family).await?;
        let index = index_of(handle, &v.ifname).await?.unwrap_or_default();
        if let Some(msg) = route_message(None, gw, index) {
            handle
                .route()
                .add(msg)
                .replace()
                .execute()
                .await
                .map_err(|e| err(&format!("default route via {gw}"), e))?;
        }
    }
    Ok(())
}

async fn delete_defaults(handle: &Handle, filter: RouteMessage) -> Result<(), NetworkError> {
    let mut routes = handle.route().get(filter).execute();
    let mut defaults = Vec::new();
    while let Some(r) = routes
        .try_next()
        .await
        .map_err(|e| err("listing routes", e))?
    {
        if r.header.destination_prefix_length == 0 && r.header.table == RouteHeader::RT_TABLE_MAIN {
            defaults.push(r);
        }
    }
    for r in defaults {
        handle
            .route()
            .del(r)
            .execute()
            .await
            .map_err(|e| err("deleting Docker's default route", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7ea7c990d43f7e9523de17be643cd2bd47a99de816a003deb411f23a15fb3f34";
    const OTHER: &str = "31c9d79ceb5bd54bff813bdeed74d7eefd5b0dc61fec9fbab21bcd4d71b3e973";

    #[test]
    fn only_the_containers_own_cgroup_proves_its_process() {
        let v1 = format!("9:name=systemd:/docker/{ID}\n4:memory:/docker/{ID}\n0::/docker/{ID}\n");
        assert!(in_container_cgroup(&v1, ID));
        assert!(in_container_cgroup(
            &format!("0::/system.slice/docker-{ID}.scope\n"),
            ID
        ));
        assert!(in_container_cgroup(
            &format!("0::/docker/{ID}/init.scope\n"),
            ID
        ));
        // Hybrid hosts: a unified line without a container says nothing.
        assert!(in_container_cgroup(
            &format!("4:memory:/docker/{ID}\n0::/\n"),
            ID
        ));
        // A stranger's process that got the pid: a host service, a user's
        // session, another container, or one naming a cgroup after ours.
        for stranger in [
            "0::/system.slice/ssh.service\n".to_string(),
            "0::/user.slice/user-1000.slice/session-3.scope\n".to_string(),
            "0::/\n".to_string(),
            String::new(),
            format!("0::/docker/{OTHER}\n"),
            format!("0::/docker/{OTHER}/{ID}\n"),
            format!("4:memory:/docker/{ID}\n1:cpu:/docker/{OTHER}\n"),
        ] {
            assert!(!in_container_cgroup(&stranger, ID), "{stranger:?}");
        }
        assert!(
            !in_container_cgroup(&v1, "7ea7c990d43f"),
            "a short id proves nothing"
        );
    }
}

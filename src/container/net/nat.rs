//! Outbound NAT and published ports, with nftables.
//!
//! A container's address (10.89.0.x) means nothing outside this machine. With
//! `--nat`, packets it sends out through the host get the host's own address as
//! their source (*masquerade*), and the answers are mapped back. With `--publish
//! 8080:80`, connections to port 8080 of the host are sent on to port 80 of the
//! container (*destination NAT*). Both need the host to forward packets between
//! interfaces (`net.ipv4.ip_forward = 1`).
//!
//! Links, addresses and routes go over netlink from our own process (see `netlink`).
//! Firewall rules are written in nftables' own language and handed to the `nft`
//! program, which turns them into netlink messages: nftables' netlink protocol is a
//! large one, and `nft` is what every distribution ships to speak it.
//!
//! All our rules live in one table, `ip nsbox`; each rule carries the comment
//! `nsbox-<id>` of the container that added it, so it can remove exactly its own.
//! The last run to leave deletes the table and puts `ip_forward` back as it found
//! it.

use super::config::{Attachment, NetworkConfig};
use super::state_files::{open_locked, remove_state_file};
use crate::container::{Error, programs};
use std::io::{self, Read, Seek, Write};
use std::process::{Command, Stdio};

const TABLE: &str = "nsbox";
const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

// ANCHOR: rules
/// The nftables script for one container: the table and its chains (`add` leaves
/// them alone if they exist), then this container's rules.
pub fn rules(config: &NetworkConfig, attachment: &Attachment) -> String {
    let (address, bridge, tag) =
        (attachment.address, &config.bridge, &attachment.tag);
    let add_chain = |name: &str, hook: &str, priority: &str| {
        format!(
            "add chain ip {TABLE} {name} \
             {{ type nat hook {hook} priority {priority}; }}\n"
        )
    };
    let mut script = format!("add table ip {TABLE}\n");
    script += &add_chain("postrouting", "postrouting", "srcnat");
    script += &add_chain("prerouting", "prerouting", "dstnat");
    script += &add_chain("output", "output", "-100");
    if config.nat {
        // Leaving through any interface but the bridge: take the host's address.
        script += &format!(
            "add rule ip {TABLE} postrouting ip saddr {address} \
             oifname != \"{bridge}\" masquerade comment \"{tag}\"\n"
        );
    }
    for publish in &config.publish {
        let (host, inside) = (publish.host_port, publish.container_port);
        let port = format!("{} dport {host}", publish.protocol.name());
        // From other machines (prerouting), and from the host itself (output).
        for chain in ["prerouting", "output"] {
            script += &format!(
                "add rule ip {TABLE} {chain} fib daddr type local \
                 {port} dnat to {address}:{inside} comment \"{tag}\"\n"
            );
        }
    }
    if config.publish_on_loopback && !config.publish.is_empty() {
        // From the host's 127.0.0.1: the container would answer 127.0.0.1, its
        // own loopback. Give such packets the bridge's address instead.
        script += &format!(
            "add rule ip {TABLE} postrouting ip saddr 127.0.0.0/8 \
             oifname \"{bridge}\" masquerade comment \"{tag}\"\n"
        );
    }
    script
}
// ANCHOR_END: rules

// ANCHOR: add
/// Adds this container's rules, and turns forwarding on if it is off (remembering
/// that).
pub fn add(
    config: &NetworkConfig,
    attachment: &Attachment,
) -> Result<Vec<String>, Error> {
    let mut said = Vec::new();
    let mut saved = SavedForwarding::lock(config)?;
    let before = read_ip_forward()?;
    if saved.value()?.is_none() {
        saved.remember(&before)?;
    }
    if before != "1" {
        std::fs::write(IP_FORWARD, "1").map_err(Error::network(IP_FORWARD))?;
        said.push(
            "sysctl -w net.ipv4.ip_forward=1 (put back when the last container \
             leaves)"
                .to_string(),
        );
    }
    refuse_published_twice(config)?;
    if config.publish_on_loopback && !config.publish.is_empty() {
        said.push(allow_loopback_through(&config.bridge)?);
    }
    let script = rules(config, attachment);
    nft(&["-f", "-"], Some(&script))?;
    said.extend(
        script
            .lines()
            .filter(|l| l.starts_with("add rule"))
            .map(|l| format!("nft {l}")),
    );
    Ok(said)
}
// ANCHOR_END: add

/// A host port another container has published already: refused, with its
/// protocol (nftables would take the rule, and the first one would win).
fn refuse_published_twice(config: &NetworkConfig) -> Result<(), Error> {
    let listing = nft(&["list", "table", "ip", TABLE], None).unwrap_or_default();
    for publish in &config.publish {
        let rule =
            format!("{} dport {} ", publish.protocol.name(), publish.host_port);
        if listing.contains(&rule) {
            return Err(Error::PortPublished {
                port: publish.host_port,
                protocol: publish.protocol.name(),
            });
        }
    }
    Ok(())
}

// ANCHOR: route_localnet
/// Surprise: Linux drops a packet whose source is `127.0.0.1` that would leave
/// through any interface but `lo`, unless that interface's `route_localnet` is 1.
/// A connection to `127.0.0.1:PORT` that our `output` rule sends on to the
/// container is such a packet, leaving through the bridge.
fn allow_loopback_through(bridge: &str) -> Result<String, Error> {
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&path, "1").map_err(Error::network(path.clone()))?;
    Ok(format!(
        "sysctl -w net.ipv4.conf.{bridge}.route_localnet=1 (127.0.0.1 may leave \
         through {bridge})"
    ))
}
// ANCHOR_END: route_localnet

/// Removes the rules marked `tag`; the last container also removes the table and
/// restores forwarding.
pub fn remove(config: &NetworkConfig, tag: &str) -> Result<Vec<String>, Error> {
    let mut said = Vec::new();
    let mut saved = SavedForwarding::lock(config)?;
    // No table: our rules never made it (nft failed part-way), so there is nothing
    // to delete.
    let listing =
        nft(&["-a", "list", "table", "ip", TABLE], None).unwrap_or_default();
    let mut chain = "";
    let mut others = 0;
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("");
        } else if line.contains("comment \"nsbox-") {
            if !line.contains(&format!("comment \"{tag}\"")) {
                others += 1;
                continue;
            }
            let handle = line.rsplit("# handle ").next().unwrap_or("").trim();
            nft(
                &["delete", "rule", "ip", TABLE, chain, "handle", handle],
                None,
            )?;
        }
    }
    said.push(format!("nft: deleted the rules marked {tag}"));
    if others == 0 {
        if !listing.is_empty() {
            nft(&["delete", "table", "ip", TABLE], None)?;
            said.push(format!(
                "nft delete table ip {TABLE}: no container uses it any more"
            ));
        }
        if let Some(value) = saved.value()?
            && read_ip_forward()? != value
        {
            std::fs::write(IP_FORWARD, &value)
                .map_err(Error::network(IP_FORWARD))?;
            said.push(format!("sysctl -w net.ipv4.ip_forward={value} (as it was)"));
        }
        saved.forget()?;
    }
    Ok(said)
}

fn read_ip_forward() -> Result<String, Error> {
    std::fs::read_to_string(IP_FORWARD)
        .map(|v| v.trim().to_string())
        .map_err(Error::network(IP_FORWARD))
}

/// Runs `nft ARGS`, with `input` on its stdin; returns its stdout.
fn nft(args: &[&str], input: Option<&str>) -> Result<String, Error> {
    // Found in /usr/sbin too: a root shell may have a PATH without it.
    let program = programs::find("nft").unwrap_or_else(|| "nft".into());
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NftMissing,
            _ => Error::network("nft")(e),
        })?;
    if let Some(text) = input {
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().map_err(Error::network("nft"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let doing = format!("nft {}", args.join(" "));
        return Err(Error::network(doing)(io::Error::other(why.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `<state>/net/ip_forward`: the value `ip_forward` had before the first NAT
/// container came, locked while rules change so two runs never edit the table at
/// once.
struct SavedForwarding {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl SavedForwarding {
    fn lock(config: &NetworkConfig) -> Result<SavedForwarding, Error> {
        let path = config.state_dir.join("net").join("ip_forward");
        let file = open_locked(&path)
            .map_err(Error::network(path.display().to_string()))?;
        Ok(SavedForwarding { file, path })
    }

    fn value(&mut self) -> Result<Option<String>, Error> {
        let mut text = String::new();
        self.file
            .rewind()
            .and_then(|_| self.file.read_to_string(&mut text))
            .map_err(Error::network(self.path.display().to_string()))?;
        Ok(Some(text.trim().to_string()).filter(|v| !v.is_empty()))
    }

    fn remember(&mut self, value: &str) -> Result<(), Error> {
        self.file
            .write_all(value.as_bytes())
            .map_err(Error::network(self.path.display().to_string()))
    }

    /// Removes the file, and the folders it leaves empty.
    fn forget(self) -> Result<(), Error> {
        remove_state_file(&self.path)
            .map_err(Error::network(self.path.display().to_string()))
    }
}

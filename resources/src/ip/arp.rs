//! Raw ARP with pnet: the duplicate-address probe before start and the gratuitous announce
//! after it. Forking `arping` costs a full second each (it waits for replies that an
//! announce never gets); a raw socket waits only as long as we choose.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pnet::datalink::{self, Channel, Config};
use pnet::packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet::packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet::packet::Packet;
use pnet::util::MacAddr;

const FRAME_LEN: usize = 42;

/// An ARP request frame, broadcast. `sender_ip` 0.0.0.0 makes it an RFC 5227 probe;
/// `sender_ip == target` makes it a gratuitous announce.
pub fn request_frame(src_mac: MacAddr, sender_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; FRAME_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("frame buffer fits");
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(src_mac);
        eth.set_ethertype(EtherTypes::Arp);
    }
    let mut arp = MutableArpPacket::new(&mut buf[14..]).expect("arp buffer fits");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(src_mac);
    arp.set_sender_proto_addr(sender_ip);
    arp.set_target_hw_addr(MacAddr::zero());
    arp.set_target_proto_addr(target);
    buf
}

/// The hardware address of another host claiming `ip` in this frame, if it does: a reply
/// from `ip`, or a probe/announce of its own for `ip` (RFC 5227 conflict rules).
pub fn claimant(frame: &[u8], ip: Ipv4Addr, own_mac: MacAddr) -> Option<MacAddr> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    let sha = arp.get_sender_hw_addr();
    if sha == own_mac {
        return None;
    }
    let from_ip = arp.get_sender_proto_addr() == ip;
    let probing_ip = arp.get_operation() == ArpOperations::Request
        && arp.get_sender_proto_addr().is_unspecified()
        && arp.get_target_proto_addr() == ip;
    (from_ip || probing_ip).then_some(sha)
}

struct RawLink {
    mac: MacAddr,
    tx: Box<dyn datalink::DataLinkSender>,
    rx: Box<dyn datalink::DataLinkReceiver>,
}

fn open(dev: &str) -> std::io::Result<RawLink> {
    let iface = datalink::interfaces()
        .into_iter()
        .find(|i| i.name == dev)
        .ok_or_else(|| std::io::Error::other(format!("interface {dev} not found")))?;
    let mac = iface
        .mac
        .ok_or_else(|| std::io::Error::other(format!("interface {dev} has no hardware address")))?;
    let config = Config {
        read_timeout: Some(Duration::from_millis(20)),
        ..Config::default()
    };
    match datalink::channel(&iface, config)? {
        Channel::Ethernet(tx, rx) => Ok(RawLink { mac, tx, rx }),
        _ => Err(std::io::Error::other(format!(
            "{dev}: not an ethernet channel"
        ))),
    }
}

fn send(tx: &mut dyn datalink::DataLinkSender, frame: &[u8]) -> std::io::Result<()> {
    tx.send_to(frame, None)
        .unwrap_or_else(|| Err(std::io::Error::other("no frame sent")))
}

/// Probe for `ip` on `dev`: `probes` probes `interval` apart, listening until `wait` has
/// passed; the hardware address of whoever answers, or None when nobody claims the address.
pub fn probe(
    dev: &str,
    ip: Ipv4Addr,
    probes: u32,
    interval: Duration,
    wait: Duration,
) -> std::io::Result<Option<MacAddr>> {
    let RawLink {
        mac,
        mut tx,
        mut rx,
    } = open(dev)?;
    let frame = request_frame(mac, Ipv4Addr::UNSPECIFIED, ip);
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < wait {
        if sent < probes && start.elapsed() >= interval * sent {
            send(tx.as_mut(), &frame)?;
            sent += 1;
        }
        match rx.next() {
            Ok(f) => {
                if let Some(who) = claimant(f, ip, mac) {
                    return Ok(Some(who));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Tell the segment `ip` now lives at `dev`'s hardware address (gratuitous ARP request).
pub fn announce(dev: &str, ip: Ipv4Addr) -> std::io::Result<()> {
    let mut link = open(dev)?;
    send(link.tx.as_mut(), &request_frame(link.mac, ip, ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> MacAddr {
        MacAddr::new(2, 0, 0, 0, 0, n)
    }

    #[test]
    fn probe_frame_layout() {
        let f = request_frame(mac(1), Ipv4Addr::UNSPECIFIED, "10.0.0.5".parse().unwrap());
        assert_eq!(f.len(), 42);
        assert_eq!(&f[0..6], &[0xff; 6], "broadcast");
        assert_eq!(&f[12..14], &[0x08, 0x06], "ethertype arp");
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[28..32], &[0, 0, 0, 0], "probe sender ip");
        assert_eq!(&f[38..42], &[10, 0, 0, 5], "target ip");
    }

    #[test]
    fn a_reply_from_the_address_is_a_claim() {
        let ip: Ipv4Addr = "10.0.0.5".parse().unwrap();
        // Another host's announce of ip (sender ip == ip).
        let theirs = request_frame(mac(2), ip, ip);
        assert_eq!(claimant(&theirs, ip, mac(1)), Some(mac(2)));
        // Another host probing for the same ip at the same time.
        let probing = request_frame(mac(3), Ipv4Addr::UNSPECIFIED, ip);
        assert_eq!(claimant(&probing, ip, mac(1)), Some(mac(3)));
        // Our own frames, and traffic about other addresses, are not claims.
        assert_eq!(claimant(&theirs, ip, mac(2)), None);
        let other = request_frame(
            mac(2),
            "10.0.0.9".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
        );
        assert_eq!(claimant(&other, ip, mac(1)), None);
        assert_eq!(claimant(&[0u8; 10], ip, mac(1)), None);
    }
}

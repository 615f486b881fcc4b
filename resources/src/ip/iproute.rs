//! `ip -j addr` output and the argument lists of the ip driver (pure, unit-tested).

use std::net::Ipv4Addr;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Link {
    pub ifname: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub operstate: String,
    #[serde(default)]
    pub addr_info: Vec<Addr>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Addr {
    pub family: String,
    pub local: String,
    pub prefixlen: u8,
    #[serde(default)]
    pub label: Option<String>,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// The kernel's NO-CARRIER flag: up, but no link (cable out, bridge without ports).
    pub fn no_carrier(&self) -> bool {
        self.flags.iter().any(|f| f == "NO-CARRIER")
    }

    pub fn find(&self, ip: Ipv4Addr) -> Option<&Addr> {
        let s = ip.to_string();
        self.addr_info
            .iter()
            .find(|a| a.family == "inet" && a.local == s)
    }

    /// The prefix length of an address of this link whose subnet holds `ip`.
    pub fn covering_prefix(&self, ip: Ipv4Addr) -> Option<u8> {
        self.addr_info.iter().find_map(|a| {
            let local: Ipv4Addr = a.local.parse().ok()?;
            (a.family == "inet" && same_subnet(local, ip, a.prefixlen)).then_some(a.prefixlen)
        })
    }

    /// `DEV:N` with the smallest N >= 1 not used by a label of this link; None when the
    /// result would pass the kernel's 15-character limit.
    pub fn free_label(&self) -> Option<String> {
        (1..1000)
            .map(|n| format!("{}:{n}", self.ifname))
            .find(|l| !self.addr_info.iter().any(|a| a.label.as_deref() == Some(l)))
            .filter(|l| l.len() <= 15)
    }
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    u32::from(a) & mask == u32::from(b) & mask
}

/// Parse `ip -j addr show` output.
pub fn parse_links(json: &str) -> Result<Vec<Link>, serde_json::Error> {
    serde_json::from_str(json)
}

pub fn add_args(ip: Ipv4Addr, prefix: u8, dev: &str, label: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = ["ip", "addr", "add"].map(String::from).into();
    v.push(format!("{ip}/{prefix}"));
    v.extend(["dev".into(), dev.into()]);
    if let Some(l) = label {
        v.extend(["label".into(), l.into()]);
    }
    v
}

pub fn del_args(ip: Ipv4Addr, prefix: u8, dev: &str) -> Vec<String> {
    vec![
        "ip".into(),
        "addr".into(),
        "del".into(),
        format!("{ip}/{prefix}"),
        "dev".into(),
        dev.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANNED: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"link_index":3,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"8a:3e:11:22:33:44","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet","local":"10.77.0.10","prefixlen":24,"broadcast":"10.77.0.255","scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet","local":"10.77.0.50","prefixlen":24,"scope":"global","secondary":true,"label":"eth0:1","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::883e:11ff:fe22:3344","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"eth1","flags":["BROADCAST","MULTICAST"],"mtu":1500,"operstate":"DOWN","addr_info":[]}]"#;

    fn links() -> Vec<Link> {
        parse_links(CANNED).unwrap()
    }

    #[test]
    fn parses_links_and_flags() {
        let l = links();
        assert_eq!(l.len(), 3);
        assert!(l[1].is_up());
        assert!(!l[2].is_up());
        assert_eq!(l[1].addr_info.len(), 3);
    }

    #[test]
    fn finds_address_and_prefix() {
        let eth0 = &links()[1];
        let a = eth0.find("10.77.0.50".parse().unwrap()).unwrap();
        assert_eq!(a.prefixlen, 24);
        assert_eq!(a.label.as_deref(), Some("eth0:1"));
        assert!(eth0.find("10.77.0.51".parse().unwrap()).is_none());
        assert_eq!(
            eth0.covering_prefix("10.77.0.99".parse().unwrap()),
            Some(24)
        );
        assert_eq!(eth0.covering_prefix("10.78.0.99".parse().unwrap()), None);
    }

    #[test]
    fn label_skips_used_ones_and_respects_the_limit() {
        assert_eq!(links()[1].free_label().as_deref(), Some("eth0:2"));
        let long = Link {
            ifname: "verylongname12".into(),
            flags: vec![],
            operstate: String::new(),
            addr_info: vec![],
        };
        assert_eq!(long.free_label(), None);
    }

    #[test]
    fn argument_lists() {
        let ip: Ipv4Addr = "10.77.0.50".parse().unwrap();
        assert_eq!(
            add_args(ip, 24, "eth0", Some("eth0:1")).join(" "),
            "ip addr add 10.77.0.50/24 dev eth0 label eth0:1"
        );
        assert_eq!(
            add_args(ip, 24, "eth0", None).join(" "),
            "ip addr add 10.77.0.50/24 dev eth0"
        );
        assert_eq!(
            del_args(ip, 24, "eth0").join(" "),
            "ip addr del 10.77.0.50/24 dev eth0"
        );
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(parse_links("not json").is_err());
    }
}

//! Which IP addresses the cache-warmer may connect to.
//!
//! A published event names the URLs the worker fetches, so without this check anyone who may
//! publish could make the worker reach what only it can reach: the Lambda Runtime API on
//! 127.0.0.1:9001, the instance metadata service, or services on the VPC's private addresses.
//!
//! - [`Class::Never`]: link-local (169.254.0.0/16, fe80::/10, which hold the metadata
//!   services), the metadata addresses (169.254.169.254, fd00:ec2::254), "this network"
//!   (0.0.0.0/8, ::), multicast, broadcast and reserved ranges. Always refused.
//! - [`Class::Private`]: loopback (127.0.0.0/8, ::1), RFC 1918, shared address space
//!   (100.64.0.0/10), unique local (fc00::/7), benchmarking and IETF ranges. Refused unless the
//!   worker opted in (`STOKER_CACHE_ALLOW_PRIVATE_NETWORKS=true`, local development only).
//! - IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96
//!   and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) are judged by the address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address is, for the cache-warmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    /// Reachable only from inside a network: refused unless private networks are allowed.
    Private(&'static str),
    /// Never fetched, whatever the settings.
    Never(&'static str),
}

impl Class {
    fn worst(self, other: Class) -> Class {
        match (self, other) {
            (Class::Never(_), _) => self,
            (_, Class::Never(_)) => other,
            (Class::Private(_), _) => self,
            _ => other,
        }
    }
}

/// Why `ip` may not be fetched, or `None` when it may.
pub fn refusal(ip: IpAddr, allow_private: bool) -> Option<String> {
    match classify(ip) {
        Class::Public => None,
        Class::Private(_) if allow_private => None,
        Class::Private(what) => Some(format!(
            "{ip} is {what}: refused (private networks are fetched only with STOKER_CACHE_ALLOW_PRIVATE_NETWORKS=true, for local development)"
        )),
        Class::Never(what) => Some(format!("{ip} is {what}: never fetched")),
    }
}

pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        return Class::Never("the instance metadata address");
    }
    match (a, b, c) {
        (0, ..) => Class::Never("in 0.0.0.0/8 (this network)"),
        (169, 254, _) => Class::Never("link-local (169.254.0.0/16, metadata services)"),
        (224..=239, ..) => Class::Never("multicast"),
        (240..=255, ..) => Class::Never("reserved or broadcast (240.0.0.0/4)"),
        (192, 0, 0) => Class::Never("in 192.0.0.0/24 (IETF assignments, cloud metadata)"),
        (127, ..) => Class::Private("loopback (127.0.0.0/8)"),
        (10, ..) => Class::Private("private (10.0.0.0/8)"),
        (172, 16..=31, _) => Class::Private("private (172.16.0.0/12)"),
        (192, 168, _) => Class::Private("private (192.168.0.0/16)"),
        (100, 64..=127, _) => Class::Private("shared address space (100.64.0.0/10)"),
        (198, 18..=19, _) => Class::Private("benchmarking (198.18.0.0/15)"),
        _ => Class::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Class::Never("the instance metadata address");
    }
    if ip.is_unspecified() {
        return Class::Never("the unspecified address (::)");
    }
    if ip.is_loopback() {
        return Class::Private("loopback (::1)");
    }
    let low_v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let carried = |what: &'static str, v4: Ipv4Addr| match classify_v4(v4) {
        Class::Public => Class::Public,
        Class::Private(_) => Class::Private(what),
        Class::Never(_) => Class::Never(what),
    };
    match s {
        // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated), ::a.b.c.d (compatible)
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] | [0, 0, 0, 0, 0, 0, ..] => {
            carried("an IPv6 form of a refused IPv4 address", low_v4)
        }
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => {
            carried("NAT64 (64:ff9b::/96) of a refused IPv4 address", low_v4)
        }
        [0x64, 0xff9b, 1, ..] => Class::Private("local-use NAT64 (64:ff9b:1::/48)"),
        [0x2002, hi, lo, ..] => carried(
            "6to4 (2002::/16) of a refused IPv4 address",
            Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8),
        ),
        [0x2001, 0, hi, lo, ..] => {
            let server = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            let client = Ipv4Addr::from(!u32::from(low_v4));
            carried("Teredo (2001::/32) of a refused IPv4 address", server).worst(carried(
                "Teredo (2001::/32) of a refused IPv4 address",
                client,
            ))
        }
        [first, ..] if first & 0xffc0 == 0xfe80 => Class::Never("link-local (fe80::/10)"),
        [first, ..] if first & 0xff00 == 0xff00 => Class::Never("multicast (ff00::/8)"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Class::Private("site-local (fec0::/10)"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Class::Private("unique local (fc00::/7)"),
        _ => Class::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Class {
        classify(s.parse().expect("an IP address"))
    }

    #[test]
    fn never_fetched_whatever_the_settings() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.192",
            "fd00:ec2::254",
            "fe80::1",
            "::",
            "ff02::1",
            "::ffff:169.254.169.254",
            "::ffff:0:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(
                matches!(class(ip), Class::Never(_)),
                "{ip}: {:?}",
                class(ip)
            );
            assert!(refusal(ip.parse().unwrap(), true).is_some(), "{ip}");
        }
    }

    #[test]
    fn private_ranges_and_their_ipv6_forms_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            // Teredo with a loopback server, and with a client of 10.0.0.1 (stored inverted).
            "2001:0:7f00:1::f7f7:f7f7",
            "2001:0:0808:0808::f5ff:fffe",
        ] {
            assert!(
                matches!(class(ip), Class::Private(_)),
                "{ip}: {:?}",
                class(ip)
            );
            let why = refusal(ip.parse().unwrap(), false).expect("refused by default");
            assert!(why.contains("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS"), "{why}");
            assert_eq!(
                refusal(ip.parse().unwrap(), true),
                None,
                "{ip} with the opt-in"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
        ] {
            assert_eq!(class(ip), Class::Public, "{ip}");
            assert_eq!(refusal(ip.parse().unwrap(), false), None, "{ip}");
        }
    }
}

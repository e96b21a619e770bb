//! Public IPv4 addresses from a seeded generator.
//!
//! The runbook picks `8.8.8.$((RANDOM%250+1))`; hivecheck draws from the whole IPv4 space but
//! never returns an address of an IANA special-purpose block (private, loopback, link-local,
//! shared/CGNAT, documentation, benchmarking, multicast, reserved, broadcast, this-network, …),
//! so every address is one AbuseIPDB can say something about. The same seed gives the same
//! addresses (for this build: rand's `StdRng` does not promise the same stream across rand
//! majors).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

/// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and updates), plus multicast
/// (RFC 5771), which is not unicast and so never a meaningful observable.
const SPECIAL_PURPOSE: &[&str] = &[
    "0.0.0.0/8",          // "this network" (RFC 791)
    "10.0.0.0/8",         // private-use (RFC 1918)
    "100.64.0.0/10",      // shared address space, CGNAT (RFC 6598)
    "127.0.0.0/8",        // loopback (RFC 1122)
    "169.254.0.0/16",     // link-local (RFC 3927)
    "172.16.0.0/12",      // private-use (RFC 1918)
    "192.0.0.0/24",       // IETF protocol assignments (RFC 6890), incl. DS-Lite, NAT64 discovery
    "192.0.2.0/24",       // documentation TEST-NET-1 (RFC 5737)
    "192.31.196.0/24",    // AS112-v4 (RFC 7535)
    "192.52.193.0/24",    // AMT (RFC 7450)
    "192.88.99.0/24",     // deprecated 6to4 relay anycast (RFC 7526)
    "192.168.0.0/16",     // private-use (RFC 1918)
    "192.175.48.0/24",    // direct delegation AS112 service (RFC 7534)
    "198.18.0.0/15",      // benchmarking (RFC 2544)
    "198.51.100.0/24",    // documentation TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",     // documentation TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",        // multicast (RFC 5771)
    "240.0.0.0/4",        // reserved (RFC 1112)
    "255.255.255.255/32", // limited broadcast (RFC 919)
];

fn special_purpose_blocks() -> &'static [Ipv4Net] {
    static BLOCKS: std::sync::OnceLock<Vec<Ipv4Net>> = std::sync::OnceLock::new();
    BLOCKS.get_or_init(|| {
        SPECIAL_PURPOSE
            .iter()
            .map(|cidr| {
                cidr.parse()
                    .expect("the special-purpose table holds valid CIDRs")
            })
            .collect()
    })
}

/// The special-purpose block holding `addr`, if any (e.g. `10.0.0.0/8`).
pub fn special_purpose_block(addr: Ipv4Addr) -> Option<Ipv4Net> {
    special_purpose_blocks()
        .iter()
        .copied()
        .find(|block| block.contains(&addr))
}

/// Whether `addr` is a public unicast address (in no special-purpose block).
pub fn is_public(addr: Ipv4Addr) -> bool {
    special_purpose_block(addr).is_none()
}

/// `count` distinct public IPv4 addresses drawn from `seed`.
pub fn public_ipv4s(seed: u64, count: usize) -> Vec<Ipv4Addr> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out: Vec<Ipv4Addr> = Vec::with_capacity(count);
    while out.len() < count {
        let candidate = Ipv4Addr::from(rng.random::<u32>());
        // About 13% of the space is special-purpose, so rejection ends quickly.
        if is_public(candidate) && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// A fresh seed, for runs that do not pin one.
pub fn random_seed() -> u64 {
    rand::random::<u32>() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_yields_a_special_purpose_address() {
        for seed in 0..200 {
            for addr in public_ipv4s(seed, 50) {
                let std_says_special = addr.is_private()
                    || addr.is_loopback()
                    || addr.is_link_local()
                    || addr.is_broadcast()
                    || addr.is_documentation()
                    || addr.is_multicast()
                    || addr.is_unspecified()
                    || addr.octets()[0] == 0
                    || addr.octets()[0] >= 240;
                assert!(!std_says_special, "{addr} from seed {seed}");
                assert!(
                    special_purpose_block(addr).is_none(),
                    "{addr} from seed {seed}"
                );
            }
        }
    }

    #[test]
    fn same_seed_same_addresses_other_seed_other_addresses() {
        assert_eq!(public_ipv4s(42, 10), public_ipv4s(42, 10));
        assert_ne!(public_ipv4s(42, 10), public_ipv4s(43, 10));
        // A longer draw starts with the shorter one, so adding artifacts keeps the first ones.
        assert_eq!(public_ipv4s(7, 3), public_ipv4s(7, 8)[..3]);
    }

    #[test]
    fn addresses_in_one_draw_are_distinct() {
        let mut addrs = public_ipv4s(1, 500);
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 500);
    }

    #[test]
    fn special_purpose_table_covers_edge_addresses() {
        for text in [
            "0.1.2.3",
            "10.255.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "172.31.255.255",
            "192.0.0.0",
            "192.0.0.9",
            "192.0.0.170",
            "192.0.0.255",
            "192.0.2.7",
            "192.31.196.1",
            "192.52.193.254",
            "192.175.48.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.19.0.1",
            "198.51.100.1",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let addr: Ipv4Addr = text.parse().unwrap();
            assert!(!is_public(addr), "{text} must be special-purpose");
        }
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "192.0.1.0",
            "192.31.197.0",
            "192.52.192.255",
            "192.175.49.0",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
        ] {
            assert!(is_public(text.parse().unwrap()), "{text} is public");
        }
    }
}

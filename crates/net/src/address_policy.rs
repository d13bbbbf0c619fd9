//! Which addresses count as public. Mail servers and webhook receivers in loopback or
//! private ranges are refused unless configuration allows them, so that a caller cannot
//! make mailroom probe its own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for addresses on the public internet.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let shared_cgnat = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    // 192.0.0.0/24: IETF protocol assignments (RFC 6890); 192.88.99.0/24: the retired
    // 6to4 relay anycast (RFC 7526); 240.0.0.0/4: reserved, broadcast included.
    let protocol_assignments = a == 192 && b == 0 && c == 0;
    let six_to_four_relay = a == 192 && b == 88 && c == 99;
    let reserved = a >= 240;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_documentation()
        || ip.is_multicast()
        || shared_cgnat
        || this_network
        || benchmarking
        || protocol_assignments
        || six_to_four_relay
        || reserved)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let [first, second, ..] = segments;
    // NAT64 with the well-known prefix (RFC 6052) reaches the IPv4 address in its last
    // 32 bits: as public as that address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(ip));
    }
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    let site_local = (first & 0xffc0) == 0xfec0;
    let documentation = (first == 0x2001 && second == 0x0db8) || (first & 0xfff0) == 0x3ff0;
    // Local-use NAT64 (RFC 8215), whose IPv4 side is whatever the local network says.
    let local_nat64 = first == 0x64 && second == 0xff9b && segments[2] == 1;
    // Deprecated IPv4-compatible (RFC 4291 §2.5.5.1) and IPv4-translated (RFC 2765)
    // forms, and tunnels that carry an IPv4 address inside (6to4, RFC 3056; Teredo and
    // the rest of the IETF protocol block 2001::/23, RFC 6890).
    let v4_compatible = segments[..6] == [0; 6];
    let v4_translated = segments[..6] == [0, 0, 0, 0, 0xffff, 0];
    let six_to_four = first == 0x2002;
    let protocol_assignments = first == 0x2001 && second < 0x0200;
    // Discard-only (RFC 6666).
    let discard = segments[..4] == [0x0100, 0, 0, 0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation
        || local_nat64
        || v4_compatible
        || v4_translated
        || six_to_four
        || protocol_assignments
        || discard)
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            // Ranges that embed or reach IPv4, or are not routed.
            "64:ff9b::a00:5",
            "64:ff9b::7f00:1",
            "64:ff9b:1::5db8:d822",
            "::10.0.0.5",
            "::93.184.216.34",
            "::ffff:0:10.0.0.5",
            "2002:a00:5::1",
            "2002:5db8:d822::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "fec0::1",
            "100::1",
            "3fff::1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "192.88.99.1",
        ] {
            assert!(!is_public_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "17.42.251.41",
            "2a00:1450:4001::1",
            // NAT64 to a public address.
            "64:ff9b::5db8:d822",
            "2001:4860:4860::8888",
        ] {
            assert!(is_public_address(ip.parse().unwrap()), "{ip}");
        }
    }
}

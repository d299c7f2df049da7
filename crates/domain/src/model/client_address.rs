//! The client's address: the peer's, unless the peer is a configured proxy, in which case the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy. Anything left of that
//! was written by the client and proves nothing. The same rule for HTTP headers and gRPC metadata.

use std::net::IpAddr;

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    net: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("rate_limit.trusted_proxies: '{raw}' is not an address or CIDR block");
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4 clients of a dual-stack socket arrive as `::ffff:a.b.c.d`; they are the same client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses (single IPs or CIDR blocks) whose `X-Forwarded-For` is believed (`rate_limit.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Parses IPs and CIDR blocks; the error names the entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| Block::parse(e))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// The client's address as text (`unknown` when the peer's is not known, as in some tests).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> String {
        let Some(peer) = peer.map(canonical) else {
            return "unknown".into();
        };
        if !self.trusts(peer) {
            return peer.to_string();
        }
        let mut client = peer;
        if let Some(xff) = forwarded_for {
            for hop in xff.rsplit(',') {
                match hop.trim().parse::<IpAddr>().map(canonical) {
                    Ok(ip) => {
                        client = ip;
                        if !self.trusts(ip) {
                            break;
                        }
                    }
                    // Garbage in the chain: stop at the last address we could trust.
                    Err(_) => break,
                }
            }
        }
        client.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.5".into()]).expect("valid");
        // Not a proxy: its own address, whatever it claims.
        assert_eq!(t.client(ip("8.8.8.8"), Some("1.2.3.4")), "8.8.8.8");
        // A proxy: the right-most untrusted hop; the spoofed left part is ignored.
        assert_eq!(
            t.client(ip("10.1.2.3"), Some("6.6.6.6, 1.2.3.4, 192.168.1.5")),
            "1.2.3.4"
        );
        assert_eq!(t.client(ip("10.1.2.3"), None), "10.1.2.3");
        assert_eq!(t.client(ip("10.1.2.3"), Some("10.0.0.9")), "10.0.0.9");
        assert_eq!(t.client(ip("10.1.2.3"), Some("junk, 1.2.3.4")), "1.2.3.4");
        assert_eq!(t.client(ip("::ffff:10.1.2.3"), Some("5.5.5.5")), "5.5.5.5");
        assert_eq!(t.client(None, Some("5.5.5.5")), "unknown");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }
}

//! Where webhooks may go (server-side request forgery guard). A playbook or config names a
//! URL; before anything is sent, its host must pass the admin allowlist
//! (`[notifications] allowed_hosts`) and every address it RESOLVES to must be public or
//! inside an allowlisted address/CIDR. Loopback, private, link-local (cloud metadata
//! 169.254.169.254), CGNAT, multicast and reserved addresses are refused unless an IP or
//! CIDR entry names them. The check runs inside the HTTP client's DNS resolver, on the
//! addresses the connection then uses, so a name that resolves to a public address for
//! the check and to 127.0.0.1 for the connection (DNS rebinding) cannot get through.
//! Redirects are not followed and no proxy is used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// One allowlist entry: a host name, an address, or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    Host(String),
    Net(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error(
        "`{0}` in notifications.allowed_hosts is neither a host name, an address nor a CIDR block"
    )]
    BadEntry(String),
    #[error("webhook URL `{0}` is not an http(s) URL")]
    BadUrl(String),
    #[error("webhook host `{0}` is not in notifications.allowed_hosts")]
    HostNotAllowed(String),
    #[error(
        "webhook host `{host}` resolves to {addr}, a loopback, private, link-local or reserved address; add it to notifications.allowed_hosts to allow it"
    )]
    AddressRefused { host: String, addr: IpAddr },
    #[error("webhook host `{0}` does not resolve: {1}")]
    Resolve(String, String),
}

/// The parsed allowlist.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    entries: Vec<AllowEntry>,
}

impl EgressPolicy {
    pub fn new(list: &[String]) -> Result<EgressPolicy, EgressError> {
        let entries = list
            .iter()
            .map(|s| parse_entry(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EgressPolicy { entries })
    }

    /// Whether the URL's host may be called at all (before resolution). With no allowlist,
    /// any host is a candidate (its addresses are still checked).
    pub fn check_host(&self, host: &str) -> Result<(), EgressError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.entries.is_empty() {
            return Ok(());
        }
        let ok = self.entries.iter().any(|e| match e {
            AllowEntry::Host(h) => *h == host,
            AllowEntry::Net(..) => false,
        }) || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.explicitly_allowed(ip));
        // A name not listed may still be allowed through a CIDR entry: then the resolved
        // addresses decide (they must all be inside listed networks).
        if ok || self.has_nets() {
            Ok(())
        } else {
            Err(EgressError::HostNotAllowed(host))
        }
    }

    fn has_nets(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, AllowEntry::Net(..)))
    }

    fn host_listed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries
            .iter()
            .any(|e| matches!(e, AllowEntry::Host(h) if *h == host))
    }

    /// An address/CIDR entry covers `ip`.
    pub fn explicitly_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.entries.iter().any(|e| match e {
            AllowEntry::Net(net, len) => in_net(ip, *net, *len),
            AllowEntry::Host(_) => false,
        })
    }

    /// Whether `host`, resolved to `ip`, may be connected to.
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), EgressError> {
        let refused = || EgressError::AddressRefused {
            host: host.to_string(),
            addr: ip,
        };
        if self.explicitly_allowed(ip) {
            return Ok(());
        }
        if is_special(ip) {
            return Err(refused());
        }
        // A public address: fine without an allowlist, or when the name itself is listed.
        if self.entries.is_empty() || self.host_listed(host) {
            Ok(())
        } else {
            Err(EgressError::HostNotAllowed(host.to_string()))
        }
    }

    /// Checks a URL completely: scheme, host, and every address the host resolves to now.
    pub async fn check_url(&self, url: &reqwest::Url) -> Result<(), EgressError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::BadUrl(url.to_string()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| EgressError::BadUrl(url.to_string()))?;
        self.check_host(host)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check_addr(host, ip);
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| EgressError::Resolve(host.to_string(), e.to_string()))?;
        let mut any = false;
        for a in addrs {
            self.check_addr(host, a.ip())?;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(EgressError::Resolve(host.into(), "no addresses".into()))
        }
    }
}

/// The HTTP client's resolver: resolves, then drops every address the policy refuses, so
/// the connection can only go where the check looked.
pub struct GuardedResolver {
    pub policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut ok = Vec::new();
            let mut last = None;
            for a in addrs {
                match policy.check_addr(&host, a.ip()) {
                    Ok(()) => ok.push(a),
                    Err(e) => last = Some(e),
                }
            }
            if ok.is_empty() {
                let e = last.unwrap_or(EgressError::Resolve(host, "no addresses".into()));
                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn parse_entry(s: &str) -> Result<AllowEntry, EgressError> {
    let t = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = || EgressError::BadEntry(s.to_string());
    if t.is_empty() {
        return Err(bad());
    }
    if let Some((addr, len)) = t.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(bad());
        }
        return Ok(AllowEntry::Net(canonical(ip), len));
    }
    let bare = t.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let ip = canonical(ip);
        return Ok(AllowEntry::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
    }
    let valid = t.len() <= 253
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(AllowEntry::Host(t))
    } else {
        Err(bad())
    }
}

/// IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Loopback, private, link-local (metadata), CGNAT, multicast, documentation and reserved.
pub fn is_special(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    const NETS: &[([u8; 4], u8)] = &[
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    NETS.iter()
        .any(|(n, len)| in_net(IpAddr::V4(ip), IpAddr::V4(Ipv4Addr::from(*n)), *len))
}

fn special_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (incl. fd00:ec2::254)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
        // NAT64 and 6to4 carry an IPv4 address: check it.
        || (seg[0] == 0x0064 && seg[1] == 0xff9b && {
            let [a, b] = seg[6].to_be_bytes();
            let [c, d] = seg[7].to_be_bytes();
            special_v4(Ipv4Addr::new(a, b, c, d))
        })
        || (seg[0] == 0x2002 && {
            let [a, b] = seg[1].to_be_bytes();
            let [c, d] = seg[2].to_be_bytes();
            special_v4(Ipv4Addr::new(a, b, c, d))
        })
        // IPv4-compatible ::a.b.c.d (deprecated)
        || (seg[..6].iter().all(|s| *s == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_private_link_local_and_metadata_are_refused_by_default() {
        let p = EgressPolicy::default();
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            assert!(
                matches!(
                    p.check_addr("h", ip(a)),
                    Err(EgressError::AddressRefused { .. })
                ),
                "{a}"
            );
        }
        for a in ["93.184.215.14", "172.32.0.1", "2606:4700::1111", "8.8.8.8"] {
            assert_eq!(p.check_addr("h", ip(a)), Ok(()), "{a}");
        }
    }

    #[test]
    fn an_explicit_address_or_cidr_allows_a_special_address_a_host_name_does_not() {
        let p = EgressPolicy::new(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert_eq!(p.check_addr("x", ip("127.0.0.1")), Ok(()));
        assert_eq!(p.check_addr("x", ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(p.check_addr("x", ip("10.200.3.4")), Ok(()));
        assert!(p.check_addr("x", ip("127.0.0.2")).is_err());
        assert!(p.check_addr("x", ip("192.168.0.1")).is_err());
        // With an allowlist, a public address needs its name (or network) listed.
        assert!(p.check_addr("x", ip("8.8.8.8")).is_err());
        let p = EgressPolicy::new(&["hooks.example.com".into()]).unwrap();
        assert_eq!(p.check_addr("hooks.example.com", ip("8.8.8.8")), Ok(()));
        assert_eq!(p.check_addr("HOOKS.example.com.", ip("8.8.8.8")), Ok(()));
        assert!(p.check_addr("hooks.example.com", ip("127.0.0.1")).is_err());
        assert!(p.check_host("evil.example.com").is_err());
        assert_eq!(p.check_host("hooks.example.com"), Ok(()));
    }

    #[test]
    fn bad_entries_are_refused_with_their_text() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "a b",
            "x/8",
            "exa_mple.com",
            "1.2.3.4/x",
        ] {
            assert!(
                matches!(
                    EgressPolicy::new(&[bad.into()]),
                    Err(EgressError::BadEntry(_))
                ),
                "{bad}"
            );
        }
        assert!(EgressPolicy::new(&["[::1]".into(), "fd00::/8".into()]).is_ok());
    }

    #[tokio::test]
    async fn urls_are_checked_by_scheme_and_resolved_address() {
        let p = EgressPolicy::default();
        for u in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://localhost:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0x7f000001/",
            "http://2130706433/",
        ] {
            let url = reqwest::Url::parse(u).unwrap();
            assert!(
                matches!(
                    p.check_url(&url).await,
                    Err(EgressError::AddressRefused { .. })
                ),
                "{u}: {:?}",
                p.check_url(&url).await
            );
        }
        let url = reqwest::Url::parse("file:///etc/passwd").unwrap();
        assert!(matches!(
            p.check_url(&url).await,
            Err(EgressError::BadUrl(_))
        ));
        let allowed = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        let url = reqwest::Url::parse("http://127.0.0.1:9/x").unwrap();
        assert_eq!(allowed.check_url(&url).await, Ok(()));
    }
}

//! What policies are told about a request (`context`), in a form a client cannot step
//! around: the client address through trusted proxies only, `HEAD` as `GET`, and the path
//! as the router matched it (percent-decoded, without dot segments).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::authz::RequestContext;

/// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed: addresses or
/// networks, comma-separated (`10.0.0.0/8,127.0.0.1`). Empty by default, so a client's own
/// headers never change its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "`{entry}` is neither an IP address nor a network (like 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket peer, unless the peer is a trusted proxy; then the
    /// nearest address the proxies forwarded that is not itself a trusted proxy. Addresses
    /// are read right to left, because each proxy appends the one it saw: what lies left of
    /// the first untrusted hop was written by the client and proves nothing.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers);
        forwarded
            .iter()
            .rev()
            .find(|hop| !self.trusts(**hop))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The `for=` addresses of `Forwarded` (RFC 7239) when present, else of `X-Forwarded-For`,
/// in order. A hop that is not an address (`unknown`, an obfuscated name) ends the list
/// there: nothing before it can be attributed.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let forwarded = values("forwarded");
    let hops: Vec<String> = if forwarded.is_empty() {
        values("x-forwarded-for")
    } else {
        forwarded
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for")
                        .then(|| value.trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    let mut addresses: Vec<IpAddr> = Vec::with_capacity(hops.len());
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => addresses.push(ip),
            None => break,
        }
    }
    addresses.reverse();
    addresses
}

/// `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// The socket peer's address.
fn peer_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        })
}

/// The address the request came from, as per-address limits and policies see it.
pub fn client_ip(parts: &Parts, proxies: &TrustedProxies) -> IpAddr {
    proxies.client_ip(peer_ip(parts), &parts.headers)
}

/// The context of a request arriving at `time`.
pub fn request_context(
    parts: &Parts,
    proxies: &TrustedProxies,
    time: DateTime<Utc>,
) -> RequestContext {
    // A HEAD is answered by the GET handler without its body: the same read, so it is
    // decided as one.
    let method = match parts.method.as_str() {
        "HEAD" => "GET".to_owned(),
        other => other.to_owned(),
    };
    RequestContext {
        ip: client_ip(parts, proxies),
        time,
        method,
        path: normalized_path(parts.uri.path()),
    }
}

/// The path as the router matched it: each segment percent-decoded, `.` and `..` resolved.
/// A decoded `/` or `%` stays encoded, so a segment never turns into two, and a policy's
/// `like "/api/objects/invoices*"` sees `/api/objects/%69nvoices` as the object it names.
pub fn normalized_path(raw: &str) -> String {
    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    for segment in raw.split('/').skip(1) {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        trailing_slash = false;
        match decoded.as_ref() {
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            "" => {
                trailing_slash = true;
                segments.push(String::new());
            }
            decoded => segments.push(decoded.replace('%', "%25").replace('/', "%2F")),
        }
    }
    if trailing_slash && segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let mut path = String::with_capacity(raw.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    if trailing_slash || path.is_empty() {
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn paths_are_decoded_and_dot_segments_resolved() {
        for (raw, normalized) in [
            ("/", "/"),
            ("/api/objects/invoices", "/api/objects/invoices"),
            ("/api/objects/%69nvoices", "/api/objects/invoices"),
            ("/api/objects/%2569", "/api/objects/%2569"),
            (
                "/api/./objects/../objects/invoices",
                "/api/objects/invoices",
            ),
            ("/api/objects/a%2Fb", "/api/objects/a%2Fb"),
            ("/api/objects/", "/api/objects/"),
            ("/api/objects/.", "/api/objects/"),
            ("/api/objects/invoices/..", "/api/objects/"),
            ("/../../etc", "/etc"),
        ] {
            assert_eq!(normalized_path(raw), normalized, "{raw}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_peer() {
        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let forged = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            proxies.client_ip(ip("198.51.100.7"), &forged),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client_ip(ip("10.1.2.3"), &forged),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client_ip(ip("127.0.0.1"), &forged),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &chain), ip("203.0.113.9"));
        let forwarded = headers(&[(
            "forwarded",
            r#"for=1.1.1.1, for="[2001:db8::7]:443";proto=https, for=10.0.0.2"#,
        )]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &forwarded),
            ip("2001:db8::7")
        );
        let only_proxies = headers(&[("x-forwarded-for", "10.0.0.3")]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &only_proxies),
            ip("10.0.0.3")
        );
        let obfuscated = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &obfuscated),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_bad_proxy_entry_is_named() {
        let error = "10.0.0.0/8,nonsense".parse::<TrustedProxies>().unwrap_err();
        assert!(error.contains("`nonsense`"), "{error}");
    }
}

//! Who signed from where: the client's address and user agent, kept with a
//! consent as evidence.
//!
//! The address is the socket's peer, unless that peer is one of the
//! configured reverse proxies (`MARKET_CODE_TRUSTED_PROXIES`). Then
//! `X-Forwarded-For` is read from the right, where each proxy appended the
//! address it was called from: the first hop that is not itself a trusted
//! proxy is the client. Hops further left were written by the client and
//! prove nothing, so the left-most is never taken on its own word.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::services::consent::ClientInfo;
use crate::state::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";
/// Stored when the server was not given the socket's address (a test
/// calling the router without `ConnectInfo`).
pub const UNKNOWN: &str = "unknown";

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // An unreadable line counts as a garbage hop, so the walk stops
        // there instead of skipping to what the client wrote before it.
        let forwarded: Vec<&str> = parts
            .headers
            .get_all(FORWARDED_FOR)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        let ip = client_ip(peer, &forwarded, &state.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(ClientInfo { ip, user_agent })
    }
}

/// The client's address given the socket's `peer`, the `X-Forwarded-For`
/// header lines in arrival order, and the trusted proxies.
///
/// A hop that is not an address (garbage, `unknown`, an empty field) ends
/// the walk: nothing to its left can be vouched for, and the answer is the
/// nearest address that can — the last trusted proxy seen. When every hop is
/// trusted, the left-most of them is the answer.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpNet]) -> String {
    let Some(peer) = peer.map(|p| p.to_canonical()) else {
        return UNKNOWN.to_owned();
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut nearest = peer;
    if is_trusted(&peer) {
        let hops = forwarded_for.iter().rev().flat_map(|line| line.rsplit(','));
        for hop in hops {
            let Some(ip) = parse_hop(hop) else { break };
            nearest = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
    }
    nearest.to_string()
}

/// `198.51.100.7`, `2001:db8::7`, and the forms some proxies write with a
/// port (`198.51.100.7:4711`, `[2001:db8::7]:4711`) or brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &str) -> Vec<IpNet> {
        crate::config::parse_trusted_proxies(list).unwrap()
    }

    #[test]
    fn forwarded_for_rules() {
        // (trusted proxies, peer, X-Forwarded-For lines, expected)
        let cases: &[(&str, Option<&str>, &[&str], &str)] = &[
            // No trusted proxies (the default): the socket, whatever is sent.
            ("", Some("203.0.113.9"), &["198.51.100.7"], "203.0.113.9"),
            ("", Some("127.0.0.1"), &["198.51.100.7"], "127.0.0.1"),
            ("", Some("::1"), &["2001:db8::7"], "::1"),
            // An untrusted peer's header is ignored even when it names a
            // trusted proxy.
            (
                "10.0.0.0/8",
                Some("203.0.113.9"),
                &["10.0.0.1"],
                "203.0.113.9",
            ),
            // One proxy: the hop it appended, never the client's own.
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["198.51.100.7"],
                "198.51.100.7",
            ),
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["6.6.6.6, 198.51.100.7"],
                "198.51.100.7",
            ),
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["6.6.6.6,198.51.100.7"],
                "198.51.100.7",
            ),
            // A chain of trusted proxies is walked past.
            (
                "127.0.0.1, 10.0.0.0/8",
                Some("127.0.0.1"),
                &["6.6.6.6, 198.51.100.7, 10.0.0.3, 10.2.0.9"],
                "198.51.100.7",
            ),
            // Several header lines are one list, in order.
            (
                "127.0.0.1, 10.0.0.0/8",
                Some("127.0.0.1"),
                &["6.6.6.6", "198.51.100.7", "10.0.0.3"],
                "198.51.100.7",
            ),
            // Every hop trusted: the farthest of them.
            (
                "10.0.0.0/8",
                Some("10.0.0.1"),
                &["10.0.0.5, 10.0.0.3"],
                "10.0.0.5",
            ),
            // A trusted peer without the header (or an empty one): the peer.
            ("127.0.0.1", Some("127.0.0.1"), &[], "127.0.0.1"),
            ("127.0.0.1", Some("127.0.0.1"), &[""], "127.0.0.1"),
            // Garbage stops the walk at the last address that can be vouched for.
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["198.51.100.7, bogus"],
                "127.0.0.1",
            ),
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["198.51.100.7, unknown"],
                "127.0.0.1",
            ),
            // Garbage to the left of the client does not matter.
            (
                "127.0.0.1",
                Some("127.0.0.1"),
                &["6.6.6.6, , 10.9.9.9"],
                "10.9.9.9",
            ),
            (
                "127.0.0.1, 10.0.0.0/8",
                Some("127.0.0.1"),
                &["6.6.6.6, 300.1.1.1, 10.0.0.3"],
                "10.0.0.3",
            ),
            // An unreadable line (see the extractor) is garbage too.
            (
                "127.0.0.1, 10.0.0.0/8",
                Some("127.0.0.1"),
                &["6.6.6.6", "", "10.0.0.3"],
                "10.0.0.3",
            ),
            // IPv6: peers, hops, ports and brackets; IPv4-mapped addresses
            // are the IPv4 ones.
            ("::1", Some("::1"), &["2001:db8::7"], "2001:db8::7"),
            ("::1", Some("::1"), &["[2001:db8::7]:4711"], "2001:db8::7"),
            ("::1", Some("::1"), &["[2001:db8::7]"], "2001:db8::7"),
            ("::1", Some("::1"), &["198.51.100.7:4711"], "198.51.100.7"),
            (
                "127.0.0.1",
                Some("::ffff:127.0.0.1"),
                &["198.51.100.7"],
                "198.51.100.7",
            ),
            ("127.0.0.1", Some("::1"), &["198.51.100.7"], "::1"),
            (
                "fd00::/8",
                Some("fd00::2"),
                &["::ffff:198.51.100.7, fd00::9"],
                "198.51.100.7",
            ),
            ("", Some("::ffff:203.0.113.9"), &[], "203.0.113.9"),
            // No socket address: nothing to trust a header on.
            ("127.0.0.1", None, &["198.51.100.7"], UNKNOWN),
        ];
        for (trusted, peer, lines, expected) in cases {
            let peer = peer.map(|p| p.parse::<IpAddr>().unwrap());
            assert_eq!(
                client_ip(peer, lines, &nets(trusted)),
                *expected,
                "trusted {trusted:?}, peer {peer:?}, X-Forwarded-For {lines:?}"
            );
        }
    }
}

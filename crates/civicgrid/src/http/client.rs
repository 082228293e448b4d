//! Where a request comes from, for the abuse limits.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::accounts::limits::ClientAddr;

/// The peer's address; when the peer is a reverse proxy on this host (loopback), the address
/// it says it forwarded for (the last `X-Forwarded-For` entry, the one it added). A remote
/// peer cannot choose its address this way.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back()
        };
        // No peer: served in-process (tests), where the header stands for the proxy's word.
        let addr = match peer {
            Some(p) if !p.is_loopback() => Some(p),
            Some(p) => forwarded().or(Some(p)),
            None => forwarded(),
        };
        Ok(ClientAddr(
            addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
        ))
    }
}

//! Requests the platform makes to other systems: webhooks, SMS gateways, the county's Open311
//! server. One small HTTP/1.1 client over plain TCP or TLS (rustls with ring, no OpenSSL),
//! trusting the Mozilla roots plus, where a government intranet has its own certificate
//! authority, the deployment's CA file (`serve --tls-ca`). Every exchange is bounded as a
//! whole by a timeout, and an answer's body is read up to a limit, so a slow or hostile peer
//! can hold neither a job nor memory.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use tokio_rustls::rustls;

/// The most of an answer's body that is read.
const ANSWER_LIMIT: usize = 1 << 20;

/// Where a request goes: an `http://` or `https://` URL's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// `host` or `host:port`, for the Host header.
    pub authority: String,
    pub path_and_query: String,
}

impl Target {
    /// Parses an absolute http(s) URL; user and password in it are refused (credentials go
    /// in headers, where they are not logged with the URL).
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("not a URL ({e}): {url}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(format!(
                    "the URL must start with http:// or https://: {url}"
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("the URL names no host: {url}"))?;
        if authority.as_str().contains('@') {
            return Err("the URL must not carry a user or password".into());
        }
        let host = authority.host().trim_matches(['[', ']']).to_owned();
        if host.is_empty() {
            return Err(format!("the URL names no host: {url}"));
        }
        Ok(Target {
            tls,
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_owned(),
            host,
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

/// A peer's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for an error message.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut cut: String = text.chars().take(200).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        cut
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: hyper::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(url: &str) -> Request {
        Request {
            method: hyper::Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Request {
        Request {
            method: hyper::Method::POST,
            url: url.to_owned(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// The client: its TLS settings, built once.
#[derive(Clone)]
pub struct Outbound {
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbound")
    }
}

impl Default for Outbound {
    fn default() -> Self {
        // Ring supports the default protocol versions, so the first always succeeds.
        Outbound::trusting(&[]).unwrap_or_else(|_| Outbound {
            tls: Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(mozilla_roots())
                    .with_no_client_auth(),
            ),
        })
    }
}

/// rustls with ring, as lettre uses it: aws-lc-rs would add a large C and CMake build. (ring
/// is deprecated in rustls for lacking post-quantum key exchange; classical TLS 1.3 and 1.2
/// remain what government gateways speak.)
#[allow(deprecated)]
pub fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn mozilla_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

impl Outbound {
    /// A client trusting the Mozilla roots and the certificates in `extra_pem` (a CA file).
    pub fn trusting(extra_pem: &[u8]) -> Result<Outbound, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = mozilla_roots();
        if !extra_pem.is_empty() {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(extra_pem) {
                let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("not a usable CA certificate: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("the file holds no PEM certificate".into());
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(ring_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Outbound {
            tls: Arc::new(config),
        })
    }

    /// Sends `request` and reads the answer, all within `timeout`. `Err` says what failed
    /// (the URL, connecting, TLS, the exchange, or the time); any HTTP status is an answer.
    pub async fn send(&self, request: Request, timeout: Duration) -> Result<Answer, String> {
        let target = Target::parse(&request.url)?;
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(target.path_and_query.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(hyper::header::USER_AGENT, "civicgrid");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let built = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| format!("connecting to {}: {e}", target.authority))?;
            if target.tls {
                let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                    .map_err(|e| format!("not a server name ({e}): {}", target.host))?;
                let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {}: {e}", target.authority))?;
                exchange(stream, built).await
            } else {
                exchange(tcp, built).await
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
    }
}

async fn exchange<S>(stream: S, request: hyper::Request<Full<Bytes>>) -> Result<Answer, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    let body = Limited::new(answer.into_body(), ANSWER_LIMIT)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_http_or_https_urls() {
        let t = Target::parse("http://10.1.2.3:8088/hooks/civicgrid?k=1").expect("ok");
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.authority.as_str()),
            (false, "10.1.2.3", 8088, "10.1.2.3:8088")
        );
        assert_eq!(t.path_and_query, "/hooks/civicgrid?k=1");
        let t = Target::parse("https://sms.tencentcloudapi.com").expect("ok");
        assert_eq!((t.tls, t.port, t.path_and_query.as_str()), (true, 443, "/"));
        assert_eq!(Target::parse("http://gov.example").expect("ok").port, 80);
        for bad in [
            "ftp://gov.example/",
            "gov.example/x",
            "http://user:pw@gov.example/",
            "not a url",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        assert!(Outbound::trusting(b"").is_ok());
        assert!(Outbound::trusting(b"hello").is_err());
        assert!(
            Outbound::trusting(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}

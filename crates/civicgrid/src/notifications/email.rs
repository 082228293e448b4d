//! E-mail through the deployment's mail server (lettre's SMTP transport over tokio, TLS by
//! rustls). `serve --smtp-url` names the server as lettre reads it: `smtp://HOST:PORT` (plain,
//! for a relay on the same host or network), `smtp://HOST:587?tls=required` (STARTTLS),
//! `smtps://HOST:465` (TLS from the start), with `USER:PASSWORD@` when it asks for them.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::Letter;

/// How long one message's SMTP exchange may take, from connecting to the server's answer.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A failed try: `permanent` when trying again cannot help (the server refused the address
/// for good, the message does not open); otherwise it is tried again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub permanent: bool,
    pub reason: String,
}

impl Failure {
    pub fn later(reason: impl Into<String>) -> Failure {
        Failure {
            permanent: false,
            reason: reason.into(),
        }
    }
    pub fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            permanent: true,
            reason: reason.into(),
        }
    }
}

/// The mail server and the sender's address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server as configured, without a password, for logs and the status page.
    pub server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// The mail server at `url`, sending as `from` (`平台 <noreply@example.org>`).
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let parsed: hyper::Uri = url
            .parse()
            .map_err(|e| format!("--smtp-url is not a URL ({e})"))?;
        if !matches!(parsed.scheme_str(), Some("smtp" | "smtps")) {
            return Err("--smtp-url must start with smtp:// or smtps://".into());
        }
        let host = parsed.host().ok_or("--smtp-url names no host")?.to_owned();
        let server = match parsed.port_u16() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme_str().unwrap_or("smtp")),
            None => format!("{}://{host}", parsed.scheme_str().unwrap_or("smtp")),
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("--smtp-url: {e}"))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("--smtp-from is not an address ({e}): {from}"))?;
        Ok(Mailer {
            transport,
            from,
            server,
        })
    }

    /// Builds the e-mail for a message: UTF-8 plain text, its outbox id as the Message-ID
    /// (a repeat after a crash carries the same one), and List-Unsubscribe when there is a
    /// link for it.
    pub fn compose(&self, id: &uuid::Uuid, letter: &Letter) -> Result<Message, Failure> {
        let to: Mailbox = letter
            .to
            .parse()
            .map_err(|e| Failure::permanent(format!("not an address ({e})")))?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .message_id(Some(format!("<{id}@{domain}>")))
            .header(ContentType::TEXT_PLAIN);
        if let Some(link) = &letter.unsubscribe {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ));
        }
        builder
            .body(letter.body.clone())
            .map_err(|e| Failure::permanent(format!("the message cannot be built: {e}")))
    }

    /// Sends one message. The server's permanent refusals (5xx) are final; anything else
    /// (no connection, 4xx, a timeout) is tried again later.
    pub async fn send(&self, id: &uuid::Uuid, letter: &Letter) -> Result<(), Failure> {
        let message = self.compose(id, letter)?;
        // lettre bounds connecting, not a server that stops answering mid-conversation: the
        // whole exchange is bounded here, so a round (and its lease) always ends.
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => {
                Err(Failure::permanent(format!("{}: {e}", self.server)))
            }
            Ok(Err(e)) => Err(Failure::later(format!("{}: {e}", self.server))),
            Err(_) => Err(Failure::later(format!(
                "{}: no answer within {} s",
                self.server,
                SEND_TIMEOUT.as_secs()
            ))),
        }
    }
}

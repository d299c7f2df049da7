//! The transports of the `MailTransport` port: `log` (each mail to the log and to an `.eml` file,
//! so a fresh checkout needs no mail server) and `smtp` (lettre on tokio with rustls), and the
//! loop that drives the outbox sender.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use prometheus::IntGaugeVec;
use user_service_domain::model::Mail;
use user_service_domain::ports::{DeliveryError, MailOutbox, MailTransport};
use user_service_domain::services::OutboxSender;
use uuid::Uuid;

use crate::config::EmailSettings;

fn failed(message: impl Into<String>, permanent: bool) -> DeliveryError {
    DeliveryError {
        message: message.into(),
        permanent,
    }
}

/// The MIME message of a mail: text and HTML alternatives, and a Message-ID made from the outbox
/// id, so a mail delivered twice (a sender that outlived its lease) is recognisably one mail.
pub fn message(id: Uuid, mail: &Mail) -> Result<Message, DeliveryError> {
    let address = |raw: &str| {
        raw.parse()
            .map_err(|e| failed(format!("address '{raw}': {e}"), true))
    };
    let from = Mailbox::new(mail.from_name.clone(), address(&mail.from_address)?);
    let domain = mail
        .from_address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    Message::builder()
        .from(from)
        .to(Mailbox::new(None, address(&mail.to)?))
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text_body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html_body.clone()),
                ),
        )
        .map_err(|e| failed(format!("building the message: {e}"), true))
}

/// Writes each mail to the log (its text, link included) and to `dir/<id>.eml`.
pub struct LogTransport {
    dir: PathBuf,
}

impl LogTransport {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl MailTransport for LogTransport {
    async fn send(&self, id: Uuid, mail: &Mail) -> Result<(), DeliveryError> {
        let formatted = message(id, mail)?.formatted();
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| failed(format!("creating {}: {e}", self.dir.display()), false))?;
        let path = self.dir.join(format!("{id}.eml"));
        tokio::fs::write(&path, formatted)
            .await
            .map_err(|e| failed(format!("writing {}: {e}", path.display()), false))?;
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            file = %path.display(),
            "mail (email.transport = log):\n{}",
            mail.text_body
        );
        Ok(())
    }
}

/// Any SMTP server: STARTTLS (`smtp://`, required unless the server is this machine, where it is
/// used when offered), TLS from the first byte (`smtps://`), optional authentication from the URL.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    pub fn from_url(url: &str, timeout: Duration) -> Result<Self, String> {
        let invalid = |e: &dyn std::fmt::Display| format!("email.smtp.url: {e}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("email.smtp.url must start with smtp:// or smtps://")?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let host = authority
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default();
        let local = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|h| host == *h || host.starts_with(&format!("{h}:")));
        let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        let tls = params
            .iter()
            .find_map(|p| p.strip_prefix("tls="))
            .map(str::to_owned);
        params.retain(|p| !p.starts_with("tls="));
        // lettre reads a plain `smtp://` as no TLS at all; the contract's `smtp://` is STARTTLS.
        let tls = match (scheme, tls.as_deref()) {
            ("smtps", _) => None,
            ("smtp", None) if local => Some("opportunistic"),
            ("smtp", None | Some("required")) => Some("required"),
            ("smtp", Some("opportunistic")) => Some("opportunistic"),
            ("smtp", Some("none")) => None,
            _ => {
                return Err(
                    "email.smtp.url must be smtp://… (STARTTLS) or smtps://… (TLS); tls= may be \
                     required, opportunistic or none"
                        .into(),
                );
            }
        };
        params.extend(tls.map(|t| match t {
            "required" => "tls=required",
            _ => "tls=opportunistic",
        }));
        let lettre_url = if params.is_empty() {
            format!("{scheme}://{authority}")
        } else {
            format!("{scheme}://{authority}?{}", params.join("&"))
        };
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url).map_err(|e| invalid(&e))?;
        Ok(Self {
            inner: builder.timeout(Some(timeout)).build(),
        })
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, id: Uuid, mail: &Mail) -> Result<(), DeliveryError> {
        let message = message(id, mail)?;
        self.inner
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| failed(e.to_string(), e.is_permanent()))
    }
}

/// The transport `email.transport` names.
pub fn open_transport(settings: &EmailSettings) -> Result<Arc<dyn MailTransport>, String> {
    match settings.transport.as_str() {
        "smtp" => Ok(Arc::new(SmtpTransport::from_url(
            &settings.smtp.url,
            Duration::from_secs(settings.smtp.timeout_secs),
        )?)),
        _ => Ok(Arc::new(LogTransport::new(&settings.outbox_dir))),
    }
}

/// Runs the outbox sender until the process ends: a round whenever the previous one filled its
/// batch (more may be due), else one per `poll`. The outbox's counts go to `gauge` (by status)
/// after every round that did something, and at least every `COUNTS_EVERY`.
pub fn spawn_sender(
    sender: Arc<OutboxSender>,
    outbox: Arc<dyn MailOutbox>,
    gauge: IntGaugeVec,
    poll: Duration,
) -> tokio::task::JoinHandle<()> {
    const COUNTS_EVERY: Duration = Duration::from_secs(10);
    tokio::spawn(async move {
        let mut counted_at: Option<tokio::time::Instant> = None;
        loop {
            let (did_something, busy) = match sender.deliver_due().await {
                Ok(report) => {
                    if report.attempts() > 0 {
                        tracing::info!(
                            sent = report.sent,
                            retried = report.retried,
                            failed = report.failed,
                            "outbox delivery"
                        );
                    }
                    if report.failed > 0 || report.retried > 0 {
                        tracing::warn!(
                            retried = report.retried,
                            failed = report.failed,
                            "some mails were not delivered"
                        );
                    }
                    (
                        report.attempts() > 0,
                        report.attempts() >= sender.policy().batch,
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the outbox could not be read; retrying");
                    (false, false)
                }
            };
            let stale = counted_at.is_none_or(|at| at.elapsed() >= COUNTS_EVERY);
            if stale || did_something {
                if let Ok(c) = outbox.counts().await {
                    gauge.with_label_values(&["queued"]).set(c.queued as i64);
                    gauge.with_label_values(&["sent"]).set(c.sent as i64);
                    gauge.with_label_values(&["failed"]).set(c.failed as i64);
                }
                counted_at = Some(tokio::time::Instant::now());
            }
            if !busy {
                tokio::time::sleep(poll).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Mail {
        Mail {
            from_name: Some("Shop \"Best\" <Co>".into()),
            from_address: "no-reply@shop.example".into(),
            to: "alice@example.com".into(),
            subject: "Reset your Shöp password\r\nBcc: evil@example.com".into(),
            text_body: "Hello,\r\nhttps://x.example/r?token=abc\r\n".into(),
            html_body: "<p>Hello</p>".into(),
        }
    }

    #[test]
    fn a_message_has_both_bodies_an_encoded_subject_and_no_injected_header() {
        let id = Uuid::nil();
        let raw =
            String::from_utf8(message(id, &mail()).expect("builds").formatted()).expect("ascii");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(
            raw.contains(&format!("Message-ID: <{id}@shop.example>")),
            "{raw}"
        );
        // The CR LF inside the subject is encoded, not a header of its own.
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(raw.contains("To: alice@example.com"), "{raw}");
    }

    #[test]
    fn a_bad_recipient_is_a_permanent_failure() {
        let bad = Mail {
            to: "not an address".into(),
            ..mail()
        };
        assert!(matches!(
            message(Uuid::nil(), &bad),
            Err(DeliveryError {
                permanent: true,
                ..
            })
        ));
    }

    #[test]
    fn smtp_urls() {
        let ok = |u: &str| SmtpTransport::from_url(u, Duration::from_secs(5)).is_ok();
        assert!(ok("smtp://mail.example.com"));
        assert!(ok("smtp://user:p%40ss@mail.example.com:587"));
        assert!(ok("smtps://user:pass@mail.example.com:465"));
        assert!(ok("smtp://127.0.0.1:2525"));
        assert!(ok("smtp://relay.internal:25?tls=none"));
        assert!(!ok("http://mail.example.com"));
        assert!(!ok("smtp://"));
        assert!(!ok("smtp://mail.example.com:notaport"));
        assert!(!ok("smtp://mail.example.com?tls=maybe"));
    }

    #[tokio::test]
    async fn the_log_transport_writes_one_eml_per_mail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = LogTransport::new(dir.path().join("outbox"));
        let id = Uuid::from_u128(7);
        t.send(id, &mail()).await.expect("sent");
        let written = std::fs::read_to_string(dir.path().join("outbox").join(format!("{id}.eml")))
            .expect("eml file");
        assert!(
            written.contains("https://x.example/r?token=abc"),
            "{written}"
        );
    }
}

//! Outgoing notifications from the persisted outbox: webhooks (JSON body signed with
//! HMAC-SHA256, an idempotency id per event) and e-mail over SMTP. Playbook targets
//! `endpoint:<name>` and `role:<role>` are mapped to URLs and addresses by the settings.

use anyhow::Context;
use firewatch_store::playbooks::JobRecord;
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[notifications]` in the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// Attempts before a notification goes to the dead-letter state.
    pub max_attempts: u32,
    /// First retry delay; doubles with each attempt up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Timeout of one delivery attempt.
    pub timeout_ms: u64,
    /// Named webhook endpoints: playbook target `endpoint:<name>`.
    pub webhooks: BTreeMap<String, WebhookEndpoint>,
    /// Secret that signs webhooks sent to a literal URL in the playbook.
    pub webhook_secret: Option<String>,
    pub email: Option<EmailSettings>,
    /// Webhook allowlist (egress.rs): host names, addresses and CIDR blocks. Empty: any
    /// public address. Loopback, private, link-local and metadata addresses are refused
    /// unless an address or CIDR entry here names them.
    pub allowed_hosts: Vec<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            max_attempts: 8,
            backoff_base_ms: 5_000,
            backoff_max_ms: 3_600_000,
            timeout_ms: 10_000,
            webhooks: BTreeMap::new(),
            webhook_secret: None,
            email: None,
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    pub url: String,
    /// HMAC-SHA256 key of the `X-Firewatch-Signature` header.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub smtp_host: String,
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (plain text, for a local relay).
    #[serde(default = "default_tls")]
    pub tls: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender address.
    pub from: String,
    /// Addresses per role: playbook target `role:<role>`.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_tls() -> String {
    "starttls".into()
}

/// Why a delivery failed, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// Retrying cannot help (no such endpoint configured, 4xx answer): dead-letter now.
    pub permanent: bool,
}

impl DeliveryError {
    fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            permanent: true,
        }
    }
    fn transient(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            permanent: false,
        }
    }
}

type HmacSha256 = Hmac<sha2::Sha256>;

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Notifier {
    settings: NotifySettings,
    http: reqwest::Client,
    egress: std::sync::Arc<crate::egress::EgressPolicy>,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, lettre::message::Mailbox)>,
}

impl Notifier {
    pub fn new(settings: &NotifySettings) -> anyhow::Result<Notifier> {
        let timeout = Duration::from_millis(settings.timeout_ms.max(100));
        let egress = std::sync::Arc::new(
            crate::egress::EgressPolicy::new(&settings.allowed_hosts)
                .context("notifications.allowed_hosts")?,
        );
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // The resolver drops refused addresses (DNS rebinding); no redirects, no proxy.
            .dns_resolver(std::sync::Arc::new(crate::egress::GuardedResolver {
                policy: egress.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the webhook HTTP client")?;
        for (name, ep) in &settings.webhooks {
            reqwest::Url::parse(&ep.url)
                .with_context(|| format!("notifications.webhooks.{name}.url is not a URL"))?;
        }
        let smtp = match &settings.email {
            None => None,
            Some(e) => {
                let builder = match e.tls.as_str() {
                    "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.smtp_host),
                    "starttls" => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.smtp_host)
                            .context("notifications.email: bad SMTP host")?
                    }
                    "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.smtp_host)
                        .context("notifications.email: bad SMTP host")?,
                    other => anyhow::bail!(
                        "notifications.email.tls is `{other}`; expected starttls, tls or none"
                    ),
                };
                let mut builder = builder.port(e.smtp_port).timeout(Some(timeout));
                if let (Some(u), Some(p)) = (&e.username, &e.password) {
                    builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
                }
                let from = e.from.parse().with_context(|| {
                    format!("notifications.email.from `{}` is not an address", e.from)
                })?;
                Some((builder.build(), from))
            }
        };
        Ok(Notifier {
            settings: settings.clone(),
            http,
            egress,
            smtp,
        })
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    pub async fn deliver(&self, job: &JobRecord) -> Result<(), DeliveryError> {
        match job.kind.as_str() {
            "webhook" => self.webhook(job).await,
            "email" => self.email(job).await,
            other => Err(DeliveryError::permanent(format!(
                "unknown channel `{other}`"
            ))),
        }
    }

    async fn webhook(&self, job: &JobRecord) -> Result<(), DeliveryError> {
        let (url, secret) = match job.target.strip_prefix("endpoint:") {
            Some(name) => {
                let ep = self.settings.webhooks.get(name).ok_or_else(|| {
                    DeliveryError::permanent(format!(
                        "no webhook endpoint named `{name}` is configured ([notifications.webhooks.{name}])"
                    ))
                })?;
                (ep.url.clone(), Some(ep.secret.clone()))
            }
            None => (job.target.clone(), self.settings.webhook_secret.clone()),
        };
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| DeliveryError::permanent(format!("webhook URL `{url}`: {e}")))?;
        match self.egress.check_url(&parsed).await {
            Ok(()) => {}
            Err(e @ crate::egress::EgressError::Resolve(..)) => {
                return Err(DeliveryError::transient(e.to_string()));
            }
            Err(e) => return Err(DeliveryError::permanent(e.to_string())),
        }
        let body = serde_json::to_vec(&job.payload)
            .map_err(|e| DeliveryError::permanent(format!("payload: {e}")))?;
        let event = job.payload["type"]
            .as_str()
            .unwrap_or("notification")
            .to_string();
        let mut req = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &job.event_id)
            .header("X-Firewatch-Event-Id", &job.event_id)
            .header("X-Firewatch-Event", event)
            .header("X-Firewatch-Attempt", job.attempts.to_string());
        if let Some(secret) = secret {
            req = req.header("X-Firewatch-Signature", signature(&secret, &body));
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::transient(format!("POST {url}: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let msg = format!("POST {url}: HTTP {status}");
        // 408 and 429 ask for a retry; other client errors will not get better.
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(DeliveryError::permanent(msg))
        } else {
            Err(DeliveryError::transient(msg))
        }
    }

    async fn email(&self, job: &JobRecord) -> Result<(), DeliveryError> {
        let (transport, from) = self.smtp.as_ref().ok_or_else(|| {
            DeliveryError::permanent("e-mail is not configured ([notifications.email])")
        })?;
        let addresses: Vec<String> = match job.target.strip_prefix("role:") {
            Some(role) => {
                let list = self
                    .settings
                    .email
                    .as_ref()
                    .and_then(|e| e.roles.get(role))
                    .cloned()
                    .unwrap_or_default();
                if list.is_empty() {
                    return Err(DeliveryError::permanent(format!(
                        "no e-mail address is configured for the role `{role}` (notifications.email.roles.{role})"
                    )));
                }
                list
            }
            None => vec![job.target.clone()],
        };
        let (subject, text) = render_email(job);
        let mut builder = Message::builder()
            .from(from.clone())
            .subject(subject)
            .message_id(Some(format!("<{}@firewatch>", job.event_id)))
            .header(ContentType::TEXT_PLAIN);
        for a in &addresses {
            let mbox = a
                .parse()
                .map_err(|e| DeliveryError::permanent(format!("bad address `{a}`: {e}")))?;
            builder = builder.to(mbox);
        }
        let message = builder
            .body(text)
            .map_err(|e| DeliveryError::permanent(format!("cannot build the e-mail: {e}")))?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(DeliveryError::transient(format!("SMTP: {e}"))),
        }
    }
}

/// A plain-text e-mail: what happened, on which case, and the JSON event.
fn render_email(job: &JobRecord) -> (String, String) {
    let p = &job.payload;
    let reference = p["case"]["reference"].as_str().unwrap_or("");
    let severity = p["case"]["severity"].as_str().unwrap_or("");
    let product = format!(
        "{} {}",
        p["case"]["product"]["brand"].as_str().unwrap_or(""),
        p["case"]["product"]["model"].as_str().unwrap_or("")
    );
    let subject = match p["type"].as_str() {
        Some("clock.breached") => format!(
            "[firewatch] {reference} {severity}: clock {} breached, escalated to {}",
            p["clock"]["name"].as_str().unwrap_or("?"),
            p["escalation"]["level"].as_str().unwrap_or("?")
        ),
        Some("rule.matched") => format!(
            "[firewatch] {reference} {severity}: rule {} matched",
            p["rule_id"].as_str().unwrap_or("?")
        ),
        _ => format!("[firewatch] {reference}"),
    };
    let mut text = format!(
        "Case {reference} ({severity}), product: {}, market: {}\n\n",
        if product.trim().is_empty() {
            "unknown"
        } else {
            product.trim()
        },
        p["case"]["country"].as_str().unwrap_or("unknown")
    );
    if let Some(clock) = p["clock"]["name"].as_str() {
        text.push_str(&format!(
            "Clock {clock} passed its deadline {} ({}).\n",
            p["clock"]["deadline"].as_str().unwrap_or("?"),
            p["clock"]["reference"]
                .as_str()
                .unwrap_or("no legal reference")
        ));
    }
    text.push_str(&format!(
        "Rule: {}\nEscalation level: {}\nEvent id: {}\n\n{}\n",
        p["rule_id"].as_str().unwrap_or("?"),
        p["escalation"]["level"].as_str().unwrap_or("?"),
        job.event_id,
        serde_json::to_string_pretty(p).unwrap_or_default()
    ));
    (subject, text)
}

/// Delay before retry number `attempts` (1 = after the first failure).
pub fn backoff(settings: &NotifySettings, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ms = settings
        .backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(settings.backoff_max_ms);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = NotifySettings {
            backoff_base_ms: 1000,
            backoff_max_ms: 5000,
            ..NotifySettings::default()
        };
        assert_eq!(backoff(&s, 1), Duration::from_millis(1000));
        assert_eq!(backoff(&s, 2), Duration::from_millis(2000));
        assert_eq!(backoff(&s, 3), Duration::from_millis(4000));
        assert_eq!(backoff(&s, 4), Duration::from_millis(5000));
        assert_eq!(backoff(&s, 60), Duration::from_millis(5000));
    }
}

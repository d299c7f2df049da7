//! Issuing an email token together with the mail that carries it: the link, the text and HTML
//! bodies, the quota per address. Nothing is sent here: the mail goes to the outbox in the same
//! transaction as its token, and the outbox sender delivers it later.

use std::sync::Arc;

use chrono::Duration;

use crate::error::{DomainError, DomainResult};
use crate::model::{
    EmailPurpose, EmailToken, Issued, Mail, MailQuota, Namespace, OutboxMail, OutboxStatus, User,
    link_with_token,
};
use crate::ports::{Clock, EmailTokenRepository, IdGenerator, NamespaceRepository};
use crate::tokens::hash_secret;

/// The knobs of the mail rules.
#[derive(Debug, Clone)]
pub struct MailPolicy {
    /// The service's own address (`server.public_url`), for links to its own pages.
    pub public_url: String,
    /// The sender when the namespace names none (`email.from`).
    pub default_from: String,
    /// How long a password-reset token lives.
    pub reset_ttl_secs: u64,
    /// How long a verification token lives.
    pub verify_ttl_secs: u64,
    /// Mails of one purpose to one address per hour.
    pub max_per_hour: u32,
}

impl MailPolicy {
    /// The contract's values: 30 minutes for a reset, 48 hours for a verification, 3 an hour.
    pub fn new(public_url: &str, default_from: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            default_from: default_from.to_owned(),
            reset_ttl_secs: 30 * 60,
            verify_ttl_secs: 48 * 3600,
            max_per_hour: 3,
        }
    }

    fn ttl_secs(&self, purpose: EmailPurpose) -> u64 {
        match purpose {
            EmailPurpose::PasswordReset => self.reset_ttl_secs,
            EmailPurpose::VerifyEmail => self.verify_ttl_secs,
        }
    }
}

/// The service's own page for each purpose, relative to `server.public_url`.
pub fn own_page(purpose: EmailPurpose) -> &'static str {
    match purpose {
        EmailPurpose::PasswordReset => "/auth/password-reset",
        EmailPurpose::VerifyEmail => "/auth/verify-email",
    }
}

/// Issues email tokens and queues their mails.
pub struct Mailer {
    namespaces: Arc<dyn NamespaceRepository>,
    tokens: Arc<dyn EmailTokenRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    policy: MailPolicy,
}

impl Mailer {
    /// The mailer on its ports.
    pub fn new(
        namespaces: Arc<dyn NamespaceRepository>,
        tokens: Arc<dyn EmailTokenRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        policy: MailPolicy,
    ) -> Self {
        Self {
            namespaces,
            tokens,
            clock,
            ids,
            policy,
        }
    }

    /// Issues a token of `purpose` for `user`'s current email and queues the mail carrying it, unless
    /// the address had its quota of such mails this hour (then nothing is stored). A user without
    /// an email is a validation error on `email`.
    pub async fn queue(&self, user: &User, purpose: EmailPurpose) -> DomainResult<Issued> {
        let Some(email) = user.email.clone() else {
            return Err(DomainError::field(
                "email",
                "the account has no email address",
            ));
        };
        let namespace = self
            .namespaces
            .get(&user.namespace)
            .await?
            .ok_or_else(|| DomainError::NamespaceNotFound(user.namespace.clone()))?;
        let now = self.clock.now();
        let secret = self.ids.new_secret();
        let ttl = self.policy.ttl_secs(purpose);
        let token = EmailToken {
            token_hash: hash_secret(&secret),
            purpose,
            user_id: user.id,
            namespace: user.namespace.clone(),
            email: email.clone(),
            created_at: now,
            expires_at: now + Duration::seconds(ttl as i64),
            used_at: None,
        };
        let link = self.link(&namespace, purpose, &secret);
        let mail = OutboxMail {
            id: self.ids.new_id(),
            namespace: user.namespace.clone(),
            mail: render(&namespace, &self.policy, user, &email, purpose, &link, ttl),
            status: OutboxStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        let quota = MailQuota {
            max: self.policy.max_per_hour,
            since: now - Duration::hours(1),
        };
        self.tokens.issue(&token, &mail, quota).await
    }

    /// After a write that may have changed `before`'s email: a new, unverified address gets its
    /// verification mail.
    pub async fn after_email_change(&self, before: &User, after: &User) -> DomainResult<()> {
        if after.email.is_some() && !after.email_verified && before.email_key() != after.email_key()
        {
            self.queue(after, EmailPurpose::VerifyEmail).await?;
        }
        Ok(())
    }

    fn link(&self, namespace: &Namespace, purpose: EmailPurpose, secret: &str) -> String {
        let settings = &namespace.settings;
        let app_page = match purpose {
            EmailPurpose::PasswordReset => settings.password_reset_url.as_deref(),
            EmailPurpose::VerifyEmail => settings.email_verify_url.as_deref(),
        };
        match app_page {
            Some(base) => link_with_token(base, secret),
            None => link_with_token(
                &format!("{}{}", self.policy.public_url, own_page(purpose)),
                secret,
            ),
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render(
    namespace: &Namespace,
    policy: &MailPolicy,
    user: &User,
    to: &str,
    purpose: EmailPurpose,
    link: &str,
    ttl_secs: u64,
) -> Mail {
    let app = namespace.display_name();
    let validity = if ttl_secs.is_multiple_of(3600) {
        format!("{} hours", ttl_secs / 3600)
    } else {
        format!("{} minutes", ttl_secs / 60)
    };
    let (subject, intro, action, outro) = match purpose {
        EmailPurpose::PasswordReset => (
            format!("Reset your {app} password"),
            format!(
                "Someone asked to reset the password of your {app} account ({}).",
                user.username
            ),
            "Choose a new password",
            "If you did not ask for this, ignore this mail: your password stays as it is.",
        ),
        EmailPurpose::VerifyEmail => (
            format!("Confirm your email address for {app}"),
            format!(
                "Please confirm that {to} is the email address of your {app} account ({}).",
                user.username
            ),
            "Confirm my email address",
            "If you did not create this account or change its address, ignore this mail.",
        ),
    };
    let text_body = format!(
        "Hello {name},\r\n\r\n{intro}\r\n\r\n{action}:\r\n{link}\r\n\r\n\
         The link works once, for {validity}.\r\n{outro}\r\n\r\n-- \r\n{app}\r\n",
        name = user.username,
    );
    let html_body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.5\">\n\
         <p>Hello {name},</p>\n<p>{intro}</p>\n\
         <p><a href=\"{link}\" style=\"display:inline-block;padding:10px 16px;background:#1a56db;\
         color:#fff;text-decoration:none;border-radius:4px\">{action}</a></p>\n\
         <p>Or open this address: <a href=\"{link}\">{link}</a></p>\n\
         <p>The link works once, for {validity}. {outro}</p>\n<p>&mdash; {app}</p>\n</body></html>\n",
        subject = html_escape(&subject),
        name = html_escape(&user.username),
        intro = html_escape(&intro),
        link = html_escape(link),
        action = html_escape(action),
        outro = html_escape(outro),
        app = html_escape(app),
    );
    Mail {
        from_name: Some(app.to_owned()),
        from_address: namespace
            .settings
            .mail_from
            .clone()
            .unwrap_or_else(|| policy.default_from.clone()),
        to: to.to_owned(),
        subject,
        text_body,
        html_body,
    }
}

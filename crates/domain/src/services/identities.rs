//! External identities (API.md 7, seed 003): a token of a trusted issuer is a user of that issuer's
//! namespace, the one linked to its `(iss, sub)`, created at first sight; and a path may name a user
//! by such a subject.

use std::sync::Arc;

use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::model::identity::unverified_issuer;
use crate::model::{
    ExternalIdentity, ExternalIssuer, ExternalIssuers, ExternalSubject, IdentityLink, Principal,
    User, Username,
};
use crate::ports::{
    Clock, ExternalTokenOutcome, ExternalTokenRefusal, ExternalTokenVerifier, IdGenerator,
    IdentityLinkRepository, Telemetry, UserRepository,
};
use crate::services::auth::new_user;

/// How many times a first sight tries to create its user: with the username the claims give, then
/// (taken) with the identity's suffix, then with the new user's id; one more for an email that is
/// taken (the user is then made without it). Only a namespace that holds the first two names already
/// (made on purpose) gets to the third.
const CREATE_ATTEMPTS: usize = 4;

/// Tokens of external issuers, their users, and paths naming a user by an external subject.
pub struct IdentityService {
    issuers: ExternalIssuers,
    links: Arc<dyn IdentityLinkRepository>,
    users: Arc<dyn UserRepository>,
    verifier: Arc<dyn ExternalTokenVerifier>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    telemetry: Option<Arc<dyn Telemetry>>,
}

impl IdentityService {
    /// The service for `issuers`, their tokens checked by `verifier`.
    pub fn new(
        issuers: ExternalIssuers,
        links: Arc<dyn IdentityLinkRepository>,
        users: Arc<dyn UserRepository>,
        verifier: Arc<dyn ExternalTokenVerifier>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            issuers,
            links,
            users,
            verifier,
            clock,
            ids,
            telemetry: None,
        }
    }

    /// Counts every external token checked, by outcome.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// The configured issuers.
    pub fn issuers(&self) -> &ExternalIssuers {
        &self.issuers
    }

    /// The user a bearer token stands for when it is not ours (its `iss` is not `own_issuer`):
    /// `None` for a token that names our issuer (or none), left to our own verification. A token
    /// of an issuer that is not configured, or that its issuer's keys do not verify, is
    /// `TokenInvalid`; an expired one `TokenExpired`; a linked user that is deactivated or deleted
    /// `TokenStale`, as our own tokens of such a user are.
    pub async fn authenticate(&self, token: &str, own_issuer: &str) -> DomainResult<Option<User>> {
        if self.issuers.is_empty() {
            return Ok(None);
        }
        let Some(iss) = unverified_issuer(token).filter(|iss| iss != own_issuer) else {
            return Ok(None);
        };
        let Some(issuer) = self.issuers.find(&iss) else {
            self.count(ExternalTokenOutcome::UnknownIssuer);
            return Err(DomainError::TokenInvalid);
        };
        let claims = match self.verifier.verify(issuer, token).await {
            Ok(claims) => claims,
            Err(refusal) => {
                self.count(ExternalTokenOutcome::Refused(refusal));
                return Err(match refusal {
                    ExternalTokenRefusal::Expired => DomainError::TokenExpired,
                    ExternalTokenRefusal::UnknownKey | ExternalTokenRefusal::Invalid => {
                        DomainError::TokenInvalid
                    }
                    ExternalTokenRefusal::Unavailable => DomainError::Unavailable {
                        retry_after_secs: 5,
                    },
                });
            }
        };
        let identity = ExternalIdentity::from_claims(issuer, &claims).inspect_err(|_| {
            self.count(ExternalTokenOutcome::Refused(ExternalTokenRefusal::Invalid));
        })?;
        let (user, created) = self.user_of(issuer, &identity).await?;
        self.count(if created {
            ExternalTokenOutcome::Provisioned
        } else {
            ExternalTokenOutcome::Accepted
        });
        Ok(Some(user))
    }

    /// The id of the user that `raw` (a path's `{user_id}`) names for `caller`: our id, or the
    /// subject of an identity linked to a user of the caller's namespace — never of another. In a
    /// namespace without external issuers only our ids are accepted (anything else is 400, as
    /// before); with issuers, a subject that names no one there is 404, as a made-up id. A UUID is
    /// the caller's own id, else a linked subject (some providers' subjects are UUIDs), else our id.
    pub async fn resolve_user(
        &self,
        caller: &Principal,
        raw: &str,
        field: &str,
    ) -> DomainResult<Uuid> {
        let as_id = Uuid::parse_str(raw).ok();
        let namespace = match caller.namespace() {
            Some(ns) if self.issuers.of_namespace(ns).next().is_some() => ns,
            _ => return as_id.ok_or_else(|| DomainError::field(field, "must be a UUID")),
        };
        if let (Some(id), Principal::User(u)) = (as_id, caller)
            && u.id == id
        {
            return Ok(id);
        }
        let subject = ExternalSubject::parse(raw).map_err(|m| DomainError::field(field, m))?;
        let links = self
            .links
            .find_in_namespace(namespace, subject.as_str())
            .await?;
        // Two issuers of one namespace may both know the subject: the first configured wins.
        let rank = |l: &IdentityLink| {
            self.issuers
                .all()
                .iter()
                .position(|i| i.namespace == namespace && i.issuer == l.issuer)
                .unwrap_or(usize::MAX)
        };
        match links.iter().min_by_key(|l| rank(l)) {
            Some(link) => Ok(link.user_id),
            None => as_id.ok_or(DomainError::UserNotFound),
        }
    }

    /// The user linked to the identity, made (with its link) when there is none.
    async fn user_of(
        &self,
        issuer: &ExternalIssuer,
        identity: &ExternalIdentity,
    ) -> DomainResult<(User, bool)> {
        if let Some(user) = self.linked_user(issuer, identity).await? {
            return Ok((user, false));
        }
        let id = self.ids.new_id();
        let mut username = identity.username.clone();
        let mut email = identity.email.clone();
        let mut names_tried = 0;
        for _ in 0..CREATE_ATTEMPTS {
            let now = self.clock.now();
            let mut user = new_user(id, &issuer.namespace, username.as_str(), None, now);
            if let Some(e) = &email {
                user.email = Some(e.as_str().to_owned());
                user.email_verified = true;
            }
            let link = IdentityLink {
                issuer: issuer.issuer.clone(),
                subject: identity.subject.as_str().to_owned(),
                user_id: id,
                namespace: issuer.namespace.clone(),
                created_at: now,
            };
            match self.links.create_linked(&user, &link).await {
                Ok(true) => return Ok((user, true)),
                // Linked meanwhile by a racing first sight: that one's user is the one.
                Ok(false) => {}
                Err(DomainError::UsernameTaken { .. }) => {
                    names_tried += 1;
                    username = if names_tried == 1 {
                        identity.fallback_username(&issuer.issuer)
                    } else {
                        fallback_with_id(&identity.username, id)
                    };
                }
                // Someone else's account has that address: the new one goes without.
                Err(DomainError::EmailTaken { .. }) => email = None,
                // The configuration names a namespace no one created: the service's fault, not
                // the token's, and the log must say which.
                Err(DomainError::NamespaceNotFound(ns)) => {
                    return Err(DomainError::unexpected(format!(
                        "the external issuer '{}' is configured for the namespace '{ns}', which does not exist",
                        issuer.issuer
                    )));
                }
                Err(e) => return Err(e),
            }
            // A conflict may be a racing first sight of the same identity that won.
            if let Some(user) = self.linked_user(issuer, identity).await? {
                return Ok((user, false));
            }
        }
        Err(DomainError::unexpected(
            "no free username for an external identity",
        ))
    }

    async fn linked_user(
        &self,
        issuer: &ExternalIssuer,
        identity: &ExternalIdentity,
    ) -> DomainResult<Option<User>> {
        let Some(link) = self
            .links
            .find(&issuer.issuer, identity.subject.as_str())
            .await?
        else {
            return Ok(None);
        };
        // Moving an issuer to another namespace in the configuration does not move its users, and
        // a token must never be a principal of a namespace its issuer does not serve.
        if link.namespace != issuer.namespace {
            return Err(DomainError::TokenInvalid);
        }
        match self.users.get(&link.namespace, link.user_id).await? {
            Some(u) if u.can_authenticate() => Ok(Some(u)),
            _ => Err(DomainError::TokenStale),
        }
    }

    fn count(&self, outcome: ExternalTokenOutcome) {
        if let Some(t) = &self.telemetry {
            t.external_token(outcome);
        }
    }
}

/// The last resort: `name` with the new user's id as suffix, unique by construction.
fn fallback_with_id(name: &Username, id: Uuid) -> Username {
    let suffix = format!("-{}", id.simple());
    let base: String = name
        .as_str()
        .chars()
        .take(Username::MAX_CHARS - suffix.len())
        .collect();
    crate::model::username_from(&format!("{base}{suffix}"))
}

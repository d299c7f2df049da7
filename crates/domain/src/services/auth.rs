//! Accounts and tokens: register, login, refresh with rotation and reuse detection, logout,
//! change of password, and turning a request's credentials into a principal.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::model::EmailPurpose;
use crate::model::{
    AccessClaims, Credentials, NamespaceSlug, Password, Principal, ProfileChanges, RefreshToken,
    Role, Rotation, TokenPair, User, Username,
};
use crate::ports::{
    Clock, IdGenerator, LoginName, NamespaceRepository, PasswordHasher, RefreshTokenRepository,
    UserRepository,
};
use crate::services::identities::IdentityService;
use crate::services::login_throttle::{Account, LoginThrottle, check_password, confirm_password};
use crate::services::mail::Mailer;
use crate::tokens::{AccessTokens, hash_secret, secrets_equal};

/// The knobs of the authentication rules.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// How long a refresh token lives.
    pub refresh_ttl_secs: u64,
    /// How long after its rotation a spent refresh token still yields a pair (two tabs refreshing at once).
    pub refresh_reuse_leeway_secs: u64,
    /// The operator key; `None` leaves namespace creation open.
    pub operator_key: Option<String>,
}

/// A validated registration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The namespace to join.
    pub namespace: NamespaceSlug,
    /// The username.
    pub username: Username,
    /// The password.
    pub password: Password,
    /// Optional profile fields.
    pub profile: ProfileChanges,
}

/// A bearer token `AuthService::verify_bearer` found to be ours: made only there, so holding one
/// means its signature, issuer and expiry were checked. It carries its token, so that it vouches for
/// that token alone. Not `Debug`: the token is a credential.
#[derive(Clone)]
pub struct VerifiedBearer {
    token: String,
    claims: AccessClaims,
}

impl VerifiedBearer {
    /// Whom the token was issued to, as the per-user rate limit keys it: `namespace/user id`.
    pub fn subject(&self) -> String {
        format!("{}/{}", self.claims.namespace, self.claims.sub)
    }
}

/// Registration, login, tokens and credentials (API.md 2.2).
pub struct AuthService {
    namespaces: Arc<dyn NamespaceRepository>,
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    access: AccessTokens,
    policy: AuthPolicy,
    /// Every password check of a known or claimed account goes through it; `None` when
    /// `rate_limit.enabled` is false.
    throttle: Option<Arc<LoginThrottle>>,
    /// Queues the verification mail of a registration with an email; `None` sends none.
    mailer: Option<Arc<Mailer>>,
    /// Bearer tokens of trusted external issuers; `None` accepts only ours.
    identities: Option<Arc<IdentityService>>,
}

impl AuthService {
    /// The service on its ports, signing with `access`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        namespaces: Arc<dyn NamespaceRepository>,
        users: Arc<dyn UserRepository>,
        refresh_tokens: Arc<dyn RefreshTokenRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        access: AccessTokens,
        policy: AuthPolicy,
    ) -> Self {
        Self {
            namespaces,
            users,
            refresh_tokens,
            hasher,
            clock,
            ids,
            access,
            policy,
            throttle: None,
            mailer: None,
            identities: None,
        }
    }

    /// Accepts bearer tokens of the external issuers `identities` trusts, too.
    pub fn with_identities(mut self, identities: Arc<IdentityService>) -> Self {
        self.identities = Some(identities);
        self
    }

    /// Registrations with an email get a verification mail.
    pub fn with_mailer(mut self, mailer: Arc<Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Puts login and change-password under the brute-force throttle.
    pub fn with_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Creates the user and its first token pair; `NAMESPACE_NOT_FOUND`, `USERNAME_TAKEN`, `EMAIL_TAKEN`.
    pub async fn register(&self, reg: Registration) -> DomainResult<(User, TokenPair)> {
        let ns = reg.namespace.as_str();
        if self.namespaces.get(ns).await?.is_none() {
            return Err(DomainError::NamespaceNotFound(ns.to_owned()));
        }
        let hash = self.hasher.hash(&reg.password).await?;
        let now = self.clock.now();
        let mut user = new_user(
            self.ids.new_id(),
            ns,
            reg.username.as_str(),
            Some(hash),
            now,
        );
        reg.profile
            .apply(&mut user)
            .map_err(|m| DomainError::field("extra", m))?;
        self.users.insert(&user).await?;
        if let Some(mailer) = &self.mailer
            && user.email.is_some()
        {
            // Over the quota nothing is queued, and the registration stands all the same.
            mailer.queue(&user, EmailPurpose::VerifyEmail).await?;
        }
        let pair = self
            .issue_pair(&user, user.token_version, self.ids.new_id(), now)
            .await?;
        Ok((user, pair))
    }

    /// Every failure is the same `InvalidCredentials` after the same amount of hashing work: unknown
    /// namespace, unknown user, account without password, wrong password, inactive account. The
    /// attempt is throttled per account (whichever name found it) and per client address `ip`.
    /// Answers the account with its pair: seed 002's clients read the user from a login (API.md 7).
    pub async fn login(
        &self,
        namespace: &str,
        login: LoginName,
        password: &str,
        ip: &str,
    ) -> DomainResult<(User, TokenPair)> {
        let user = match NamespaceSlug::parse(namespace) {
            Ok(ns) => self.users.find_live(ns.as_str(), &login).await?,
            Err(_) => None,
        };
        let account = match &user {
            Some(u) => Account::of(u),
            None => Account::Unknown {
                namespace,
                name: login.key(),
            },
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let ok = check_password(
            self.throttle.as_deref(),
            self.hasher.as_ref(),
            account,
            ip,
            password,
            hash,
        )
        .await?;
        let mut user = match user {
            Some(u) if ok && u.can_authenticate() => u,
            _ => return Err(DomainError::InvalidCredentials),
        };
        // Asked only after the right password: a wrong one stays 401 and says nothing more.
        if !user.email_verified
            && self
                .namespaces
                .get(&user.namespace)
                .await?
                .is_some_and(|ns| ns.settings.require_verified_email)
        {
            return Err(DomainError::EmailNotVerified);
        }
        let now = self.clock.now();
        if let Some(h) = &user.password_hash
            && self.hasher.needs_rehash(h)
            && let Ok(password) = Password::parse(password)
        {
            let new_hash = self.hasher.hash(&password).await?;
            self.users
                .set_password_hash(&user.namespace, user.id, &new_hash, false, now)
                .await?;
            user.updated_at = now;
            user.password_hash = Some(new_hash);
        }
        let pair = self
            .issue_pair(&user, user.token_version, self.ids.new_id(), now)
            .await?;
        Ok((user, pair))
    }

    /// Rotates a refresh token. Whether it may (live, or spent within the leeway; its family not
    /// revoked; its user able to authenticate and still at the token version the token was issued
    /// under) is settled by the repository in the same transaction that stores the successor, so a
    /// refresh racing a logout, logout-all, password change, deactivation or deletion cannot leave a
    /// usable token behind. The checks here only spare that transaction for tokens already dead.
    /// `tenant` is the request's `X-Tenant-ID`: naming another namespace than the token's is 403, as
    /// on every authenticated route, and spends nothing.
    pub async fn refresh(&self, presented: &str, tenant: Option<&str>) -> DomainResult<TokenPair> {
        let hash = hash_secret(presented);
        let token = self
            .refresh_tokens
            .find(&hash)
            .await?
            .ok_or(DomainError::TokenInvalid)?;
        check_tenant(tenant, &token.namespace)?;
        let now = self.clock.now();
        if token.revoked_at.is_some() {
            return Err(DomainError::TokenInvalid);
        }
        if token.expires_at <= now {
            return Err(DomainError::TokenExpired);
        }
        let user = match self.users.get(&token.namespace, token.user_id).await? {
            Some(u) if u.can_authenticate() && u.token_version == token.token_version => u,
            _ => return Err(DomainError::TokenInvalid),
        };
        let (secret, next) =
            self.new_refresh_token(&user, token.family_id, token.token_version, now);
        let reuse_since = now - Duration::seconds(self.policy.refresh_reuse_leeway_secs as i64);
        match self
            .refresh_tokens
            .rotate(&hash, &next, reuse_since, now)
            .await?
        {
            Rotation::Rotated | Rotation::Reissued => {
                self.pair_with_version(&user, token.token_version, secret, now)
            }
            Rotation::Replayed => {
                // A spent token presented again after the leeway: stolen or replayed. End that login.
                self.refresh_tokens
                    .revoke_family(token.family_id, now)
                    .await?;
                Err(DomainError::TokenInvalid)
            }
            Rotation::Refused => Err(DomainError::TokenInvalid),
        }
    }

    /// Revokes the login the refresh token belongs to. Unknown tokens are accepted silently: logging
    /// out is idempotent and tells nothing.
    pub async fn logout(&self, presented: &str) -> DomainResult<()> {
        if let Some(token) = self.refresh_tokens.find(&hash_secret(presented)).await? {
            self.refresh_tokens
                .revoke_family(token.family_id, self.clock.now())
                .await?;
        }
        Ok(())
    }

    /// Revokes every refresh token of the user and makes its access tokens stale.
    pub async fn logout_all(&self, user: &User) -> DomainResult<()> {
        let now = self.clock.now();
        self.users
            .bump_token_version(&user.namespace, user.id, now)
            .await?;
        self.refresh_tokens.revoke_all_for_user(user.id, now).await
    }

    /// The current password is checked under the same throttle as a login of the account.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: Password,
        ip: &str,
    ) -> DomainResult<TokenPair> {
        confirm_password(
            self.throttle.as_deref(),
            self.hasher.as_ref(),
            user,
            ip,
            current,
            "current_password",
        )
        .await?;
        self.replace_password(user, new).await
    }

    /// Sets `user`'s password and ends every session it has (the token version moves on, every
    /// refresh token is revoked), answering a fresh pair for the caller: the end of a password
    /// change and of a reset by email.
    pub async fn replace_password(&self, user: &User, new: Password) -> DomainResult<TokenPair> {
        let hash = self.hasher.hash(&new).await?;
        let now = self.clock.now();
        let version = self
            .users
            .set_password_hash(&user.namespace, user.id, &hash, true, now)
            .await?;
        self.refresh_tokens
            .revoke_all_for_user(user.id, now)
            .await?;
        self.issue_pair(user, version, self.ids.new_id(), now).await
    }

    /// Checks a request's credentials. The operator key wins over a service key, which wins over a
    /// bearer token; no credentials at all is `None`.
    pub async fn authenticate(&self, creds: &Credentials) -> DomainResult<Option<Principal>> {
        self.authenticate_verified(creds, None).await
    }

    /// `authenticate`, reusing the verification of the request's bearer token made earlier in the
    /// same request (by the rate limiter, see `verify_bearer`) instead of checking its signature
    /// again. A verification of another token than the one in `creds` is ignored.
    pub async fn authenticate_verified(
        &self,
        creds: &Credentials,
        verified: Option<&VerifiedBearer>,
    ) -> DomainResult<Option<Principal>> {
        // A malformed `Authorization` was sent: an invalid token, whatever else came with it.
        if creds.bearer.as_deref() == Some("") {
            return Err(DomainError::TokenInvalid);
        }
        let principal = if let Some(key) = &creds.operator_key {
            match &self.policy.operator_key {
                Some(expected) if secrets_equal(key, expected) => Principal::Operator,
                _ => return Err(DomainError::ApiKeyInvalid),
            }
        } else if let Some(key) = &creds.api_key {
            let ns = self
                .namespaces
                .find_by_api_key_hash(&hash_secret(key))
                .await?;
            Principal::Service {
                namespace: ns.ok_or(DomainError::ApiKeyInvalid)?.slug,
            }
        } else if let Some(token) = &creds.bearer {
            let verified = verified.filter(|v| v.token == *token);
            Principal::User(self.user_for_access_token(token, verified).await?)
        } else {
            return Ok(None);
        };
        if let Some(ns) = principal.namespace() {
            check_tenant(creds.tenant.as_deref(), ns)?;
        }
        Ok(Some(principal))
    }

    /// A bearer token verified as one of ours (signature, issuer, expiry), without a database read:
    /// the per-user rate limit needs its subject before any handler runs, and authentication then
    /// takes it (`authenticate_verified`) instead of verifying the token again. `None` for a token
    /// that is not ours or has expired.
    pub fn verify_bearer(&self, token: &str) -> Option<VerifiedBearer> {
        let claims = self.access.verify(token, self.clock.now()).ok()?;
        Some(VerifiedBearer {
            token: token.to_owned(),
            claims,
        })
    }

    /// Whether the operator key is configured (namespace creation is open without it).
    pub fn operator_key_configured(&self) -> bool {
        self.policy.operator_key.is_some()
    }

    async fn user_for_access_token(
        &self,
        token: &str,
        verified: Option<&VerifiedBearer>,
    ) -> DomainResult<User> {
        let claims = match verified {
            // Ours, so no external issuer's: the identities would pass it on unread.
            Some(verified) => verified.claims.clone(),
            None => {
                if let Some(identities) = &self.identities
                    && let Some(user) = identities.authenticate(token, self.access.issuer()).await?
                {
                    return Ok(user);
                }
                self.access.verify(token, self.clock.now())?
            }
        };
        match self.users.get(&claims.namespace, claims.sub).await? {
            Some(u) if u.can_authenticate() && u.token_version == claims.ver => Ok(u),
            _ => Err(DomainError::TokenStale),
        }
    }

    async fn issue_pair(
        &self,
        user: &User,
        version: i64,
        family: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<TokenPair> {
        let (secret, token) = self.new_refresh_token(user, family, version, now);
        self.refresh_tokens.insert(&token).await?;
        self.pair_with_version(user, version, secret, now)
    }

    fn pair_with_version(
        &self,
        user: &User,
        version: i64,
        refresh: String,
        now: DateTime<Utc>,
    ) -> DomainResult<TokenPair> {
        Ok(TokenPair {
            access_token: self.access.issue(user, version, self.ids.new_id(), now)?,
            refresh_token: refresh,
            expires_in: self.access.ttl_secs(),
            refresh_expires_in: self.policy.refresh_ttl_secs,
        })
    }

    /// A new refresh token of `family_id`, stamped with `version`: the user's token version it is
    /// issued under.
    fn new_refresh_token(
        &self,
        user: &User,
        family_id: Uuid,
        version: i64,
        now: DateTime<Utc>,
    ) -> (String, RefreshToken) {
        let secret = self.ids.new_secret();
        let token = RefreshToken {
            token_hash: hash_secret(&secret),
            family_id,
            user_id: user.id,
            namespace: user.namespace.clone(),
            issued_at: now,
            expires_at: now + Duration::seconds(self.policy.refresh_ttl_secs as i64),
            spent_at: None,
            revoked_at: None,
            token_version: version,
        };
        (secret, token)
    }
}

/// `X-Tenant-ID`, when sent, must name the caller's namespace.
fn check_tenant(tenant: Option<&str>, namespace: &str) -> DomainResult<()> {
    match tenant {
        Some(t) if t != namespace => Err(DomainError::Forbidden(
            "X-Tenant-ID does not match the caller's namespace".into(),
        )),
        _ => Ok(()),
    }
}

/// A fresh account with default roles and an empty profile.
pub fn new_user(
    id: Uuid,
    namespace: &str,
    username: &str,
    password_hash: Option<String>,
    now: DateTime<Utc>,
) -> User {
    User {
        id,
        namespace: namespace.to_owned(),
        username: username.to_owned(),
        email: None,
        email_verified: false,
        password_hash,
        full_name: None,
        first_name: None,
        last_name: None,
        phone: None,
        avatar_url: None,
        avatar_key: None,
        extra: Default::default(),
        roles: vec![Role::USER.to_owned()],
        is_active: true,
        token_version: 0,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

//! The user service embedded in a plain Rust program: the domain services built on the project's
//! SQLite adapters, with no HTTP server. It creates a namespace, registers and logs in a user,
//! verifies the access token, recharges and consumes credits. See docs/EMBEDDING.md.
//!
//! ```text
//! cargo run -p user-service-db --example embedded               # a database in a temporary folder
//! cargo run -p user-service-db --example embedded -- sqlite://app.db
//! ```
//!
//! The only port this program implements itself is the password hasher (bcrypt, a few lines); every
//! repository is the database crate's, the clock and the ids are the domain's own.

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use user_service_db::{
    Database, DieselCreditLedger, DieselNamespaces, DieselRefreshTokens, DieselSigningKeys,
    DieselUsage, DieselUsers,
};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    ConsumeCredits, Credentials, Credits, NamespaceSlug, Password, Principal, ProfileChanges,
    RechargeCredits, SigningAlgorithm, Username,
};
use user_service_domain::ports::{
    Clock, IdGenerator, InlineKeyGenerator, LoginName, PasswordHasher, SystemClock, SystemIds,
};
use user_service_domain::services::{
    AuthPolicy, AuthService, CreditService, NamespaceService, NewNamespace, Registration,
    SigningKeyService,
};
use user_service_domain::signing::KeySealer;

/// bcrypt on the blocking pool. The service's own hasher also bounds how many run at once; a
/// program that hashes one password at a time needs no more than this.
struct Bcrypt {
    cost: u32,
}

#[async_trait]
impl PasswordHasher for Bcrypt {
    async fn hash(&self, password: &Password) -> DomainResult<String> {
        let (password, cost) = (password.as_str().to_owned(), self.cost);
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(DomainError::unexpected)?
            .map_err(DomainError::unexpected)
    }

    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool> {
        let password = password.to_owned();
        let hash = hash.map(str::to_owned);
        let cost = self.cost;
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => bcrypt::verify(password, &h).unwrap_or(false),
            // No account: spend one hash all the same, so timing tells nothing.
            None => bcrypt::hash(password, cost).map(|_| false).unwrap_or(false),
        })
        .await
        .map_err(DomainError::unexpected)
    }

    fn needs_rehash(&self, hash: &str) -> bool {
        hash.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()) != Some(self.cost)
    }
}

/// What the program did, for whoever runs it (and for the test that runs it).
#[derive(Debug)]
pub struct Outcome {
    /// The namespace's service key (shown once; stored only as a hash).
    pub api_key: String,
    /// The signed-in user's id.
    pub user_id: uuid::Uuid,
    /// The key id in the access token's header: the key of the published key set that signed it.
    pub kid: String,
    /// The balance after the recharge and the consume.
    pub balance: Credits,
    /// Whether a second consume larger than the balance was refused as `InsufficientCredits`.
    pub overdraft_refused: bool,
}

/// Builds the services on the SQLite database at `url` and walks through a user's first minutes.
pub async fn run(url: &str) -> Result<Outcome, Box<dyn Error>> {
    // The database: opened (created on first use) and migrated.
    let db = Database::connect(url, 4)?;
    db.run_migrations()?;

    // The adapters the services need, each behind its port.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdGenerator> = Arc::new(SystemIds);
    let namespaces = Arc::new(DieselNamespaces::new(db.clone()));
    let users = Arc::new(DieselUsers::new(db.clone()));
    let refresh_tokens = Arc::new(DieselRefreshTokens::new(db.clone()));
    let hasher = Arc::new(Bcrypt { cost: 10 });

    // Access tokens signed with an Ed25519 key kept in the database, its private half sealed under
    // a secret of this program (read it from your configuration in real code).
    let signing_keys = SigningKeyService::stored(
        SigningAlgorithm::EdDsa,
        "embedded-example",
        Arc::new(DieselSigningKeys::new(db.clone())),
        Arc::new(InlineKeyGenerator),
        KeySealer::new(b"a key secret of at least 16 bytes"),
        clock.clone(),
        900,
    )?;
    signing_keys.start().await?;

    let namespace_service =
        NamespaceService::new(namespaces.clone(), clock.clone(), ids.clone(), false);
    let auth = AuthService::new(
        namespaces,
        users.clone(),
        refresh_tokens,
        hasher,
        clock.clone(),
        ids.clone(),
        signing_keys.access_tokens(900),
        AuthPolicy {
            refresh_ttl_secs: 30 * 24 * 3600,
            refresh_reuse_leeway_secs: 30,
            operator_key: None,
        },
    );
    let credits = CreditService::new(
        users,
        Arc::new(DieselCreditLedger::new(db.clone())),
        Arc::new(DieselUsage::new(db.clone())),
        clock,
        ids,
    );

    // A namespace, created as the platform operator.
    let (namespace, api_key) = namespace_service
        .create(
            Some(&Principal::Operator),
            NewNamespace {
                slug: NamespaceSlug::parse("shop")?,
                name: Some("The shop".into()),
                description: None,
            },
        )
        .await?;
    println!("created namespace {}", namespace.slug);

    // A user registers, then logs in with the same password.
    let (user, _first_pair) = auth
        .register(Registration {
            namespace: NamespaceSlug::parse("shop")?,
            username: Username::parse("alice")?,
            password: Password::parse("correct horse battery")?,
            profile: ProfileChanges::default(),
        })
        .await?;
    println!(
        "registered {}/{} as {}",
        user.namespace, user.username, user.id
    );
    let (_, pair) = auth
        .login(
            "shop",
            LoginName::username("alice"),
            "correct horse battery",
            "127.0.0.1",
        )
        .await?;

    // The access token is checked the way every request is: signature, issuer, expiry, and that
    // it is not stale. A downstream service would check it with the published key set instead.
    let caller = auth
        .authenticate(&Credentials {
            bearer: Some(pair.access_token.clone()),
            ..Credentials::default()
        })
        .await?
        .ok_or("no principal")?;
    let Principal::User(me) = &caller else {
        return Err("the token named no user".into());
    };
    let kid = signing_keys.active_kid().ok_or("no active key")?;
    println!(
        "the access token is {}'s, signed by key {kid} (one of {} published)",
        me.username,
        signing_keys.jwks().keys.len()
    );

    // Credits: the service key recharges, the user consumes their own.
    let service = Principal::Service {
        namespace: "shop".into(),
    };
    credits
        .recharge(
            &service,
            me.id,
            RechargeCredits {
                amount: Credits::parse_amount("10")?,
                description: Some("welcome credits".into()),
                reference_id: Some("welcome-alice".into()),
            },
        )
        .await?;
    let spent = credits
        .consume(
            &caller,
            me.id,
            ConsumeCredits {
                amount: Credits::parse_amount("0.3")?,
                description: Some("one request".into()),
                usage_record_id: None,
            },
        )
        .await?;
    println!("consumed {}: {:?}", spent.amount, spent.description);
    let overdraft = credits
        .consume(
            &caller,
            me.id,
            ConsumeCredits {
                amount: Credits::parse_amount("100")?,
                description: None,
                usage_record_id: None,
            },
        )
        .await;
    let overdraft_refused = matches!(overdraft, Err(DomainError::InsufficientCredits));
    let balance = credits.balance(&caller, me.id).await?;
    println!("balance {balance}");

    Ok(Outcome {
        api_key,
        user_id: me.id,
        kid,
        balance,
        overdraft_refused,
    })
}

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn Error>> {
    // A database in a temporary folder unless one is named, so each run starts afresh.
    let dir = tempfile::tempdir()?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("embedded.db").display()));
    let outcome = run(&url).await?;
    println!(
        "done: user {} has {} credits left (an overdraft was refused: {}); the namespace's service \
         key is {}, tokens are signed by key {}",
        outcome.user_id, outcome.balance, outcome.overdraft_refused, outcome.api_key, outcome.kid
    );
    Ok(())
}

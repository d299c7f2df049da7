//! Who is calling, once their credentials have been checked.

use super::User;

// One per request and moved, never stored in bulk: boxing the user would only add an allocation.
/// Who is calling (API.md 1.2).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The platform operator (`X-Admin-Key`): manages namespaces.
    Operator,
    /// A namespace's service key (`X-API-Key`): every operation on users of that namespace.
    Service {
        /// The namespace whose key it is.
        namespace: String,
    },
    /// A user with a valid access token, as currently stored.
    User(User),
}

impl Principal {
    /// The caller's namespace; `None` for the operator.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Principal::Operator => None,
            Principal::Service { namespace } => Some(namespace),
            Principal::User(u) => Some(&u.namespace),
        }
    }

    /// A service key of `namespace` or an admin user of it: may manage every user there.
    pub fn manages(&self, namespace: &str) -> bool {
        match self {
            Principal::Operator => false,
            Principal::Service { namespace: ns } => ns == namespace,
            Principal::User(u) => u.namespace == namespace && u.is_admin(),
        }
    }
}

/// The credentials a request carried, as raw strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The token of `Authorization: Bearer`.
    pub bearer: Option<String>,
    /// `X-API-Key`: a namespace's service key.
    pub api_key: Option<String>,
    /// `X-Admin-Key`: the operator key.
    pub operator_key: Option<String>,
    /// `X-Tenant-ID`: when present it must name the principal's namespace.
    pub tenant: Option<String>,
}

/// Headers (HTTP) or metadata keys (gRPC) that name the caller: each may appear at most once
/// (API.md 1.3), else the first and the second could be read by different parts of the service.
pub const CREDENTIAL_FIELDS: [&str; 4] =
    ["authorization", "x-api-key", "x-admin-key", "x-tenant-id"];

impl Credentials {
    /// The one parser of a caller's credentials, whichever protocol carried them. `values(name)`
    /// gives every value of the lowercase field `name`, `None` for one that is not text. A
    /// malformed `authorization` (not `Bearer ...`) is kept as an empty bearer, so that it is
    /// refused as an invalid token, not a missing one.
    pub fn parse<'a>(
        values: impl Fn(&str) -> Vec<Option<&'a str>>,
    ) -> Result<Self, crate::DomainError> {
        // Each field is looked up once: the check for duplicates and the reading share the list
        // (an HTTP header's text is validated byte by byte on every lookup, and a token is long).
        let fields = CREDENTIAL_FIELDS.map(|name| (name, values(name)));
        for (name, found) in &fields {
            if found.len() > 1 {
                return Err(crate::DomainError::BadRequest(format!(
                    "the {name} header may be sent only once"
                )));
            }
        }
        let one = |name: &str| {
            fields
                .iter()
                .find(|(field, _)| *field == name)
                .and_then(|(_, found)| found.first().copied().flatten())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let bearer = one("authorization").map(|v| match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                token.trim().to_owned()
            }
            _ => String::new(),
        });
        let one = |name: &str| one(name).map(str::to_owned);
        Ok(Self {
            bearer,
            api_key: one("x-api-key"),
            operator_key: one("x-admin-key"),
            tenant: one("x-tenant-id"),
        })
    }
}

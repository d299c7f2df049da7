//! Who is calling, once their credentials have been checked.

use super::User;

// One per request and moved, never stored in bulk: boxing the user would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The platform operator (`X-Admin-Key`): manages namespaces.
    Operator,
    /// A namespace's service key (`X-API-Key`): every operation on users of that namespace.
    Service { namespace: String },
    /// A user with a valid access token, as currently stored.
    User(User),
}

impl Principal {
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
    pub bearer: Option<String>,
    pub api_key: Option<String>,
    pub operator_key: Option<String>,
    /// `X-Tenant-ID`: when present it must name the principal's namespace.
    pub tenant: Option<String>,
}

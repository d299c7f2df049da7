//! Domain values to messages. An absent value is the empty string (proto3 has no null).

use chrono::{DateTime, SecondsFormat, Utc};
use user_service_domain::model::{Paged, User};

use crate::pb;

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn user(u: User) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        email: u.email.unwrap_or_default(),
        tenant_id: u.namespace,
        first_name: u.first_name.unwrap_or_default(),
        last_name: u.last_name.unwrap_or_default(),
        phone: u.phone.unwrap_or_default(),
        avatar_url: u.avatar_url.unwrap_or_default(),
        is_active: u.is_active,
        created_at: timestamp(u.created_at),
        updated_at: timestamp(u.updated_at),
        username: u.username,
        full_name: u.full_name.unwrap_or_default(),
        roles: u.roles,
    }
}

/// A page of users as the list messages carry it: users, total, page, page size.
pub fn page(p: Paged<User>) -> (Vec<pb::User>, i32, i32, i32) {
    let int = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
    let (total, page, size) = (int(p.total), int(p.request.page()), int(p.request.limit));
    (p.items.into_iter().map(user).collect(), total, page, size)
}

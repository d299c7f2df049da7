//! Names are unique and found by their Unicode keys; rows from before the keys are keyed at migration,
//! oldest first, and collisions are reported, not merged.

use diesel::connection::SimpleConnection;
use user_service_db::{Database, DieselUsers, NameField};
use user_service_domain::DomainError;
use user_service_domain::ports::{LoginName, UserRepository};

use crate::support::{create_namespace, user};

/// Look-alike pairs: the second of each may not be registered beside the first.
const PAIRS: &[(&str, &str)] = &[
    ("ΣΟΦΟΣ", "σοφοσ"),
    ("Straße", "STRASSE"),
    ("ſam", "SAM"),
    ("ﬀoo", "ffoo"),
    ("ıstanbul2", "istanbul2"),
    ("istanbul3", "İSTANBUL3"),
    ("ｂｏｂ", "bob"),
];

async fn look_alike_usernames_and_emails_are_one_name(db: Database) {
    create_namespace(&db, "shop").await;
    let users = DieselUsers::new(db.clone());
    for (first, second) in PAIRS {
        let a = user("shop", first, None);
        users.insert(&a).await.expect("first spelling");
        let b = user("shop", second, None);
        assert!(
            matches!(
                users.insert(&b).await,
                Err(DomainError::UsernameTaken { .. })
            ),
            "{second} beside {first}"
        );
        for spelling in [first, second] {
            let found = users
                .find_live("shop", &LoginName::username(spelling))
                .await
                .expect("lookup");
            assert_eq!(found.map(|u| u.id), Some(a.id), "{spelling}");
        }
    }
    let a = user("shop", "email-a", Some("straße@ex.com"));
    users.insert(&a).await.expect("first email");
    let b = user("shop", "email-b", Some("STRASSE@ex.com"));
    assert!(matches!(
        users.insert(&b).await,
        Err(DomainError::EmailTaken { .. })
    ));
    let found = users
        .find_live("shop", &LoginName::email("Strasse@EX.com"))
        .await
        .expect("lookup");
    assert_eq!(found.map(|u| u.id), Some(a.id));
}

async fn unkeyed_rows_are_keyed_oldest_first_and_collisions_reported(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "other").await;
    let users = DieselUsers::new(db.clone());
    // As written before the keys existed: no key, so nothing stops the look-alikes.
    let forget_keys = |db: Database| async move {
        db.run(|conn| {
            conn.batch_execute("UPDATE users SET username_fold = NULL, email_fold = NULL")
                .map_err(DomainError::unexpected)
        })
        .await
        .expect("clear keys");
    };
    let mut older = user("shop", "Straße", Some("a@ex.com"));
    older.created_at -= chrono::Duration::days(1);
    users.insert(&older).await.expect("older");
    forget_keys(db.clone()).await;
    let newer = user("shop", "STRASSE", Some("A@EX.COM"));
    users.insert(&newer).await.expect("newer");
    let elsewhere = user("other", "strasse", Some("a@ex.com"));
    users.insert(&elsewhere).await.expect("other namespace");
    forget_keys(db.clone()).await;

    let report = db.run_migrations().expect("migrate");
    assert_eq!(report.keyed, 4, "{report:?}");
    let mut found: Vec<_> = report
        .collisions
        .iter()
        .map(|c| {
            (
                c.namespace.as_str(),
                c.field,
                c.user_id.clone(),
                c.holder_id.clone(),
            )
        })
        .collect();
    found.sort_by_key(|c| c.1.as_str());
    let (newer_id, older_id) = (newer.id.to_string(), older.id.to_string());
    assert_eq!(
        found,
        [
            ("shop", NameField::Email, newer_id.clone(), older_id.clone()),
            ("shop", NameField::Username, newer_id, older_id),
        ]
    );
    // The older account has the name; the newer one is still there, unmerged.
    let by_name = users
        .find_live("shop", &LoginName::username("strasse"))
        .await
        .expect("lookup");
    assert_eq!(by_name.map(|u| u.id), Some(older.id));
    assert!(users.get("shop", newer.id).await.expect("get").is_some());
    // Reported again at the next start, until an operator resolves it.
    let again = db.run_migrations().expect("migrate again");
    assert_eq!((again.keyed, again.collisions.len()), (0, 2));
    // Once the newer account is deleted, its keys are filled and nothing is left to report.
    users
        .soft_delete("shop", newer.id, crate::support::now())
        .await
        .expect("delete");
    let resolved = db.run_migrations().expect("migrate after delete");
    assert_eq!((resolved.keyed, resolved.collisions.len()), (2, 0));
}

contract!(
    look_alike_usernames_and_emails_are_one_name,
    unkeyed_rows_are_keyed_oldest_first_and_collisions_reported,
);

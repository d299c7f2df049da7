-- Identities of trusted external issuers (API.md 7, seed 003) linked to users: the `sub` of an
-- identity provider's token names one user, whatever its username. Kept apart from `users` so an
-- identity can later be linked to an existing account, and one account hold several identities.
-- `namespace` is the user's (which never changes), so a path naming a subject is resolved within
-- the caller's namespace by one index lookup.
CREATE TABLE identity_links (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    namespace  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX identity_links_namespace_subject_idx ON identity_links (namespace, subject);
CREATE INDEX identity_links_user_idx ON identity_links (user_id);

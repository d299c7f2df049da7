//! The tables of both migration folders, written by hand: the two dialects share one schema, so
//! `diesel print-schema` against either database would not be the source of truth.

diesel::table! {
    namespaces (slug) {
        slug -> Text,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        api_key_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        namespace -> Text,
        username -> Text,
        username_key -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        full_name -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        phone -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        avatar_key -> Nullable<Text>,
        extra -> Text,
        roles -> Text,
        is_active -> Bool,
        token_version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        /// The domain's normalised search document (`model::search::document`).
        search_text -> Text,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        user_id -> Text,
        namespace -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> namespaces (namespace));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(namespaces, users, refresh_tokens);

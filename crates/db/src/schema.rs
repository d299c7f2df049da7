//! The tables of both migration folders, written by hand: the two dialects share one schema, so
//! `diesel print-schema` against either database would not be the source of truth.

diesel::table! {
    namespaces (slug) {
        slug -> Text,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        api_key_hash -> Text,
        created_at -> Timestamp,
        password_reset_url -> Nullable<Text>,
        email_verify_url -> Nullable<Text>,
        mail_from -> Nullable<Text>,
        require_verified_email -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        namespace -> Text,
        username -> Text,
        email -> Nullable<Text>,
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
        /// `text::name_key` of the username and the email; empty only for rows written before the
        /// keys existed, until the service fills them (`name_keys`).
        username_fold -> Nullable<Text>,
        email_fold -> Nullable<Text>,
        email_verified -> Bool,
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
        /// The user's token version when the token was issued.
        token_version -> BigInt,
    }
}

diesel::table! {
    credit_balances (user_id) {
        user_id -> Text,
        namespace -> Text,
        balance -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    credit_transactions (id) {
        id -> BigInt,
        transaction_id -> Text,
        user_id -> Text,
        namespace -> Text,
        transaction_type -> Text,
        amount -> BigInt,
        balance_before -> BigInt,
        balance_after -> BigInt,
        description -> Nullable<Text>,
        reference_id -> Nullable<Text>,
        usage_record_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    usage_records (id) {
        id -> BigInt,
        user_id -> Text,
        namespace -> Text,
        session_id -> Nullable<Text>,
        endpoint -> Nullable<Text>,
        event_type -> Text,
        credits_charged -> BigInt,
        cost_usd -> BigInt,
        tokens_used -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        model_name -> Nullable<Text>,
        provider -> Nullable<Text>,
        tool_name -> Nullable<Text>,
        operation_name -> Nullable<Text>,
        metadata -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    usage_hourly (user_id, hour, event_type, model_name) {
        user_id -> Text,
        hour -> Timestamp,
        event_type -> Text,
        model_name -> Text,
        records -> BigInt,
        credits_charged -> BigInt,
        cost_usd -> BigInt,
        tokens_used -> BigInt,
    }
}

diesel::table! {
    conversation_sessions (id) {
        id -> BigInt,
        session_id -> Text,
        user_id -> Text,
        namespace -> Text,
        title -> Nullable<Text>,
        metadata -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    session_messages (id) {
        id -> BigInt,
        session_id -> Text,
        role -> Text,
        content -> Text,
        message_type -> Nullable<Text>,
        tokens_used -> BigInt,
        cost_usd -> BigInt,
        metadata -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (namespace, idempotency_key) {
        namespace -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_type -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Users per namespace, spread over shards; kept by triggers (migration `user_counts`).
    namespace_user_counts (namespace, shard) {
        namespace -> Text,
        shard -> Text,
        live -> BigInt,
        total -> BigInt,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        user_id -> Text,
        namespace -> Text,
        email -> Text,
        /// `text::name_key` of `email`: the hourly quota counts by it.
        email_fold -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        namespace -> Text,
        from_name -> Nullable<Text>,
        from_address -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claim_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Keys that sign access tokens; at most one has no `retired_at` (the active one).
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_jwk -> Text,
        sealed_private_key -> Binary,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// An external issuer's subject linked to a user (`namespace` is the user's).
    identity_links (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        namespace -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> namespaces (namespace));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    namespaces,
    users,
    refresh_tokens,
    credit_balances,
    credit_transactions,
    usage_records,
    usage_hourly,
    conversation_sessions,
    session_messages,
    idempotency_keys,
    namespace_user_counts,
    email_tokens,
    outbox,
    signing_keys,
    identity_links,
);

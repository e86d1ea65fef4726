//! Table definitions for diesel, written by hand to match both migration
//! folders (`migrations/sqlite`, `migrations/postgres`); the types used are
//! the ones both backends share.

diesel::table! {
    markets (id) {
        id -> Text,
        name -> Text,
        office_phone -> Text,
        address -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    stalls (id) {
        id -> Text,
        market_id -> Text,
        number -> Text,
        zone -> Text,
        trade -> Text,
        holder_name -> Text,
        holder_mobile -> Nullable<Text>,
        uscc -> Nullable<Text>,
        rent_cents -> BigInt,
        status -> Text,
        code_version -> Integer,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    banks (id) {
        id -> Text,
        name -> Text,
        short_name -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        bank_id -> Text,
        name -> Text,
        min_amount_cents -> BigInt,
        max_amount_cents -> BigInt,
        min_rate_bp -> Integer,
        max_rate_bp -> Integer,
        term_months -> Integer,
        grades -> Text,
        active -> Bool,
        created_at -> Text,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        role -> Text,
        market_id -> Nullable<Text>,
        bank_id -> Nullable<Text>,
        password_hash -> Text,
        active -> Bool,
        created_at -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Text,
        actor -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        market_id -> Nullable<Text>,
        detail -> Text,
        request_id -> Nullable<Text>,
    }
}

// Merchant login and profile (migration 000003). Queried without joins, so
// they need no entry in `allow_tables_to_appear_in_same_query!`.
diesel::table! {
    merchants (id) {
        id -> Text,
        mobile -> Text,
        name -> Nullable<Text>,
        resident_id_enc -> Nullable<Text>,
        resident_id_masked -> Nullable<Text>,
        birth_date -> Nullable<Text>,
        uscc -> Nullable<Text>,
        trade -> Nullable<Text>,
        years_in_business -> Nullable<Integer>,
        stall_id -> Nullable<Text>,
        market_id -> Nullable<Text>,
        profile_completed_at -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        merchant_id -> Text,
        created_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    otp_challenges (id) {
        id -> Text,
        mobile -> Text,
        code_hash -> Text,
        created_at -> Text,
        expires_at -> Text,
        attempts -> Integer,
        consumed_at -> Nullable<Text>,
        stall_id -> Nullable<Text>,
        market_id -> Nullable<Text>,
    }
}

diesel::table! {
    otp_send_limits (mobile) {
        mobile -> Text,
        last_sent_at -> Text,
        window_start -> Text,
        window_count -> Integer,
    }
}

diesel::table! {
    idempotency_keys (scope, idem_key) {
        scope -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        secret_enc -> Nullable<Text>,
        created_at -> Text,
    }
}

// Staff login (migration 000005).
diesel::table! {
    staff_sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        created_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    staff_login_limits (user_id) {
        user_id -> Text,
        window_start -> Text,
        failures -> Integer,
    }
}

// Applications and the candidate pool (migration 000004).
diesel::table! {
    applications (id) {
        id -> Text,
        merchant_id -> Text,
        decision_id -> Text,
        consent_id -> Text,
        status -> Text,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    pool_entries (id) {
        id -> Text,
        application_id -> Text,
        bank_id -> Text,
        status -> Text,
        claimed_by -> Nullable<Text>,
        contacted_at -> Nullable<Text>,
        outcome -> Nullable<Text>,
        outcome_reason -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::joinable!(stalls -> markets (market_id));
diesel::joinable!(products -> banks (bank_id));

diesel::allow_tables_to_appear_in_same_query!(
    markets,
    stalls,
    banks,
    products,
    staff_users,
    audit_log
);

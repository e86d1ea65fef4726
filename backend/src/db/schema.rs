//! Every table, for diesel: written by hand to match `backend/migrations/`
//! (one set of SQL for both backends), in migration order, with the types
//! both backends share. The joins below follow the migrations' foreign keys.
//! `db::tests::the_schema_matches_the_migrations` checks this file against a
//! migrated database, table by table and column by column.

// Markets, stalls, banks, staff, the audit log (migration 000001).
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

// Credit data, consents, the access log, policies and decisions (migration
// 000002). Facts are keyed by USCC and `merchant_id` is plain text, so these
// tables have no foreign key into the merchant tables.
diesel::table! {
    import_batches (id) {
        id -> Text,
        label -> Text,
        actor -> Text,
        imported_at -> Text,
        summary -> Text,
    }
}

diesel::table! {
    credit_sources (source) {
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    credit_registration (id) {
        id -> Text,
        uscc -> Text,
        name -> Text,
        entity_type -> Text,
        trade -> Text,
        registered_on -> Text,
        status -> Text,
        operator_name -> Text,
        operator_birth_date -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_licences (id) {
        id -> Text,
        uscc -> Text,
        licence_no -> Text,
        kind -> Text,
        issued_on -> Text,
        expires_on -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_penalties (id) {
        id -> Text,
        uscc -> Text,
        decision_no -> Text,
        decided_on -> Text,
        severity -> Text,
        amount_cents -> BigInt,
        repaired_on -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_dishonesty (id) {
        id -> Text,
        uscc -> Text,
        case_no -> Text,
        listed_on -> Text,
        removed_on -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_enforcement (id) {
        id -> Text,
        uscc -> Text,
        case_no -> Text,
        listed_on -> Text,
        removed_on -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_tax_grades (id) {
        id -> Text,
        uscc -> Text,
        year -> Integer,
        grade -> Text,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_social_insurance (id) {
        id -> Text,
        uscc -> Text,
        months_paid_24 -> Integer,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_utilities (id) {
        id -> Text,
        uscc -> Text,
        utility -> Text,
        months_on_time_12 -> Integer,
        months_late_12 -> Integer,
        arrears_cents -> BigInt,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_rent (id) {
        id -> Text,
        uscc -> Text,
        market -> Text,
        stall_no -> Text,
        month -> Text,
        due_cents -> BigInt,
        paid_cents -> BigInt,
        paid_on -> Nullable<Text>,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    credit_household_ratings (id) {
        id -> Text,
        uscc -> Text,
        level -> Text,
        rated_on -> Text,
        source -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        merchant_id -> Text,
        letter_version -> Text,
        text_sha256 -> Text,
        categories -> Text,
        bank_ids -> Text,
        purpose -> Text,
        granted_at -> Text,
        expires_at -> Text,
        withdrawn_at -> Nullable<Text>,
        channel -> Text,
        client_ip -> Text,
        user_agent -> Text,
        subject_uscc -> Nullable<Text>,
        person_index -> Nullable<Text>,
    }
}

diesel::table! {
    access_log (id) {
        id -> Text,
        at -> Text,
        actor -> Text,
        merchant_id -> Text,
        subject_uscc -> Text,
        source -> Text,
        purpose -> Text,
        consent_id -> Nullable<Text>,
        result -> Text,
        detail -> Text,
    }
}

diesel::table! {
    policies (version) {
        version -> Text,
        sha256 -> Text,
        body -> Text,
        first_used_at -> Text,
    }
}

diesel::table! {
    decisions (id) {
        id -> Text,
        merchant_id -> Text,
        subject_uscc -> Text,
        consent_id -> Nullable<Text>,
        policy_version -> Text,
        facts_sha256 -> Text,
        facts_json -> Text,
        as_of -> Text,
        decided_on -> Text,
        outcome -> Text,
        score -> Integer,
        grade -> Text,
        terms -> Nullable<Text>,
        reasons -> Text,
        trace -> Text,
        created_at -> Text,
    }
}

// Merchant login and profile (migration 000003).
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
        resident_id_index -> Nullable<Text>,
        identity_verified_at -> Nullable<Text>,
        business_verified_at -> Nullable<Text>,
        identity_checks_day -> Nullable<Text>,
        identity_checks -> Integer,
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

// Registry operators, verified persons, consent subjects (migration 000010).
diesel::table! {
    registry_operators (id) {
        id -> Text,
        uscc -> Text,
        name -> Text,
        resident_id_enc -> Text,
        resident_id_index -> Text,
        as_of -> Text,
        import_batch_id -> Text,
    }
}

// The market's rent ledger per stall, and stall confirmations (migration 000011).
diesel::table! {
    market_rent_ledger (id) {
        id -> Text,
        market_id -> Text,
        stall_id -> Text,
        month -> Text,
        due_cents -> BigInt,
        paid_cents -> BigInt,
        paid_on -> Nullable<Text>,
        as_of -> Text,
        uploaded_by -> Text,
        uploaded_at -> Text,
        import_batch_id -> Text,
    }
}

diesel::table! {
    stall_confirmations (id) {
        id -> Text,
        stall_id -> Text,
        merchant_id -> Text,
        uscc -> Text,
        person_index -> Text,
        confirmed_at -> Text,
        withdrawn_at -> Nullable<Text>,
    }
}

// Abuse limits: counters, refusals counted per address and hour, the staff
// login throttle, revoked stall-code keys (migration 000040).
diesel::table! {
    rate_counters (bucket) {
        bucket -> Text,
        window_start -> Text,
        count -> Integer,
    }
}

diesel::table! {
    refusal_counts (hour, client_ip, action, reason, object_id) {
        hour -> Text,
        client_ip -> Text,
        action -> Text,
        reason -> Text,
        object_id -> Text,
        market_id -> Nullable<Text>,
        count -> BigInt,
        first_at -> Text,
        last_at -> Text,
        last_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttle (username, client_ip) {
        username -> Text,
        client_ip -> Text,
        failures -> Integer,
        next_try_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    revoked_keys (key_id) {
        key_id -> Text,
        kind -> Text,
        revoked_at -> Text,
        actor -> Text,
    }
}

diesel::joinable!(stalls -> markets (market_id));
diesel::joinable!(products -> banks (bank_id));
diesel::joinable!(staff_users -> markets (market_id));
diesel::joinable!(staff_users -> banks (bank_id));
diesel::joinable!(credit_sources -> import_batches (import_batch_id));
diesel::joinable!(credit_registration -> import_batches (import_batch_id));
diesel::joinable!(credit_licences -> import_batches (import_batch_id));
diesel::joinable!(credit_penalties -> import_batches (import_batch_id));
diesel::joinable!(credit_dishonesty -> import_batches (import_batch_id));
diesel::joinable!(credit_enforcement -> import_batches (import_batch_id));
diesel::joinable!(credit_tax_grades -> import_batches (import_batch_id));
diesel::joinable!(credit_social_insurance -> import_batches (import_batch_id));
diesel::joinable!(credit_utilities -> import_batches (import_batch_id));
diesel::joinable!(credit_rent -> import_batches (import_batch_id));
diesel::joinable!(credit_household_ratings -> import_batches (import_batch_id));
diesel::joinable!(decisions -> policies (policy_version));
diesel::joinable!(merchants -> stalls (stall_id));
diesel::joinable!(merchants -> markets (market_id));
diesel::joinable!(sessions -> merchants (merchant_id));
diesel::joinable!(otp_challenges -> stalls (stall_id));
diesel::joinable!(otp_challenges -> markets (market_id));
diesel::joinable!(applications -> merchants (merchant_id));
diesel::joinable!(applications -> decisions (decision_id));
diesel::joinable!(applications -> consents (consent_id));
diesel::joinable!(pool_entries -> applications (application_id));
diesel::joinable!(pool_entries -> banks (bank_id));
diesel::joinable!(staff_sessions -> staff_users (user_id));
diesel::joinable!(staff_login_limits -> staff_users (user_id));
diesel::joinable!(registry_operators -> import_batches (import_batch_id));
diesel::joinable!(market_rent_ledger -> markets (market_id));
diesel::joinable!(market_rent_ledger -> stalls (stall_id));
diesel::joinable!(market_rent_ledger -> import_batches (import_batch_id));
diesel::joinable!(stall_confirmations -> stalls (stall_id));
diesel::joinable!(stall_confirmations -> merchants (merchant_id));

/// Lists every table once: diesel may put any two of them in one query, and
/// the tests learn which columns each declares.
macro_rules! every_table {
    ($($table:ident),* $(,)?) => {
        diesel::allow_tables_to_appear_in_same_query!($($table),*);

        /// Each table's name and the column names this module declares for it.
        #[cfg(test)]
        pub fn declared_columns() -> Vec<(&'static str, Vec<String>)> {
            use diesel::QueryDsl;
            vec![$((
                stringify!($table),
                columns_of(&diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                    &$table::table.select($table::all_columns),
                ).to_string()),
            )),*]
        }
    };
}

/// `SELECT `t`.`a`, `t`.`b` FROM …` → `["a", "b"]`.
#[cfg(test)]
fn columns_of(select: &str) -> Vec<String> {
    let list = select
        .trim_start_matches("SELECT ")
        .split(" FROM ")
        .next()
        .unwrap_or("");
    list.split(", ")
        .map(|c| {
            c.rsplit('.')
                .next()
                .unwrap_or(c)
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

every_table!(
    markets,
    stalls,
    banks,
    products,
    staff_users,
    audit_log,
    import_batches,
    credit_sources,
    credit_registration,
    credit_licences,
    credit_penalties,
    credit_dishonesty,
    credit_enforcement,
    credit_tax_grades,
    credit_social_insurance,
    credit_utilities,
    credit_rent,
    credit_household_ratings,
    consents,
    access_log,
    policies,
    decisions,
    merchants,
    sessions,
    otp_challenges,
    otp_send_limits,
    idempotency_keys,
    applications,
    pool_entries,
    staff_sessions,
    staff_login_limits,
    registry_operators,
    market_rent_ledger,
    stall_confirmations,
    rate_counters,
    refusal_counts,
    login_throttle,
    revoked_keys,
);

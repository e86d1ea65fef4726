//! Diesel tables of migration `2026-11-26-000002_credit` (both backends).

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

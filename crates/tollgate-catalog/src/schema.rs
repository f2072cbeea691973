//! The catalog's tables, in SQL that SQLite and PostgreSQL both run, applied in order once.

/// Each migration: a version and its statements. Append; never edit one that has shipped.
pub(crate) const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            plan TEXT,
            company TEXT,
            time_zone TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE api_keys (
            key_sha256 TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created_at BIGINT NOT NULL
        )",
            "CREATE INDEX api_keys_by_account ON api_keys (account_id)",
            // No reference to accounts: accounts of the policy file buy packs too.
            "CREATE TABLE pack_purchases (
            account_id TEXT NOT NULL,
            bought_at BIGINT NOT NULL,
            pack TEXT NOT NULL,
            bought_by TEXT NOT NULL,
            starts_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            superseded_at BIGINT,
            superseded_by TEXT,
            PRIMARY KEY (account_id, bought_at)
        )",
        ],
    ),
    (
        2,
        // No reference to accounts: accounts of the policy file have overrides here too.
        &["CREATE TABLE overrides (
        account_id TEXT NOT NULL,
        limit_name TEXT NOT NULL,
        max BIGINT,
        rate TEXT,
        burst BIGINT,
        PRIMARY KEY (account_id, limit_name)
    )"],
    ),
    (
        3,
        &["CREATE TABLE blocks (
        id TEXT PRIMARY KEY,
        account_id TEXT,
        api TEXT,
        path TEXT,
        until BIGINT NOT NULL,
        reason TEXT NOT NULL,
        set_by TEXT NOT NULL
    )"],
    ),
    (
        4,
        &["CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        owner_account TEXT,
        secret_sha256 TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )"],
    ),
    (
        5,
        &["CREATE TABLE usage_days (
        account_id TEXT NOT NULL,
        api TEXT NOT NULL,
        day BIGINT NOT NULL,
        admitted BIGINT NOT NULL,
        refused BIGINT NOT NULL,
        PRIMARY KEY (account_id, api, day)
    )"],
    ),
    (
        6,
        &[
            "CREATE TABLE catalog_changes (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)",
            "INSERT INTO catalog_changes (id, version) VALUES (1, 0)",
        ],
    ),
    (
        7,
        // What each purchase cost (`99.99 EUR`, as the policy priced the pack then), and what
        // a pack replaced by another left: its unused seconds and their value.
        &[
            "ALTER TABLE pack_purchases ADD COLUMN price TEXT",
            "ALTER TABLE pack_purchases ADD COLUMN unused_seconds BIGINT",
            "ALTER TABLE pack_purchases ADD COLUMN refund TEXT",
        ],
    ),
    (
        8,
        // Quota alerts: each one written `due` before it is sent, once per account, subject,
        // threshold and period (the unique key), marked `delivered` after a 2xx or `failed`
        // after its last try; and the receiver an account set for its own alerts.
        &[
            "CREATE TABLE alert_deliveries (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            threshold TEXT NOT NULL,
            period_end BIGINT NOT NULL,
            url TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            delivered_at BIGINT,
            last_error TEXT,
            UNIQUE (account_id, subject, threshold, period_end)
        )",
            "CREATE INDEX alert_deliveries_by_state ON alert_deliveries (state)",
            "CREATE INDEX alert_deliveries_by_account ON alert_deliveries (account_id, created_at)",
            // No reference to accounts: accounts of the policy file set receivers too.
            "CREATE TABLE alert_receivers (account_id TEXT PRIMARY KEY, url TEXT NOT NULL)",
        ],
    ),
];

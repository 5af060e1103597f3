"""The portal's tables (SQLite, WAL). The rate-budget tables (the last four) are read and
written by `throttles.py`.

A row type in `rows.py` mirrors each table's columns, in order; change both together.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partners (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    seed_password TEXT,
    notification_email TEXT NOT NULL,
    team TEXT,
    locked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS challenges (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    partner_id INTEGER NOT NULL REFERENCES partners(id),
    program TEXT NOT NULL,
    created_st REAL NOT NULL,
    expires_st REAL NOT NULL,
    wrong_attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    next_path TEXT
);
CREATE TABLE IF NOT EXISTS codes (
    id INTEGER PRIMARY KEY,
    challenge_id INTEGER NOT NULL REFERENCES challenges(id),
    partner_id INTEGER NOT NULL,
    code_hmac TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    issued_st REAL NOT NULL,
    expires_st REAL NOT NULL,
    used_st REAL,
    voided TEXT
);
CREATE INDEX IF NOT EXISTS codes_challenge ON codes(challenge_id);
CREATE INDEX IF NOT EXISTS codes_partner ON codes(partner_id, issued_st);
CREATE TABLE IF NOT EXISTS sessions (
    sid_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    partner_id INTEGER NOT NULL,
    program TEXT NOT NULL,
    challenge_id INTEGER,
    mfa INTEGER NOT NULL,
    created_st REAL NOT NULL,
    expires_st REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reset_tokens (
    token_hash TEXT PRIMARY KEY,
    partner_id INTEGER NOT NULL,
    expires_st REAL NOT NULL,
    used_st REAL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    code_id INTEGER,
    raw BLOB,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_wall REAL NOT NULL,
    deadline_st REAL NOT NULL,
    claimed_by INTEGER,
    claim_until_wall REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_wall);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wall REAL NOT NULL,
    st REAL NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wrong_codes (
    id INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL,
    challenge_id INTEGER NOT NULL,
    st REAL NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS wrong_codes_partner ON wrong_codes(partner_id, st);
CREATE TABLE IF NOT EXISTS password_failures (
    partner_id INTEGER NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_st REAL NOT NULL,
    PRIMARY KEY (partner_id, client)
);
CREATE TABLE IF NOT EXISTS trusted_devices (
    partner_id INTEGER NOT NULL,
    device_hash TEXT NOT NULL,
    st REAL NOT NULL,
    PRIMARY KEY (partner_id, device_hash)
);
CREATE TABLE IF NOT EXISTS reset_requests (
    id INTEGER PRIMARY KEY,
    st REAL NOT NULL,
    client TEXT NOT NULL,
    partner_id INTEGER,
    token_hash TEXT,
    refused INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS reset_requests_client ON reset_requests(client, st);
CREATE INDEX IF NOT EXISTS reset_requests_partner ON reset_requests(partner_id, st);
"""

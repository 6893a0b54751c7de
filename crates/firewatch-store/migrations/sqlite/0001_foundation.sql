-- Foundation schema: users, tokens, cases, reports, attachments, notes, idempotency keys
-- and the hash-chained audit log. Times are unix milliseconds (INTEGER); JSON is TEXT.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT users_name_key UNIQUE (name)
);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL,
    label       TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CONSTRAINT tokens_hash_key UNIQUE (token_hash)
);

CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    number          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    severity        TEXT NOT NULL,
    hazards         TEXT NOT NULL,          -- JSON array of occurred hazard codes
    title           TEXT NOT NULL,
    assignee        TEXT,
    country         TEXT,
    channel         TEXT NOT NULL,
    product_brand   TEXT,
    product_model   TEXT,
    reporter_handle TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CONSTRAINT cases_number_key UNIQUE (number)
);
CREATE INDEX cases_queue_idx ON cases (status, severity, created_at);

CREATE TABLE reports (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(id),
    received_at     INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    narrative       TEXT NOT NULL,
    language        TEXT,
    country         TEXT,
    occurred_at     TEXT,
    injuries        TEXT NOT NULL,
    product         TEXT NOT NULL,          -- JSON
    reporter        TEXT NOT NULL,          -- JSON
    triage          TEXT NOT NULL,          -- JSON: the triage result
    severity        TEXT NOT NULL,
    idempotency_key TEXT
);
CREATE INDEX reports_case_idx ON reports (case_id);

CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL REFERENCES reports(id),
    sha256      TEXT NOT NULL,               -- original bytes, content-addressed
    clean_sha256 TEXT NOT NULL,              -- re-encoded copy without metadata, shown to staff
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    filename    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX attachments_report_idx ON attachments (report_id);

CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notes_case_idx ON notes (case_id);

CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    receipt      TEXT NOT NULL,              -- JSON of the first response
    created_at   INTEGER NOT NULL
);

-- The audit log. INSERT only: no code path updates or deletes these rows.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    entity    TEXT NOT NULL,
    before    TEXT,
    after     TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX events_entity_idx ON events (entity, seq);

-- The end of the chain, updated in the same transaction as each appended event, so that
-- removing events from the end of the log is detected.
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

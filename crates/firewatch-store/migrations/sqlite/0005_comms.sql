-- Statements, recall notices and regulator notifications (issue 11, DESIGN C8).
-- Times are unix milliseconds (INTEGER); JSON is TEXT. Plain SQL so the PostgreSQL store
-- can port it as is (TEXT, INTEGER, no SQLite-only features).

-- Every admin edit of a template is a new row; the newest row per (kind, lang) is in
-- force, older rows stay as history. No row = the built-in default of firewatch-comms.
CREATE TABLE comms_templates (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,                -- customer_reply|public_statement|recall_notice
    lang       TEXT NOT NULL,                -- en|fr|de|es|it|pt
    body       TEXT NOT NULL,                -- minijinja source, validated in the sandbox
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX comms_templates_kind_lang_idx ON comms_templates (kind, lang, id);

-- Installation-wide settings of the comms desk (key `profile`: the firm and its public
-- contact, JSON of firewatch_store::comms::CommsProfile).
CREATE TABLE comms_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- What a case's or signal's statements and exports say beyond the triage facts: the
-- plain hazard description, instructions, product identifiers, remedy, corrective action.
CREATE TABLE comms_facts (
    subject_type TEXT NOT NULL,              -- case|signal
    subject_id   TEXT NOT NULL,
    facts        TEXT NOT NULL,              -- JSON of firewatch_store::comms::CommsFacts
    updated_by   TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (subject_type, subject_id)
);

CREATE TABLE statements (
    id             TEXT PRIMARY KEY,
    subject_type   TEXT NOT NULL,            -- case|signal
    subject_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,            -- customer_reply|public_statement|recall_notice
    lang           TEXT NOT NULL,            -- the template language used
    requested_lang TEXT,                     -- the report's (or asked) language
    fell_back      INTEGER NOT NULL,         -- 1: no template in requested_lang, English used
    template_id    INTEGER,                  -- comms_templates row; NULL = built-in
    body           TEXT NOT NULL,
    version        INTEGER NOT NULL,         -- 1 at draft, +1 per edit; approvals are per version
    status         TEXT NOT NULL,            -- draft|rejected|published
    facts          TEXT NOT NULL,            -- JSON NoticeFacts the checker uses
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    published_by   TEXT,
    published_at   INTEGER,
    override_reason TEXT                     -- hq override of blocking checker findings
);
CREATE INDEX statements_subject_idx ON statements (subject_type, subject_id, created_at);

CREATE TABLE statement_approvals (
    id           INTEGER PRIMARY KEY,
    statement_id TEXT NOT NULL REFERENCES statements(id),
    version      INTEGER NOT NULL,
    role         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    decision     TEXT NOT NULL,              -- approved|rejected
    reason       TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX statement_approvals_statement_idx ON statement_approvals (statement_id, id);

-- A notification marked as submitted to a regulator (who, when, their reference). Its
-- transaction stops the case's regulator clocks; `clocks_stopped` lists them.
CREATE TABLE regulator_notifications (
    id             INTEGER PRIMARY KEY,
    subject_type   TEXT NOT NULL,
    subject_id     TEXT NOT NULL,
    regulator      TEXT NOT NULL,            -- e.g. cpsc|eu_sbg|health_canada|other
    reference      TEXT NOT NULL,            -- the regulator's reference
    submitted_by   TEXT NOT NULL,
    submitted_at   INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    clocks_stopped TEXT NOT NULL             -- JSON array of clock names
);
CREATE INDEX regulator_notifications_subject_idx ON regulator_notifications (subject_type, subject_id);

-- Social and news watch (issue 6): connector cursors, mentions (posts that name a catalog
-- product with a hazard, linked to a case), their engagement over time, and escalations.
-- Times are unix milliseconds except where named *_us (microseconds, as the platforms give).

CREATE TABLE connectors (
    name          TEXT PRIMARY KEY,          -- e.g. jetstream, mastodon:https://host, feed:URL
    cursor        TEXT,                      -- opaque resume point (time_us, SSE id, ETag...)
    last_event_at INTEGER,
    events        INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at INTEGER,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE mentions (
    post_id         TEXT PRIMARY KEY,        -- the platform's global id (at:// URI, status uri...)
    case_id         TEXT NOT NULL REFERENCES cases(id),
    source          TEXT NOT NULL,
    native_id       TEXT,                    -- Mastodon's instance-local status id (counter polling)
    author          TEXT NOT NULL,
    followers       INTEGER,
    text            TEXT NOT NULL,
    url             TEXT,
    lang            TEXT,
    created_at_us   INTEGER NOT NULL,
    fingerprint     TEXT NOT NULL,           -- text_fingerprint, hex (groups copies)
    product_brand   TEXT NOT NULL,
    product_model   TEXT NOT NULL,
    hazards         TEXT NOT NULL,           -- JSON [{code, modality}]
    link_reason     TEXT NOT NULL,           -- reporter_handle | similar_open_case | new_case
    engagements     INTEGER NOT NULL DEFAULT 0,
    forecast_final  REAL,                    -- predicted final reshares (NULL: none yet; 1e308: infinite)
    forecast_lower  REAL,
    forecast_upper  REAL,
    p_exceed        REAL,
    forecast_at     INTEGER,
    escalated_at    INTEGER,
    received_at     INTEGER NOT NULL
);
CREATE INDEX mentions_case_idx ON mentions (case_id);
CREATE INDEX mentions_product_idx ON mentions (product_brand, product_model);
CREATE INDEX mentions_fingerprint_idx ON mentions (fingerprint);

CREATE TABLE engagements (
    id         TEXT PRIMARY KEY,             -- the like/repost/reply/quote's own id (dedupe key)
    post_id    TEXT NOT NULL REFERENCES mentions(post_id),
    kind       TEXT NOT NULL,                -- like | repost | reply | quote | copy | counts
    actor      TEXT,
    followers  INTEGER,
    at_us      INTEGER NOT NULL,
    amount     INTEGER NOT NULL DEFAULT 1    -- counts polls: the reshares added since the last poll
);
CREATE INDEX engagements_post_idx ON engagements (post_id, at_us);

CREATE TABLE mention_escalations (
    id         INTEGER PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    post_id    TEXT NOT NULL REFERENCES mentions(post_id),
    roles      TEXT NOT NULL,                -- JSON array, e.g. ["hq","pr"]
    reason     TEXT NOT NULL,                -- JSON: the forecast that crossed the level
    created_at INTEGER NOT NULL,
    CONSTRAINT mention_escalations_post_key UNIQUE (post_id)
);
CREATE INDEX mention_escalations_case_idx ON mention_escalations (case_id);

-- Playbooks (issue 5): the stored playbook versions, each case's policy evaluation,
-- remedies and approvals, escalations, clocks and their pauses, tasks, chain of custody,
-- and the persisted job/outbox table for scheduled work and notifications.
-- Times are unix milliseconds (INTEGER); JSON is TEXT.

-- Every accepted playbook upload (or configured file); the highest version is active.
CREATE TABLE playbooks (
    version     INTEGER PRIMARY KEY,
    source_name TEXT NOT NULL,
    name        TEXT NOT NULL,
    revision    TEXT,
    text        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- The latest evaluation of the active playbook on a case: the trace (which rules matched
-- and why), the merged effects, and the case's escalation level.
CREATE TABLE case_policy (
    case_id          TEXT PRIMARY KEY REFERENCES cases(id),
    playbook_version INTEGER NOT NULL,        -- 0 = the built-in playbook
    evaluation       TEXT NOT NULL,           -- JSON of firewatch_policy::Evaluation
    matched          TEXT NOT NULL,           -- JSON array of matched rule ids
    level            TEXT NOT NULL,           -- escalation level: agent|supervisor|safety|hq
    evaluated_at     INTEGER NOT NULL
);

CREATE TABLE remedies (
    id                    TEXT PRIMARY KEY,
    case_id               TEXT NOT NULL REFERENCES cases(id),
    kind                  TEXT NOT NULL,      -- refund|replacement|repair|discount|goodwill
    customer_pays_percent INTEGER NOT NULL,
    amount                REAL,
    note                  TEXT,
    status                TEXT NOT NULL,      -- proposed|pending_approval|approved|refused|accepted|fulfilled
    decision              TEXT NOT NULL,      -- JSON of the policy's answer when proposed
    rule_id               TEXT,               -- the refusing (or approval-requiring) rule
    approvals_needed      TEXT NOT NULL,      -- JSON array of roles still to approve
    proposed_by           TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX remedies_case_idx ON remedies (case_id);

CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY,
    remedy_id  TEXT NOT NULL REFERENCES remedies(id),
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    decision   TEXT NOT NULL,                 -- approved|rejected
    exception  INTEGER NOT NULL DEFAULT 0,    -- 1 = an exception to rule_id
    rule_id    TEXT,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX approvals_remedy_idx ON approvals (remedy_id);

CREATE TABLE escalations (
    id         INTEGER PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    from_level TEXT NOT NULL,
    level      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    cause      TEXT NOT NULL,                 -- manual | clock:<name> | rule:<id> | mention:<id>
    actor      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX escalations_case_idx ON escalations (case_id);

-- One row per (case, clock name). `deadline` is NULL while a pausable clock is paused.
-- The scheduler claims due rows with a conditional UPDATE (SQLite) or
-- SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL), so a breach fires exactly once.
CREATE TABLE clocks (
    id          INTEGER PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,                -- courtesy|internal|regulator
    basis       TEXT NOT NULL,                -- calendar|business_hours
    duration    TEXT NOT NULL,
    pausable    INTEGER NOT NULL,
    calendar    TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    reference   TEXT,
    started_at  INTEGER NOT NULL,
    deadline    INTEGER,
    state       TEXT NOT NULL,                -- running|paused|breached|stopped
    breached_at INTEGER,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT clocks_case_name_key UNIQUE (case_id, name)
);
CREATE INDEX clocks_due_idx ON clocks (state, deadline);

-- Periods a case spent in waiting_customer (until NULL = still waiting).
CREATE TABLE case_pauses (
    id        INTEGER PRIMARY KEY,
    case_id   TEXT NOT NULL REFERENCES cases(id),
    from_ms   INTEGER NOT NULL,
    until_ms  INTEGER
);
CREATE INDEX case_pauses_case_idx ON case_pauses (case_id);

CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(id),
    task         TEXT NOT NULL,               -- device_retrieval|injury_follow_up|safety_review|regulator_report
    rule_id      TEXT,
    status       TEXT NOT NULL,               -- open|done
    note         TEXT,
    completed_by TEXT,
    completed_at INTEGER,
    created_at   INTEGER NOT NULL,
    CONSTRAINT tasks_case_task_key UNIQUE (case_id, task)
);

CREATE TABLE custody (
    id         INTEGER PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases(id),
    holder     TEXT NOT NULL,
    location   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    note       TEXT,
    recorded_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX custody_case_idx ON custody (case_id);

-- Persisted background work: notifications (webhook, email) and re-evaluations.
-- pending -> running (leased until locked_until) -> done | pending (retry at run_at) | dead.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL,               -- idempotency id sent to receivers
    kind         TEXT NOT NULL,               -- webhook|email|evaluate
    case_id      TEXT,
    target       TEXT NOT NULL,
    payload      TEXT NOT NULL,               -- JSON
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CONSTRAINT jobs_event_key UNIQUE (event_id)
);
CREATE INDEX jobs_due_idx ON jobs (state, run_at);

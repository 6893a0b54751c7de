-- Web UI (issue 7): browser sessions, login attempts (rate limiting and lockout), and the
-- agents' queue order (severity, then the nearest running or breached clock), kept by
-- triggers so the queue page is one index scan even with 100,000 cases.

CREATE TABLE ui_sessions (
    id_hash      TEXT PRIMARY KEY,          -- SHA-256 of the cookie value; the value is never stored
    user_name    TEXT NOT NULL REFERENCES users(name),
    csrf         TEXT NOT NULL,             -- the session's CSRF token (hidden field of every form)
    lang         TEXT,
    address      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX ui_sessions_user_idx ON ui_sessions (user_name);

CREATE TABLE login_attempts (
    id        INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    address   TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX login_attempts_user_idx ON login_attempts (user_name, at);
CREATE INDEX login_attempts_address_idx ON login_attempts (address, at);

-- 9007199254740991 (2^53 - 1) stands for "no running clock": such cases sort last in their severity.
CREATE TABLE case_queue (
    case_id       TEXT PRIMARY KEY REFERENCES cases(id),
    open          INTEGER NOT NULL,
    severity      TEXT NOT NULL,
    next_deadline INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX case_queue_order_idx ON case_queue (severity, next_deadline, created_at, open);
CREATE INDEX clocks_case_state_idx ON clocks (case_id, state, deadline);
-- "Only mine": an agent's cases are few; they are found by assignee and then sorted.
CREATE INDEX cases_assignee_idx ON cases (assignee);

INSERT INTO case_queue (case_id, open, severity, next_deadline, created_at)
SELECT c.id, c.status NOT IN ('resolved', 'closed'), c.severity,
       COALESCE((SELECT MIN(k.deadline) FROM clocks k WHERE k.case_id = c.id AND k.state IN ('running', 'breached') AND k.deadline IS NOT NULL), 9007199254740991),
       c.created_at
FROM cases c;

CREATE TRIGGER case_queue_case_insert AFTER INSERT ON cases BEGIN
    INSERT INTO case_queue (case_id, open, severity, next_deadline, created_at)
    VALUES (NEW.id, NEW.status NOT IN ('resolved', 'closed'), NEW.severity,
            COALESCE((SELECT MIN(k.deadline) FROM clocks k WHERE k.case_id = NEW.id AND k.state IN ('running', 'breached') AND k.deadline IS NOT NULL), 9007199254740991),
            NEW.created_at);
END;

CREATE TRIGGER case_queue_case_update AFTER UPDATE OF status, severity ON cases BEGIN
    UPDATE case_queue SET open = NEW.status NOT IN ('resolved', 'closed'), severity = NEW.severity
    WHERE case_id = NEW.id;
END;

CREATE TRIGGER case_queue_clock_insert AFTER INSERT ON clocks BEGIN
    UPDATE case_queue SET next_deadline = COALESCE((SELECT MIN(k.deadline) FROM clocks k WHERE k.case_id = NEW.case_id AND k.state IN ('running', 'breached') AND k.deadline IS NOT NULL), 9007199254740991)
    WHERE case_id = NEW.case_id;
END;

CREATE TRIGGER case_queue_clock_update AFTER UPDATE OF state, deadline ON clocks BEGIN
    UPDATE case_queue SET next_deadline = COALESCE((SELECT MIN(k.deadline) FROM clocks k WHERE k.case_id = NEW.case_id AND k.state IN ('running', 'breached') AND k.deadline IS NOT NULL), 9007199254740991)
    WHERE case_id = NEW.case_id;
END;

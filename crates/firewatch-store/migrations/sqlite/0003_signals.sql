-- Defect signals (issue 4): the product catalog, exposure (units sold), incremental report
-- counts per (product, hazard, market, day), the persisted re-evaluation queue, fitted GPS
-- hyperparameters, and signals with their lifecycle.

CREATE TABLE products (
    id         INTEGER PRIMARY KEY,
    brand      TEXT NOT NULL COLLATE NOCASE,
    model      TEXT NOT NULL COLLATE NOCASE,
    aliases    TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    category   TEXT NOT NULL DEFAULT '',
    price      REAL,
    currency   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT products_brand_model_key UNIQUE (brand, model)
);
CREATE INDEX products_category_idx ON products (category);

-- Units sold per product, market (ISO 3166-1 alpha-2) and month (YYYY-MM).
CREATE TABLE exposure (
    product_id INTEGER NOT NULL REFERENCES products(id),
    market     TEXT NOT NULL,
    month      TEXT NOT NULL,
    units      INTEGER NOT NULL CHECK (units >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (product_id, market, month)
) WITHOUT ROWID;

-- Report counts, updated in the intake transaction. `hazard` = '*' counts every report of
-- the product (the margin of the 2x2 tables); `modality` is 'occurred' or 'potential'
-- ('report' for the '*' rows). `day` is days since 1970-01-01 (UTC) of receipt; market is
-- the report's country ('' when unknown).
CREATE TABLE signal_counts (
    product_id INTEGER NOT NULL,
    hazard     TEXT NOT NULL,
    modality   TEXT NOT NULL,
    market     TEXT NOT NULL,
    day        INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (product_id, hazard, modality, market, day)
) WITHOUT ROWID;
CREATE INDEX signal_counts_day_idx ON signal_counts (day);

-- Which product each counted report was attributed to, for the signal's linked cases.
CREATE TABLE signal_reports (
    report_id  TEXT PRIMARY KEY REFERENCES reports(id),
    case_id    TEXT NOT NULL REFERENCES cases(id),
    product_id INTEGER NOT NULL,
    market     TEXT NOT NULL,
    day        INTEGER NOT NULL,
    occurred   TEXT NOT NULL,                -- JSON array of hazard codes
    potential  TEXT NOT NULL                 -- JSON array of hazard codes
);
CREATE INDEX signal_reports_product_idx ON signal_reports (product_id, day);

-- Products whose signals must be re-evaluated (persisted, so a restart resumes).
CREATE TABLE signal_dirty (
    product_id INTEGER PRIMARY KEY,
    marked_at  INTEGER NOT NULL
);

-- The fitted GPS hyperparameters (one row).
CREATE TABLE signal_hyper (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    theta     TEXT NOT NULL,                 -- JSON [alpha1, beta1, alpha2, beta2, p]
    nll       REAL,
    pairs     INTEGER NOT NULL,
    fitted_at INTEGER NOT NULL
);

CREATE TABLE signals (
    id         TEXT PRIMARY KEY,
    number     INTEGER NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products(id),
    hazard     TEXT NOT NULL,
    status     TEXT NOT NULL,
    trigger    TEXT NOT NULL,                -- JSON: window, market, criteria, figures at opening
    opened_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at  INTEGER,
    CONSTRAINT signals_number_key UNIQUE (number)
);
-- At most one signal per (product, hazard) that is not dismissed.
CREATE UNIQUE INDEX signals_active_key ON signals (product_id, hazard) WHERE status <> 'dismissed';
CREATE INDEX signals_status_idx ON signals (status, opened_at);

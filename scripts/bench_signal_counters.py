"""What the signal counters cost the intake writer, measured on the SQL alone.

Replays intake's statements (case, report, audit event) with and without the signal
counting statements of `count_report` (product lookup, one upsert per hazard and one for
the report total, the signal_reports row, the dirty mark) on a fresh WAL database with
synchronous=FULL, in transactions of 1, 32 and 256 reports (the writer's group commit).
Python's sqlite3 adds interpreter overhead to every statement, so the added cost is an
upper bound. Usage: python3 scripts/bench_signal_counters.py [REPORTS]
"""
import sqlite3, time, json, uuid, os, sys, tempfile
MIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "firewatch-store", "migrations", "sqlite") + "/"
def setup(path):
    if os.path.exists(path): os.remove(path)
    for ext in ("-wal","-shm"):
        if os.path.exists(path+ext): os.remove(path+ext)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL"); c.execute("PRAGMA foreign_keys=ON")
    for f in ("0001_foundation.sql", "0003_signals.sql"):
        c.executescript(open(MIG+f).read())
    for i in range(200):
        c.execute("INSERT INTO products (brand, model, aliases, category, created_at, updated_at) VALUES (?,?,?,?,0,0)", (f"B{i%10}", f"M{i}", "[]", "phone"))
    return c
HZ = ["thermal.fire","thermal.smoke","battery.swelling","thermal.overheating"]
def run(c, n, batch, signals):
    triage = [json.dumps({"language":"en","hazards":[{"code":h,"modality":"occurred","evidence":[]} for h in HZ[:1+(i%3)]],"products":[{"brand":f"B{(i%200)%10}","model":f"M{i%200}","score":1.0,"evidence":[]}]}) for i in range(n)]
    t0 = time.perf_counter()
    num = 0
    for b in range(0, n, batch):
        c.execute("BEGIN IMMEDIATE")
        for i in range(b, min(n, b+batch)):
            num += 1
            cid, rid = str(uuid.uuid4()), str(uuid.uuid4())
            c.execute("SELECT COALESCE(MAX(number),0)+1 FROM cases").fetchone()
            c.execute("INSERT INTO cases (id, number, status, severity, hazards, title, country, channel, created_at, updated_at) VALUES (?,?, 'new','S1','[]','t','FR','web',?,?)", (cid, num, i, i))
            c.execute("INSERT INTO reports (id, case_id, received_at, channel, narrative, injuries, product, reporter, triage, severity) VALUES (?,?,?,?,?,?,?,?,?,?)", (rid, cid, i, 'web', 'x'*200, 'none', '{}', '{}', triage[i], 'S1'))
            c.execute("INSERT INTO events (seq, at, actor, kind, entity, before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)", (num, i, 'public', 'case.opened', 'case:'+cid, None, '{"a":1}', 'h'*64, 'h'*64))
            if signals:
                t = json.loads(triage[i])
                p = t["products"][0]
                pid = c.execute("SELECT id FROM products WHERE brand = ? AND model = ?", (p["brand"], p["model"])).fetchone()[0]
                day = 20783 - (i % 30)
                rows = [("*","report")] + [(h["code"],"occurred") for h in t["hazards"]]
                for h, m in rows:
                    c.execute("INSERT INTO signal_counts (product_id, hazard, modality, market, day, n) VALUES (?,?,?,?,?,1) ON CONFLICT (product_id, hazard, modality, market, day) DO UPDATE SET n = n + 1", (pid, h, m, 'FR', day))
                c.execute("INSERT INTO signal_reports (report_id, case_id, product_id, market, day, occurred, potential) VALUES (?,?,?,?,?,?,?)", (rid, cid, pid, 'FR', day, json.dumps([h["code"] for h in t["hazards"]]), "[]"))
                c.execute("INSERT INTO signal_dirty (product_id, marked_at) VALUES (?, ?) ON CONFLICT (product_id) DO UPDATE SET marked_at = excluded.marked_at", (pid, i))
        c.execute("COMMIT")
    return n / (time.perf_counter() - t0)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
for batch in (1, 32, 256):
    for sig in (False, True):
        c = setup(os.path.join(tempfile.mkdtemp(), "b.sqlite"))
        r = run(c, n if batch > 1 else 2000, batch, sig)
        print(f"batch {batch:4d} signals {str(sig):5s}: {r:8.0f} reports/s")
        c.close()

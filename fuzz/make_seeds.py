#!/usr/bin/env python3
"""Builds fuzz/seeds/<target>/ from real samples: the crates' test fixtures and
/work/shared/data (see fuzz/seeds/SOURCE.md). Re-run after the samples change:
    python3 fuzz/make_seeds.py
Never reads twcs_customer_support_twitter."""
import csv, glob, hashlib, io, json, os, re, struct, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("FIREWATCH_SHARED_DATA", "/work/shared/data")
OUT = os.path.join(ROOT, "fuzz", "seeds")
MAX_SEED = 64 * 1024


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def first(*paths):
    for p in paths:
        if os.path.exists(p):
            return p
    return None


def lines(path, n):
    if not path:
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [l.rstrip("\n") for l in f if l.strip()][:n]


def png(w, h):
    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ---- intake JSON: real hazard narratives (EU Safety Gate risk descriptions) as reports
narratives = []
sg = os.path.join(SHARED, "eu_safety_gate", "safety_gate_alerts_risk_descriptions.csv")
if os.path.exists(sg):
    with open(sg, encoding="utf-8", errors="replace") as f:
        for row in list(csv.DictReader(f))[:24]:
            narratives.append((row.get("risk_description") or "")[:1500], )
            narratives[-1] = (narratives[-1][0], row.get("brand") or "", row.get("product_description") or "")
countries = ["FR", "DE", "SE", "IT", "ES", "PL", "NL", "BE"]
bodies = []
for i, (text, brand, model) in enumerate(narratives):
    b = {"narrative": text or "The charger smoked.", "country": countries[i % len(countries)]}
    if i % 2 == 0:
        b["product"] = {"brand": brand[:80], "model": model[:80], "price": {"amount": 99.5 + i, "currency": "EUR"}}
    if i % 3 == 0:
        b["reporter"] = {"name": "A. Reporter", "email": "reporter@example.test", "phone": "+33 1 23 45 67 89"}
    if i % 4 == 0:
        b["injuries"] = ["none", "minor", "serious", "fatal", "unknown"][i % 5]
        b["channel"] = ["web", "phone", "email", "social", "news", "regulator", "api"][i % 7]
        b["language"] = "en"
    bodies.append(b)
# the shapes the API tests send
bodies += [
    {"narrative": "Mon chargeur a pris feu pendant la nuit, brûlure à la main.", "country": "FR", "injuries": "minor"},
    {"narrative": "x", "country": "ZZ", "injuries": "bad", "channel": "pigeon", "extra": 1},
    {"narrative": "The charger sparked and smoked.", "country": "FR", "channel": "phone", "injuries": "none",
     "product": {"brand": "Acme", "model": "X1", "price": {"amount": 799.0, "currency": "EUR"}}},
]
for b in bodies:
    put("intake_json", json.dumps(b, ensure_ascii=False))
put("intake_json", "[]")
put("intake_json", '{"narrative": null}')

# ---- intake over HTTP: selector byte 0 = JSON, 1 = multipart (boundary XFUZZX)
for b in bodies[:8]:
    put("intake_http", b"\x00" + json.dumps(b).encode())
for i, b in enumerate(bodies[:6]):
    parts = [b"--XFUZZX\r\nContent-Disposition: form-data; name=\"report\"\r\nContent-Type: application/json\r\n\r\n"
             + json.dumps(b).encode() + b"\r\n"]
    for k in range(i % 3):
        parts.append(b"--XFUZZX\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p%d.png\"\r\nContent-Type: image/png\r\n\r\n" % k
                     + png(2 + k, 3) + b"\r\n")
    put("intake_http", b"\x01" + b"".join(parts) + b"--XFUZZX--\r\n")

# ---- Jetstream frames and posts JSONL lines
for p in sorted(glob.glob(os.path.join(ROOT, "crates/firewatch-connectors/tests/fixtures/jetstream/*.jsonl"))) + \
         sorted(glob.glob(os.path.join(SHARED, "bluesky_jetstream_events/*.jsonl"))):
    for l in lines(p, 60):
        put("jetstream", l)
for p in glob.glob(os.path.join(ROOT, "crates/firewatch/tests/**/*.jsonl"), recursive=True):
    for l in lines(p, 20):
        put("jetstream", l)

# ---- Mastodon: byte 0 picks the SSE event name (0 update, 1 status.update, 2 delete, ...)
md = os.path.join(SHARED, "mastodon_api_samples")
for p in sorted(glob.glob(os.path.join(md, "entity_*.json"))) + \
         sorted(glob.glob(os.path.join(ROOT, "crates/firewatch-connectors/tests/fixtures/mastodon/*.json"))):
    with open(p, "rb") as f:
        put("mastodon", b"\x00" + f.read())
for p in [os.path.join(md, "streaming_websocket_messages.jsonl"), os.path.join(md, "streaming_events.jsonl"),
          os.path.join(md, "activitypub_examples.jsonl")]:
    for i, l in enumerate(lines(p if os.path.exists(p) else None, 30)):
        put("mastodon", bytes([i % 5]) + l.encode())
sse = os.path.join(md, "streaming_sse_events.txt")
if os.path.exists(sse):
    for i, l in enumerate(lines(sse, 60)):
        if l.startswith("data:"):
            put("mastodon", bytes([i % 5]) + l[5:].strip().encode())

# ---- Feeds
for p in sorted(glob.glob(os.path.join(ROOT, "crates/firewatch-connectors/tests/fixtures/feeds/*"))) + \
         sorted(glob.glob(os.path.join(SHARED, "rss_atom_feed_fixtures/**/*"), recursive=True)):
    if os.path.isfile(p) and not p.endswith(".serde.json") and not p.endswith(".md"):
        with open(p, "rb") as f:
            put("feed", f.read())

# ---- CSV imports: the catalog used by triage's evaluation, exposure rows built from it,
# and the recall lists' product columns
cat = os.path.join(ROOT, "crates/firewatch-triage/eval/catalog.csv")
cat_lines = lines(cat, 400)
for n in (2, 10, 60, len(cat_lines)):
    put("csv_import", "\n".join(cat_lines[:n]) + "\n")
exp = ["brand,model,market,month,units_sold"]
for i, l in enumerate(cat_lines[1:40]):
    cells = next(csv.reader([l]))
    exp.append(f"{cells[0]},{cells[1]},{countries[i % 8]},2026-{1 + i % 12:02d},{(i * 977) % 100000}")
put("csv_import", "\n".join(exp) + "\n")
put("csv_import", "brand,model,market,month,units_sold\nVoltra,Blaze 9,France,2026-13,-1\n")
put("csv_import", "brand,model,aliases,category,price,currency\n\"Quoted, brand\",\"M\"\"1\",a|b|,kettle,12.5,EUR\n")
rc = first(os.path.join(SHARED, "rappelconso_fr_recalls/rappelconso_records_10.csv"))
if rc:
    with open(rc, encoding="utf-8", errors="replace") as f:
        put("csv_import", f.read()[:MAX_SEED])

# ---- Playbooks and CEL expressions
pbs = sorted(glob.glob(os.path.join(ROOT, "crates/firewatch-policy/tests/fixtures/playbooks/*/*.toml"))) + \
      sorted(glob.glob(os.path.join(ROOT, "crates/firewatch-policy/playbooks/*.toml")))
whens = set()
for p in pbs:
    with open(p, encoding="utf-8") as f:
        text = f.read()
    put("playbook", text)
    for m in re.finditer(r'^when\s*=\s*"((?:[^"\\]|\\.)*)"', text, re.M):
        whens.add(m.group(1).replace('\\"', '"'))
    for m in re.finditer(r"^when\s*=\s*'''(.*?)'''", text, re.M | re.S):
        whens.add(m.group(1))
whens |= {"true", "case.severity_rank <= 2", "size(case.hazards) > 0 && case.product.price * 2.0 > 100.0",
          "case.hazards.exists(h, h.startsWith('thermal'))", "case.mentions.count / 0 > 1",
          "[1,2,3].map(x, [x, x]).size() == 3", "'a' + 'b' == 'ab' ? case.is_safety : !case.is_safety"}
for w in sorted(whens):
    put("cel", w)

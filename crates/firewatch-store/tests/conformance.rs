//! The store conformance suite. Every backend must pass the same assertions: each case
//! runs against SQLite (a fresh file) and PostgreSQL (a fresh database in the throwaway
//! cluster of `firewatch_store::pgtest`; see that module for how PostgreSQL is found and
//! what happens when it is not installed).

use firewatch_domain::audit::ChainBreak;
use firewatch_domain::intake::{Channel, NewReport, ProductDetails, Reporter};
use firewatch_domain::{CaseStatus, InjuryLevel, Role, Severity};
use firewatch_store::postgres::PgStore;
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::*;
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

type Dyn = Arc<dyn FullStore>;

/// One test's database: a SQLite file or a PostgreSQL database.
struct Db {
    dir: tempfile::TempDir,
    pg_url: Option<String>,
}

impl Db {
    /// Another store on the same database (another node or process).
    async fn reopen(&self) -> Dyn {
        match &self.pg_url {
            Some(url) => Arc::new(PgStore::open(url).await.unwrap()),
            None => Arc::new(
                SqliteStore::open(&self.dir.path().join("fw.sqlite"))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Runs raw SQL behind the store's back.
    async fn tamper(&self, sql: &str) {
        use sqlx::Connection;
        match &self.pg_url {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            None => {
                let url = format!("sqlite://{}", self.dir.path().join("fw.sqlite").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
}

/// A fresh store of `kind`; `None` when PostgreSQL is not installed (announced loudly by
/// `pgtest::cluster`, and an error under FIREWATCH_REQUIRE_PG=1).
async fn open(kind: Kind) -> Option<(Dyn, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let pg_url = match kind {
        Kind::Sqlite => None,
        Kind::Postgres => Some(pgtest::cluster()?.fresh_database().await),
    };
    let db = Db { dir, pg_url };
    Some((db.reopen().await, db))
}

/// Runs a conformance case against both backends.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Kind::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Kind::Postgres).await
            }
        }
    };
}

/// Opens the case's store, or returns (PostgreSQL not installed).
macro_rules! open {
    ($kind:expr) => {
        match open($kind).await {
            Some(v) => v,
            None => return,
        }
    };
}

fn command(key: Option<&str>, narrative: &str) -> IntakeCommand {
    IntakeCommand {
        idempotency_key: key.map(str::to_string),
        request_hash: format!("hash-of-{narrative}"),
        report: NewReport {
            narrative: narrative.to_string(),
            language: Some("en".into()),
            product: ProductDetails::default(),
            occurred_at: None,
            country: Some("FR".into()),
            reporter: Reporter::default(),
            injuries: InjuryLevel::None,
            channel: Channel::Web,
        },
        hazards: vec!["thermal.smoke".into()],
        reported_hazards: vec![ReceiptHazard {
            code: "thermal.smoke".into(),
            modality: "occurred".into(),
        }],
        case_product: (Some("Voltra".into()), Some("Note7".into())),
        triage_json: "{}".into(),
        severity: Severity::S2,
        attachments: vec![],
        received_at_ms: 1_700_000_000_000,
        actor: Actor::public(),
    }
}

/// `n` intakes at once, the i-th on `stores[i % stores.len()]` with the key and narrative
/// `input(i)`; their outcomes in order.
async fn intake_concurrently(
    stores: &[Dyn],
    n: usize,
    input: impl Fn(usize) -> (String, String),
) -> Vec<IntakeOutcome> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let (key, narrative) = input(i);
            tokio::spawn(async move { s.intake(command(Some(&key), &narrative)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().unwrap());
    }
    outcomes
}

/// The number of events in the store's audit chain, which must verify.
async fn chain_events(store: &Dyn) -> u64 {
    match store.verify_audit().await.unwrap() {
        AuditVerdict::Ok { events } => events,
        broken => panic!("the audit chain does not verify: {broken:?}"),
    }
}

fn created(o: IntakeOutcome) -> IntakeReceipt {
    match o {
        IntakeOutcome::Created(r) => r,
        other => panic!("expected Created, got {other:?}"),
    }
}

both!(intake_opens_a_case_and_the_same_key_replays_the_first_answer);
async fn intake_opens_a_case_and_the_same_key_replays_the_first_answer(kind: Kind) {
    let (store, _dir) = open!(kind);
    let first = created(
        store
            .intake(command(Some("k1"), "it smoked"))
            .await
            .unwrap(),
    );
    assert_eq!(first.case_number, 1);
    let again = store
        .intake(command(Some("k1"), "it smoked"))
        .await
        .unwrap();
    assert_eq!(again, IntakeOutcome::Replayed(first.clone()));
    let reused = store
        .intake(command(Some("k1"), "something else"))
        .await
        .unwrap();
    assert_eq!(reused, IntakeOutcome::KeyReused);
    let cases = store.list_cases(&CaseFilter::default()).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].status, CaseStatus::New);
    assert_eq!(store.case_reports(&first.case_id).await.unwrap().len(), 1);
}

both!(concurrent_intakes_get_distinct_case_numbers_and_one_chain);
async fn concurrent_intakes_get_distinct_case_numbers_and_one_chain(kind: Kind) {
    let (store, _dir) = open!(kind);
    let mut numbers: Vec<_> = intake_concurrently(std::slice::from_ref(&store), 50, |i| {
        (format!("k{i}"), format!("report {i}"))
    })
    .await
    .into_iter()
    .map(|o| created(o).case_number)
    .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    // Each intake: case.opened and the playbook's case.policy_evaluated.
    assert_eq!(chain_events(&store).await, 100);
}

both!(two_stores_on_one_database_keep_one_chain_and_distinct_case_numbers);
async fn two_stores_on_one_database_keep_one_chain_and_distinct_case_numbers(kind: Kind) {
    // Two stores on one database are two nodes (PostgreSQL) or two processes (SQLite).
    let (a, db) = open!(kind);
    let b = db.reopen().await;
    // The last two share a key: one case, the same receipt on both.
    let outcomes = intake_concurrently(&[a.clone(), b.clone()], 40, |i| {
        if i >= 38 {
            ("shared".to_string(), "same".to_string())
        } else {
            (format!("k{i}"), format!("report {i}"))
        }
    })
    .await;
    let mut numbers = Vec::new();
    let mut shared = Vec::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let receipt = match outcome {
            IntakeOutcome::Created(r) | IntakeOutcome::Replayed(r) => r,
            other => panic!("{other:?}"),
        };
        if i >= 38 {
            shared.push(receipt.case_number);
        }
        numbers.push(receipt.case_number);
    }
    assert_eq!(shared[0], shared[1]);
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers, (1..=39).collect::<Vec<_>>());
    // case.opened and case.policy_evaluated per case, one chain whichever store wrote.
    assert_eq!(chain_events(&b).await, 78);
}

both!(transitions_follow_the_table_and_are_audited);
async fn transitions_follow_the_table_and_are_audited(kind: Kind) {
    let (store, _dir) = open!(kind);
    let r = created(store.intake(command(None, "smoke")).await.unwrap());
    let agent = Actor("alice".into());
    let err = store
        .transition_case(&r.case_id, CaseStatus::Resolved, None, &agent)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IllegalTransition(_)), "{err:?}");
    let c = store
        .transition_case(&r.case_id, CaseStatus::Triaged, None, &agent)
        .await
        .unwrap();
    assert_eq!(c.status, CaseStatus::Triaged);
    let events = store
        .list_events(&EventFilter {
            entity: Some(format!("case:{}", r.case_id)),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["case.opened", "case.policy_evaluated", "case.transitioned"]
    );
    assert_eq!(events[2].actor, "alice");
    assert!(events[2].before.as_deref().unwrap().contains("\"new\""));
    assert!(events[2].after.as_deref().unwrap().contains("\"triaged\""));
    let missing = store
        .transition_case("nope", CaseStatus::Triaged, None, &agent)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)));
}

both!(a_failed_write_in_a_batch_leaves_the_others_and_the_chain_intact);
async fn a_failed_write_in_a_batch_leaves_the_others_and_the_chain_intact(kind: Kind) {
    let (store, _dir) = open!(kind);
    let r = created(store.intake(command(None, "smoke")).await.unwrap());
    let a = Actor("a".into());
    store
        .transition_case(&r.case_id, CaseStatus::Closed, None, &a)
        .await
        .unwrap();
    store
        .add_note(&r.case_id, "called the customer".into(), &a)
        .await
        .unwrap();
    // closed -> in_progress is illegal; the note queued beside it must still land.
    let (bad, good) = tokio::join!(
        store.transition_case(&r.case_id, CaseStatus::InProgress, None, &a),
        store.add_note(&r.case_id, "second note".into(), &a)
    );
    assert!(bad.is_err());
    good.unwrap();
    assert_eq!(store.case_notes(&r.case_id).await.unwrap().len(), 2);
    // case.opened, case.policy_evaluated, case.transitioned, clocks.stopped (closing stops
    // the case's clocks) and the two notes; nothing from the failed transition.
    assert_eq!(chain_events(&store).await, 6);
}

both!(users_tokens_and_revocation);
async fn users_tokens_and_revocation(kind: Kind) {
    let (store, _dir) = open!(kind);
    store
        .create_user("ana", Role::Agent, Some("phc".into()), &Actor::cli())
        .await
        .unwrap();
    let dup = store
        .create_user("ana", Role::Hq, None, &Actor::cli())
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)));
    let t = store
        .create_token("ana", "h1".into(), Some("laptop".into()), &Actor::cli())
        .await
        .unwrap();
    assert_eq!(
        store.authenticate_token("h1").await.unwrap().unwrap().role,
        Role::Agent
    );
    assert!(store.authenticate_token("h2").await.unwrap().is_none());
    store.revoke_token(t.id, &Actor::cli()).await.unwrap();
    assert!(store.authenticate_token("h1").await.unwrap().is_none());
    assert!(
        store
            .create_token("bob", "h3".into(), None, &Actor::cli())
            .await
            .is_err()
    );
}

async fn store_with_events(kind: Kind, n: usize) -> Option<(Dyn, Db)> {
    let (store, dir) = open(kind).await?;
    for i in 0..n {
        store.intake(command(None, &format!("r{i}"))).await.unwrap();
    }
    Some((store, dir))
}

both!(audit_verify_names_an_edited_event);
async fn audit_verify_names_an_edited_event(kind: Kind) {
    let Some((store, dir)) = store_with_events(kind, 5).await else {
        return;
    };
    dir.tamper("UPDATE events SET actor = 'mallory' WHERE seq = 3")
        .await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Broken(ChainBreak::Edited { seq: 3 })
    );
}

both!(audit_verify_names_a_deleted_event);
async fn audit_verify_names_a_deleted_event(kind: Kind) {
    let Some((store, dir)) = store_with_events(kind, 5).await else {
        return;
    };
    dir.tamper("DELETE FROM events WHERE seq = 2").await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Broken(ChainBreak::Gap {
            seq: 3,
            expected: 2
        })
    );
}

both!(audit_verify_catches_reordered_events);
async fn audit_verify_catches_reordered_events(kind: Kind) {
    let Some((store, dir)) = store_with_events(kind, 5).await else {
        return;
    };
    // Swap the contents of events 2 and 4, keeping sequence numbers.
    dir.tamper("UPDATE events SET seq = -2 WHERE seq = 2; UPDATE events SET seq = 2 WHERE seq = 4; UPDATE events SET seq = 4 WHERE seq = -2;",
    )
    .await;
    let v = store.verify_audit().await.unwrap();
    assert!(
        matches!(v, AuditVerdict::Broken(ChainBreak::Unlinked { seq: 2 })),
        "{v:?}"
    );
}

both!(audit_verify_catches_a_removed_tail);
async fn audit_verify_catches_a_removed_tail(kind: Kind) {
    let Some((store, dir)) = store_with_events(kind, 5).await else {
        return;
    };
    // Five intakes write ten events (case.opened, case.policy_evaluated).
    dir.tamper("DELETE FROM events WHERE seq = 10").await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Broken(ChainBreak::HeadMismatch {
            last_seq: 9,
            head_seq: 10
        })
    );
}

// ------------------------------------------------------------------------------ playbooks

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

both!(a_breach_fires_exactly_once_with_two_workers_on_one_database);
async fn a_breach_fires_exactly_once_with_two_workers_on_one_database(kind: Kind) {
    let (a, dir) = open!(kind);
    // Received in 2023: every clock of these S2 cases is long overdue.
    let mut cases = Vec::new();
    for i in 0..8 {
        cases.push(created(a.intake(command(None, &format!("r{i}"))).await.unwrap()).case_id);
    }
    let mut total = 0;
    for c in &cases {
        let view = a.playbooks().case_policy(c).await.unwrap().unwrap();
        assert!(view.clocks.iter().all(|k| k.state == "running"));
        assert!(view.clocks.iter().any(|k| k.kind == "regulator"));
        total += view.clocks.len();
    }
    assert!(total >= 8 * 4, "{total} clocks");
    // A second store on the same file is a second process's worker.
    let b = dir.reopen().await;
    let mut fired = Vec::new();
    loop {
        let (x, y) = tokio::join!(
            a.playbooks().fire_breaches(5),
            b.playbooks().fire_breaches(5)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        fired.extend(x.into_iter().chain(y).map(|r| (r.case_id, r.clock)));
    }
    let unique: std::collections::BTreeSet<_> = fired.iter().cloned().collect();
    assert_eq!(unique.len(), fired.len(), "a breach fired twice");
    assert_eq!(fired.len(), total);
    // Each breach escalated one level until hq: agent -> supervisor -> safety -> hq.
    for c in &cases {
        let view = b.playbooks().case_policy(c).await.unwrap().unwrap();
        assert!(view.clocks.iter().all(|k| k.state == "breached"));
        let by_clock: Vec<_> = view
            .escalations
            .iter()
            .filter(|e| e.cause.starts_with("clock:"))
            .map(|e| (e.from_level.as_str(), e.level.as_str()))
            .collect();
        assert_eq!(
            by_clock,
            [
                ("agent", "supervisor"),
                ("supervisor", "safety"),
                ("safety", "hq")
            ]
        );
        assert_eq!(view.policy.unwrap().level, "hq");
    }
    assert!(a.playbooks().fire_breaches(100).await.unwrap().is_empty());
    chain_events(&b).await;
}

both!(courtesy_clocks_pause_while_waiting_on_the_customer_and_regulator_clocks_do_not);
async fn courtesy_clocks_pause_while_waiting_on_the_customer_and_regulator_clocks_do_not(
    kind: Kind,
) {
    let (store, _dir) = open!(kind);
    let mut cmd = command(None, "smoke from the charger");
    cmd.received_at_ms = now_ms();
    let case = created(store.intake(cmd).await.unwrap()).case_id;
    let a = Actor("alice".into());
    let clocks = |v: &playbooks::CasePolicyView| {
        v.clocks
            .iter()
            .map(|c| (c.name.clone(), (c.state.clone(), c.deadline_ms, c.pausable)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = clocks(&store.playbooks().case_policy(&case).await.unwrap().unwrap());
    for to in [CaseStatus::InProgress, CaseStatus::WaitingCustomer] {
        store.transition_case(&case, to, None, &a).await.unwrap();
    }
    let paused = clocks(&store.playbooks().case_policy(&case).await.unwrap().unwrap());
    for (name, (state, deadline, pausable)) in &paused {
        if *pausable {
            assert_eq!((state.as_str(), *deadline), ("paused", None), "{name}");
        } else {
            assert_eq!(state, "running", "{name}");
            assert_eq!(*deadline, before[name].1, "{name} moved");
        }
    }
    assert_eq!(paused["regulator_report"].0, "running");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    store
        .transition_case(&case, CaseStatus::InProgress, None, &a)
        .await
        .unwrap();
    let resumed = clocks(&store.playbooks().case_policy(&case).await.unwrap().unwrap());
    for (name, (state, deadline, pausable)) in &resumed {
        assert_eq!(state, "running", "{name}");
        if *pausable {
            // Paused time never shortens a clock; on a calendar-time clock it lengthens it
            // (a business-hours clock paused outside working hours does not move).
            assert!(
                deadline.unwrap() >= before[name].1.unwrap(),
                "{name} moved back"
            );
        } else {
            assert_eq!(*deadline, before[name].1, "{name} moved");
        }
    }
    assert!(
        resumed["resolution"].1.unwrap() > before["resolution"].1.unwrap(),
        "the calendar-time resolution clock did not move"
    );
    // Resolving is refused until the required tasks are recorded; nothing changes.
    let err = store
        .transition_case(&case, CaseStatus::Resolved, None, &a)
        .await
        .unwrap_err();
    let StoreError::Refused(r) = err else {
        panic!("{err:?}")
    };
    assert_eq!(r.slug, "resolution-blocked");
    assert!(r.detail.contains("regulator"), "{}", r.detail);
    assert_eq!(
        store.get_case(&case).await.unwrap().unwrap().status,
        CaseStatus::InProgress
    );
}

both!(a_reloaded_playbook_reschedules_running_clocks_and_an_invalid_one_changes_nothing);
async fn a_reloaded_playbook_reschedules_running_clocks_and_an_invalid_one_changes_nothing(
    kind: Kind,
) {
    let (store, dir) = open!(kind);
    let mut cmd = command(None, "smoke from the charger");
    cmd.received_at_ms = now_ms();
    let case = created(store.intake(cmd).await.unwrap()).case_id;
    let deadline = |v: &playbooks::CasePolicyView, name: &str| {
        let c = v.clocks.iter().find(|c| c.name == name).unwrap();
        (c.deadline_ms.unwrap() - c.started_at_ms, c.state.clone())
    };
    let view = store.playbooks().case_policy(&case).await.unwrap().unwrap();
    assert_eq!(
        deadline(&view, "acknowledgement"),
        (3_600_000, "running".into())
    );
    let admin = Actor("root".into());

    let bad = store
        .playbooks()
        .put_playbook(
            "bad.toml",
            "[[rules]]\nid = \"x\"\nwhen = \"case.nope\"\n",
            &admin,
        )
        .await
        .unwrap();
    let playbooks::PutPlaybook::Invalid(e) = bad else {
        panic!("an invalid playbook was applied")
    };
    assert!(
        e.to_string()
            .starts_with("bad.toml: rule \"x\": field when:"),
        "{e}"
    );
    assert_eq!(store.playbooks().active_playbook().version, 0);

    let text = firewatch_policy::DEFAULT_PLAYBOOK_TOML.replace(
        r#"{ name = "acknowledgement", kind = "internal", duration = "1h", basis = "calendar" }"#,
        r#"{ name = "acknowledgement", kind = "internal", duration = "3h", basis = "calendar" }"#,
    );
    let applied = store
        .playbooks()
        .put_playbook("ops.toml", &text, &admin)
        .await
        .unwrap();
    let playbooks::PutPlaybook::Applied(a) = applied else {
        panic!("the valid playbook was refused")
    };
    assert_eq!(a.version, 1);
    assert_eq!(store.playbooks().run_evaluations(100).await.unwrap(), 1);
    let view = store.playbooks().case_policy(&case).await.unwrap().unwrap();
    assert_eq!(
        deadline(&view, "acknowledgement"),
        (3 * 3_600_000, "running".into())
    );
    assert_eq!(view.policy.unwrap().playbook_version, 1);
    // A second store on the file (another node) picks the new version up.
    let other = dir.reopen().await;
    assert_eq!(other.playbooks().active_playbook().version, 1);
    assert!(!other.playbooks().refresh_playbook().await.unwrap());
}

// ------------------------------------------------------------------ defect signals (issue 4)

use firewatch_domain::SignalStatus;
use firewatch_store::signals::{
    CountRow, NewExposure, NewProduct, NewSignal, SignalFilter, day_of_ms,
};

fn new_product(brand: &str, model: &str, category: &str, price: Option<f64>) -> NewProduct {
    NewProduct {
        brand: brand.into(),
        model: model.into(),
        aliases: vec![],
        category: category.into(),
        price,
        currency: Some("EUR".into()),
    }
}

/// A report whose triage resolved `triage_product` (or nothing) and found these hazards.
fn signal_report(
    i: usize,
    triage_product: Option<(&str, &str)>,
    intake_product: Option<(&str, &str)>,
    occurred: &[&str],
    potential: &[&str],
    country: &str,
    received_at_ms: i64,
) -> IntakeCommand {
    let mut hazards: Vec<serde_json::Value> = occurred
        .iter()
        .map(|c| serde_json::json!({"code": c, "modality": "occurred", "evidence": []}))
        .collect();
    hazards.extend(
        potential
            .iter()
            .map(|c| serde_json::json!({"code": c, "modality": "potential", "evidence": []})),
    );
    let products: Vec<serde_json::Value> = triage_product
        .iter()
        .map(|(b, m)| serde_json::json!({"brand": b, "model": m, "score": 1.0, "evidence": []}))
        .collect();
    let mut cmd = command(Some(&format!("sig-{i}")), &format!("report {i}"));
    cmd.triage_json =
        serde_json::json!({"language": "en", "hazards": hazards, "products": products}).to_string();
    cmd.hazards = occurred.iter().map(|s| s.to_string()).collect();
    cmd.report.country = Some(country.into());
    cmd.received_at_ms = received_at_ms;
    if let Some((b, m)) = intake_product {
        cmd.report.product = ProductDetails {
            brand: Some(b.into()),
            model: Some(m.into()),
            ..ProductDetails::default()
        };
    }
    cmd
}

both!(signal_counters_kept_by_intake_equal_a_full_recount);
async fn signal_counters_kept_by_intake_equal_a_full_recount(kind: Kind) {
    let (store, _dir) = open!(kind);
    store
        .upsert_products(
            vec![
                new_product("Voltra", "Note7", "phone", Some(399.0)),
                new_product("Voltra", "AirBook 14", "laptop", None),
            ],
            &Actor::cli(),
        )
        .await
        .unwrap();
    let base = 1_790_000_000_000i64;
    let hazards = ["thermal.fire", "thermal.smoke", "battery.swelling"];
    let countries = ["FR", "DE", "us"];
    // Expected counts, computed from the inputs as they are generated.
    let mut expected_fire_note7 = 0i64;
    let mut expected_note7_reports = 0i64;
    let mut cmds = Vec::new();
    for i in 0..240usize {
        let occurred: Vec<&str> = hazards
            .iter()
            .enumerate()
            .filter(|(k, _)| (i + k) % (k + 2) == 0)
            .map(|(_, h)| *h)
            .collect();
        let potential: Vec<&str> = if i % 5 == 0 {
            vec!["electrical.shock"]
        } else {
            vec![]
        };
        // Triage's product, else the intake's (different case), else an unknown product.
        let (triage, intake) = match i % 4 {
            0 => (Some(("Voltra", "Note7")), None),
            1 => (None, Some(("VOLTRA", "note7"))),
            2 => (Some(("Voltra", "AirBook 14")), Some(("Voltra", "Note7"))),
            _ => (Some(("Other", "Thing")), None),
        };
        let is_note7 = i % 4 <= 1;
        if is_note7 {
            expected_note7_reports += 1;
            if occurred.contains(&"thermal.fire") {
                expected_fire_note7 += 1;
            }
        }
        cmds.push(signal_report(
            i,
            triage,
            intake,
            &occurred,
            &potential,
            countries[i % 3],
            base + (i as i64 % 7) * 86_400_000 + i as i64,
        ));
    }
    // Concurrent submissions share group-committed transactions; every one is retried once
    // (a replay must not count twice).
    let mut tasks = Vec::new();
    for cmd in cmds {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let first = s.intake(cmd.clone()).await.unwrap();
            let again = s.intake(cmd).await.unwrap();
            assert!(matches!(again, IntakeOutcome::Replayed(_)), "{again:?}");
            first
        }));
    }
    for t in tasks {
        created(t.await.unwrap());
    }
    let incremental = store.signal_counts(i64::MIN).await.unwrap();
    let recount = store.recount_signal_counts().await.unwrap();
    assert_eq!(incremental, recount);
    let products = store.list_products().await.unwrap();
    let note7 = products.iter().find(|p| p.model == "Note7").unwrap().id;
    let sum = |rows: &[CountRow], hazard: &str, modality: &str| -> i64 {
        rows.iter()
            .filter(|r| r.product_id == note7 && r.hazard == hazard && r.modality == modality)
            .map(|r| r.n)
            .sum()
    };
    assert_eq!(
        sum(&incremental, "thermal.fire", "occurred"),
        expected_fire_note7
    );
    assert_eq!(sum(&incremental, "*", "report"), expected_note7_reports);
    assert!(
        incremental
            .iter()
            .all(|r| ["FR", "DE", "US"].contains(&r.market.as_str()))
    );
    assert!(
        incremental
            .iter()
            .all(|r| r.day >= day_of_ms(base) && r.day <= day_of_ms(base) + 6)
    );
    // Summed per window by the database, equal to summing the daily rows here.
    let today = day_of_ms(base) + 6;
    let windows = store.signal_count_windows(today).await.unwrap();
    for w in [30i64, 90, 365] {
        let total = |rows: &[CountRow]| -> i64 {
            rows.iter()
                .filter(|r| {
                    r.day > today - w
                        && r.day <= today
                        && r.product_id == note7
                        && r.hazard == "thermal.fire"
                })
                .map(|r| r.n)
                .sum()
        };
        assert_eq!(total(&windows), total(&incremental), "window {w}");
    }
    let later = store.signal_count_windows(today + 40).await.unwrap();
    assert!(
        later.iter().all(|r| r.day == today + 10),
        "all rows are 31..90 days old then"
    );
    // Intake marked the products for re-evaluation.
    let dirty = store.dirty_products().await.unwrap();
    assert_eq!(dirty.len(), 2, "{dirty:?}");
    store.clear_dirty(dirty).await.unwrap();
    assert!(store.dirty_products().await.unwrap().is_empty());
    // 240 intakes write case.opened and case.policy_evaluated each, plus the two upserts.
    assert_eq!(chain_events(&store).await, 482);
}

both!(products_and_exposure_are_idempotent_upserts_and_audited);
async fn products_and_exposure_are_idempotent_upserts_and_audited(kind: Kind) {
    let (store, _dir) = open!(kind);
    let a = new_product("Voltra", "Note7", "phone", Some(399.0));
    let b = new_product("Voltra", "PowerCell 20K", "power_bank", Some(49.0));
    let s = store
        .upsert_products(vec![a.clone(), b.clone()], &Actor::cli())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (2, 0, 0));
    let s = store
        .upsert_products(vec![a.clone(), b.clone()], &Actor::cli())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (0, 0, 2));
    let cheaper = NewProduct {
        price: Some(349.0),
        ..a.clone()
    };
    let s = store
        .upsert_products(vec![cheaper], &Actor::cli())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (0, 1, 0));
    let v1 = store.products_version().await.unwrap();
    assert_eq!(v1.0, 2);
    let row = |line, model: &str, market: &str, month: &str, units| NewExposure {
        line,
        brand: "voltra".into(),
        model: model.into(),
        market: market.into(),
        month: month.into(),
        units,
    };
    let rows = vec![
        row(2, "note7", "FR", "2026-01", 1000),
        row(3, "Note7", "DE", "2026-01", 500),
    ];
    let s = store
        .upsert_exposure(rows.clone(), &Actor::cli())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (2, 0, 0));
    let s = store.upsert_exposure(rows, &Actor::cli()).await.unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (0, 0, 2));
    let s = store
        .upsert_exposure(vec![row(2, "Note7", "FR", "2026-01", 1200)], &Actor::cli())
        .await
        .unwrap();
    assert_eq!((s.created, s.updated, s.unchanged), (0, 1, 0));
    // An unknown product refuses the whole batch and names its line; nothing changes.
    let err = store
        .upsert_exposure(
            vec![
                row(2, "Note7", "FR", "2026-02", 7),
                row(9, "Nope", "FR", "2026-02", 1),
            ],
            &Actor::cli(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains("line 9")),
        "{err}"
    );
    let exposure = store.list_exposure().await.unwrap();
    assert_eq!(exposure.len(), 2);
    assert_eq!(exposure.iter().map(|e| e.units).sum::<i64>(), 1700);
    let events = store
        .list_events(&EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "product.created",
            "product.created",
            "product.updated",
            "exposure.imported",
            "exposure.imported"
        ]
    );
    assert!(events[2].before.as_deref().unwrap().contains("399"));
    assert!(
        events[4]
            .after
            .as_deref()
            .unwrap()
            .contains("\"before\":1000")
    );
    assert_eq!(chain_events(&store).await, 5);
}

both!(a_signal_opens_once_per_pair_moves_through_its_table_and_links_its_cases);
async fn a_signal_opens_once_per_pair_moves_through_its_table_and_links_its_cases(kind: Kind) {
    let (store, _dir) = open!(kind);
    store
        .upsert_products(
            vec![new_product("Voltra", "Note7", "phone", None)],
            &Actor::cli(),
        )
        .await
        .unwrap();
    let r = created(
        store
            .intake(signal_report(
                1,
                Some(("Voltra", "Note7")),
                None,
                &["thermal.fire"],
                &[],
                "FR",
                1_790_000_000_000,
            ))
            .await
            .unwrap(),
    );
    created(
        store
            .intake(signal_report(
                2,
                Some(("Voltra", "Note7")),
                None,
                &["thermal.smoke"],
                &[],
                "FR",
                1_790_000_000_000,
            ))
            .await
            .unwrap(),
    );
    let pid = store.list_products().await.unwrap()[0].id;
    let new = |quiet| NewSignal {
        product_id: pid,
        hazard: "thermal.fire".into(),
        trigger: serde_json::json!({"window_days": 30}),
        quiet_after_dismissal_ms: quiet,
    };
    let s = store
        .open_signal(new(0), &Actor("system:signals".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.status, s.number, s.model.as_str()),
        (SignalStatus::New, 1, "Note7")
    );
    assert!(
        store
            .open_signal(new(0), &Actor("system:signals".into()))
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .transition_signal(&s.id, SignalStatus::Recall, None, &Actor("sam".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("investigating, dismissed")),
        "{err}"
    );
    let s2 = store
        .transition_signal(
            &s.id,
            SignalStatus::Investigating,
            Some("looking".into()),
            &Actor("sam".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        (s2.status, s2.closed_at_ms),
        (SignalStatus::Investigating, None)
    );
    let s3 = store
        .transition_signal(&s.id, SignalStatus::Dismissed, None, &Actor("sam".into()))
        .await
        .unwrap();
    assert!(s3.closed_at_ms.is_some());
    // Dismissed recently: quiet for 90 days; with no quiet period a new signal opens.
    assert!(
        store
            .open_signal(new(90 * 86_400_000), &Actor("system:signals".into()))
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .open_signal(new(0), &Actor("system:signals".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.number, 2);
    let listed = store
        .list_signals(&SignalFilter {
            status: Some(SignalStatus::New),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|s| s.number).collect::<Vec<_>>(), vec![2]);
    let cases = store.signal_cases(pid, "thermal.fire", 10).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(
        (cases[0].case_id.as_str(), cases[0].market.as_str()),
        (r.case_id.as_str(), "FR")
    );
    let timeline = store
        .list_events(&EventFilter {
            entity: Some(format!("signal:{}", s.id)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "signal.opened",
            "signal.transitioned",
            "signal.transitioned"
        ]
    );
    assert_eq!(timeline[1].actor, "sam");
    assert!(timeline[1].after.as_deref().unwrap().contains("looking"));
}

// ------------------------------------------------------------------------------ comms
// The comms store (issue 11) on both backends: the cases of `sqlite::comms::tests`, plus
// the concurrency PostgreSQL adds (several writers at once).

use firewatch_comms::{FindingSeverity, Lang, TemplateKind};
use firewatch_store::comms::{
    CommsFacts, CommsProfile, FactsProduct, NewNotification, StatementStatus, SubjectRef,
    export_input,
};

/// An S1 fire case of an Acme X1 reported in `lang` from FR (a safety case: it gets a
/// regulator clock).
async fn comms_case(store: &Dyn, lang: &str, n: u32) -> String {
    let mut cmd = command(
        None,
        &format!("report {n}: the battery exploded and caught fire"),
    );
    cmd.request_hash = format!("comms-{n}");
    cmd.report.language = Some(lang.into());
    cmd.report.product = ProductDetails {
        brand: Some("Acme".into()),
        model: Some("X1".into()),
        ..ProductDetails::default()
    };
    cmd.hazards = vec!["thermal.explosion".into(), "thermal.fire".into()];
    cmd.reported_hazards = vec![ReceiptHazard {
        code: "thermal.fire".into(),
        modality: "occurred".into(),
    }];
    cmd.case_product = (Some("Acme".into()), Some("X1".into()));
    cmd.triage_json = r#"{"hazards":[{"code":"thermal.explosion","modality":"occurred","evidence":[]},{"code":"thermal.fire","modality":"occurred","evidence":[]}]}"#.into();
    cmd.severity = Severity::S1;
    cmd.received_at_ms = 1_770_000_000_000 + i64::from(n);
    created(store.intake(cmd).await.unwrap()).case_id
}

async fn event_kinds(store: &Dyn, entity: &str) -> Vec<String> {
    store
        .list_events(&EventFilter {
            entity: Some(entity.into()),
            after_seq: 0,
            limit: 1000,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn refusal_slug(e: StoreError) -> &'static str {
    match e {
        StoreError::Refused(r) => r.slug,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn clean_facts() -> CommsFacts {
    CommsFacts {
        hazard_description: "La batterie peut prendre feu et exploser.".into(),
        what_to_do: "Cessez d'utiliser le téléphone et débranchez-le.".into(),
        product: FactsProduct {
            batches: vec!["B7".into()],
            gtin: Some("3760000000017".into()),
            picture_url: Some("https://acme.example/x1.jpg".into()),
            ..FactsProduct::default()
        },
        remedy: Some(firewatch_comms::Remedy {
            kinds: vec![firewatch_comms::RemedyKind::Replacement],
            details: None,
        }),
        ..CommsFacts::default()
    }
}

fn comms_profile() -> CommsProfile {
    CommsProfile {
        contact: firewatch_comms::Contact {
            organisation: "Acme".into(),
            phone: Some("0800 123 456".into()),
            email: Some("recall@acme.example".into()),
            url: Some("https://acme.example/recall".into()),
            hours: None,
        },
        ..CommsProfile::default()
    }
}

both!(comms_an_invalid_template_stores_nothing_and_versions_keep_history);
async fn comms_an_invalid_template_stores_nothing_and_versions_keep_history(kind: Kind) {
    let (s, _db) = open!(kind);
    let admin = Actor("root".into());
    let c = s.comms();
    let e = c
        .put_template(
            TemplateKind::RecallNotice,
            Lang::Fr,
            "Rappel\n{% for %}".into(),
            &admin,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(e), "invalid-template");
    assert!(c.stored_templates().await.unwrap().is_empty());
    assert!(
        event_kinds(&s, "template:recall_notice.fr")
            .await
            .is_empty()
    );

    let base = firewatch_comms::builtin_template(TemplateKind::RecallNotice, Lang::Fr)
        .unwrap()
        .to_string();
    let v1 = c
        .put_template(TemplateKind::RecallNotice, Lang::Fr, base.clone(), &admin)
        .await
        .unwrap();
    let edited = format!("{base}\n-- {{{{ firm }}}}\n");
    let v2 = c
        .put_template(TemplateKind::RecallNotice, Lang::Fr, edited.clone(), &admin)
        .await
        .unwrap();
    assert!(v2.id > v1.id);
    let history = c
        .template_history(TemplateKind::RecallNotice, Lang::Fr)
        .await
        .unwrap();
    assert_eq!(history, vec![v1.clone(), v2.clone()]);
    let stored = c.stored_templates().await.unwrap();
    assert_eq!(stored, vec![v2.clone()]);
    let t = c.templates().await.unwrap();
    assert_eq!(
        t.get(TemplateKind::RecallNotice, Lang::Fr),
        Some(edited.as_str())
    );
    assert_eq!(
        event_kinds(&s, "template:recall_notice.fr").await,
        vec!["template.updated", "template.updated"]
    );
    // The second event names the version it replaced.
    let events = s
        .list_events(&EventFilter {
            entity: Some("template:recall_notice.fr".into()),
            after_seq: 0,
            limit: 10,
        })
        .await
        .unwrap();
    let before: serde_json::Value =
        serde_json::from_str(events[1].before.as_deref().unwrap()).unwrap();
    assert_eq!(before["version"], v1.id);
    // The profile round-trips and is audited.
    assert_eq!(c.profile().await.unwrap(), CommsProfile::default());
    c.put_profile(comms_profile(), &admin).await.unwrap();
    assert_eq!(c.profile().await.unwrap(), comms_profile());
    assert_eq!(
        event_kinds(&s, "comms:profile").await,
        vec!["comms.profile_updated"]
    );
    chain_events(&s).await;
}

both!(comms_a_recall_notice_is_approved_by_pr_and_hq_and_gated_by_the_checker);
async fn comms_a_recall_notice_is_approved_by_pr_and_hq_and_gated_by_the_checker(kind: Kind) {
    let (s, _db) = open!(kind);
    let case = comms_case(&s, "fr-BE", 1).await;
    let subject = SubjectRef::case(&case);
    let (pr, hq, agent) = (
        Actor("pat".into()),
        Actor("hana".into()),
        Actor("alice".into()),
    );
    let c = s.comms();
    c.put_profile(comms_profile(), &Actor("root".into()))
        .await
        .unwrap();
    c.put_facts(&subject, clean_facts(), &Actor("sid".into()))
        .await
        .unwrap();
    assert_eq!(c.facts(&subject).await.unwrap(), clean_facts());
    assert!(matches!(
        c.facts(&SubjectRef::case("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    let st = c
        .draft_statement(&subject, TemplateKind::RecallNotice, None, &pr)
        .await
        .unwrap();
    assert_eq!((st.lang, st.fell_back), (Lang::Fr, false));
    assert_eq!(st.requested_lang.as_deref(), Some("fr-BE"));
    assert_eq!(st.template_id, None, "no stored template: the built-in one");
    assert_eq!((st.version, st.status), (1, StatementStatus::Draft));
    assert_eq!(st.facts.batches, vec!["B7"]);
    let findings = firewatch_comms::check_recall_notice(&st.body, "fr", &st.facts);
    assert!(
        findings
            .iter()
            .all(|f| f.severity != FindingSeverity::Error),
        "{findings:?}\n{}",
        st.body
    );
    // A language without a template falls back to English and says so.
    let fell = c
        .draft_statement(
            &subject,
            TemplateKind::PublicStatement,
            Some("ja".into()),
            &pr,
        )
        .await
        .unwrap();
    assert_eq!((fell.lang, fell.fell_back), (Lang::En, true));

    // Customer replies are for cases only.
    let e = c
        .draft_statement(
            &SubjectRef::signal("nope"),
            TemplateKind::CustomerReply,
            None,
            &pr,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(e), "customer-reply-needs-case");

    // Approvals: agents may not; publication needs both pr and hq.
    let e = c
        .decide_statement(&st.id, Role::Agent, true, None, &agent)
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(e), "approval-role");
    c.decide_statement(&st.id, Role::Pr, true, None, &pr)
        .await
        .unwrap();
    assert!(matches!(
        c.decide_statement(&st.id, Role::Pr, true, None, &pr).await,
        Err(StoreError::Conflict(_))
    ));
    let e = c
        .publish_statement(&st.id, Role::Pr, None, &pr)
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(e), "approvals-missing");

    // An edit with a minimising word: a new version, approvals again, then refused.
    let bad = format!("{}\nRappel précautionnaire et volontaire.", st.body);
    assert!(matches!(
        c.edit_statement(&st.id, bad.clone(), Some(7), &pr).await,
        Err(StoreError::Conflict(_))
    ));
    let st2 = c.edit_statement(&st.id, bad, Some(1), &pr).await.unwrap();
    assert_eq!(st2.version, 2);
    assert_eq!(st2.approvals_missing(), vec!["pr", "hq"]);
    c.decide_statement(&st.id, Role::Pr, true, None, &pr)
        .await
        .unwrap();
    c.decide_statement(&st.id, Role::Hq, true, None, &hq)
        .await
        .unwrap();
    match c
        .publish_statement(&st.id, Role::Pr, None, &pr)
        .await
        .unwrap_err()
    {
        StoreError::Refused(r) => {
            assert_eq!(r.slug, "notice-check-failed");
            assert_eq!(r.data["blocking"], 2, "{:?}", r.data);
            assert!(r.detail.contains("précautionnaire"), "{}", r.detail);
        }
        other => panic!("{other:?}"),
    }
    // pr may not override; hq may, with a reason.
    let e = c
        .publish_statement(&st.id, Role::Pr, Some("urgent".into()), &pr)
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(e), "notice-check-failed");
    assert_eq!(
        c.get_statement(&st.id).await.unwrap().unwrap().status,
        StatementStatus::Draft
    );
    let p = c
        .publish_statement(&st.id, Role::Hq, Some("wording imposed".into()), &hq)
        .await
        .unwrap();
    assert_eq!(p.status, StatementStatus::Published);
    assert_eq!(p.override_reason.as_deref(), Some("wording imposed"));
    assert_eq!(p.published_by.as_deref(), Some("hana"));
    assert_eq!(p.approvals.len(), 3);
    assert!(matches!(
        c.edit_statement(&st.id, "x".into(), None, &pr).await,
        Err(StoreError::Conflict(_))
    ));
    // What a reader gets back is what the writer returned.
    assert_eq!(c.get_statement(&st.id).await.unwrap(), Some(p.clone()));
    let listed = c.list_statements(&subject).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![st.id.as_str(), fell.id.as_str()]
    );
    assert_eq!(listed[0], p);

    let statement_events: Vec<String> = event_kinds(&s, &subject.entity())
        .await
        .into_iter()
        .filter(|k| k.starts_with("statement.") || k.starts_with("comms."))
        .collect();
    assert_eq!(
        statement_events,
        vec![
            "comms.facts_updated",
            "statement.drafted",
            "statement.drafted",
            "statement.approved",
            "statement.edited",
            "statement.approved",
            "statement.approved",
            "statement.published"
        ]
    );
    chain_events(&s).await;
}

both!(comms_concurrent_decisions_of_one_role_on_one_version_record_one);
async fn comms_concurrent_decisions_of_one_role_on_one_version_record_one(kind: Kind) {
    let (s, db) = open!(kind);
    let case = comms_case(&s, "en", 1).await;
    let st = s
        .comms()
        .draft_statement(
            &SubjectRef::case(&case),
            TemplateKind::PublicStatement,
            None,
            &Actor("pat".into()),
        )
        .await
        .unwrap();
    // Two nodes (two stores on one database), several writers each.
    let other = db.reopen().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { s.clone() } else { other.clone() };
        let id = st.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .comms()
                .decide_statement(&id, Role::Pr, true, None, &Actor(format!("pr{i}")))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let after = s.comms().get_statement(&st.id).await.unwrap().unwrap();
    assert_eq!(after.approvals.len(), 1);
    let approved = event_kinds(&s, &format!("case:{case}"))
        .await
        .into_iter()
        .filter(|k| k == "statement.approved")
        .count();
    assert_eq!(approved, 1);
    chain_events(&s).await;
}

async fn regulator_clock(s: &Dyn, case: &str) -> firewatch_store::playbooks::ClockRecord {
    s.playbooks()
        .case_policy(case)
        .await
        .unwrap()
        .unwrap()
        .clocks
        .into_iter()
        .find(|c| c.kind == "regulator")
        .expect("a regulator clock")
}

both!(comms_a_submitted_notification_stops_the_regulator_clock_before_any_breach);
async fn comms_a_submitted_notification_stops_the_regulator_clock_before_any_breach(kind: Kind) {
    let (s, db) = open!(kind);
    let submitted = comms_case(&s, "fr", 1).await;
    let control = comms_case(&s, "fr", 2).await;
    assert_eq!(regulator_clock(&s, &submitted).await.state, "running");
    // Time passes: both deadlines are due (written behind the store's back).
    db.tamper("UPDATE clocks SET deadline = 1 WHERE kind = 'regulator'")
        .await;

    let c = s.comms();
    let sid = Actor("sid".into());
    let bad = c
        .mark_submitted(
            &SubjectRef::case(&submitted),
            NewNotification {
                regulator: "rapex".into(),
                reference: "x".into(),
                submitted_at_ms: None,
            },
            &sid,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal_slug(bad), "validation");
    // A French case's clock is the EU one: a CPSC submission is recorded, stops nothing.
    let other = c
        .mark_submitted(
            &SubjectRef::case(&submitted),
            NewNotification {
                regulator: "cpsc".into(),
                reference: "15B-9".into(),
                submitted_at_ms: None,
            },
            &sid,
        )
        .await
        .unwrap();
    assert!(other.clocks_stopped.is_empty());
    assert_eq!(regulator_clock(&s, &submitted).await.state, "running");
    let n = c
        .mark_submitted(
            &SubjectRef::case(&submitted),
            NewNotification {
                regulator: "eu_sbg".into(),
                reference: "SBG-1".into(),
                submitted_at_ms: Some(1_770_000_100_000),
            },
            &sid,
        )
        .await
        .unwrap();
    assert_eq!(n.clocks_stopped, vec!["regulator_report"]);
    assert_eq!(n.submitted_at_ms, 1_770_000_100_000);

    // (The cases were received months ago, so their other clocks breach too.)
    let breaches = s.playbooks().fire_breaches(100).await.unwrap();
    let regulator: Vec<&str> = breaches
        .iter()
        .filter(|b| b.clock == "regulator_report")
        .map(|b| b.case_id.as_str())
        .collect();
    assert_eq!(regulator, vec![control.as_str()], "{breaches:?}");
    assert_eq!(regulator_clock(&s, &submitted).await.state, "stopped");
    assert_eq!(regulator_clock(&s, &control).await.state, "breached");
    // Re-evaluating the case does not restart it.
    s.playbooks().evaluate_case(&submitted, &sid).await.unwrap();
    assert!(
        s.playbooks()
            .fire_breaches(100)
            .await
            .unwrap()
            .iter()
            .all(|b| b.clock != "regulator_report")
    );
    assert_eq!(regulator_clock(&s, &submitted).await.state, "stopped");

    let listed = c
        .list_notifications(&SubjectRef::case(&submitted))
        .await
        .unwrap();
    assert_eq!(listed, vec![other, n]);
    let ev = event_kinds(&s, &format!("case:{submitted}")).await;
    assert_eq!(
        ev.iter()
            .filter(|k| *k == "regulator.notification_submitted")
            .count(),
        2
    );
    assert_eq!(ev.iter().filter(|k| *k == "clocks.stopped").count(), 1);
    let regulator_breaches = s
        .list_events(&EventFilter {
            entity: Some(format!("case:{submitted}")),
            after_seq: 0,
            limit: 1000,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.kind == "clock.breached"
                && e.after
                    .as_deref()
                    .is_some_and(|a| a.contains("regulator_report"))
        })
        .count();
    assert_eq!(regulator_breaches, 0, "{ev:?}");
    chain_events(&s).await;
}

both!(comms_a_signal_gets_statements_exports_and_notifications_from_its_reports);
async fn comms_a_signal_gets_statements_exports_and_notifications_from_its_reports(kind: Kind) {
    let (s, _db) = open!(kind);
    let admin = Actor("root".into());
    s.upsert_products(
        vec![new_product("Acme", "X1", "phone", Some(799.0))],
        &admin,
    )
    .await
    .unwrap();
    s.upsert_exposure(
        vec![
            NewExposure {
                line: 1,
                brand: "Acme".into(),
                model: "X1".into(),
                market: "FR".into(),
                month: "2026-01".into(),
                units: 500,
            },
            NewExposure {
                line: 2,
                brand: "Acme".into(),
                model: "X1".into(),
                market: "FR".into(),
                month: "2026-02".into(),
                units: 250,
            },
        ],
        &admin,
    )
    .await
    .unwrap();
    // Two counted fire reports of the product.
    let mut cases = Vec::new();
    for n in 1..=2 {
        cases.push(comms_case(&s, "en", n).await);
    }
    let product_id = s.list_products().await.unwrap()[0].id;
    let signal = s
        .open_signal(
            NewSignal {
                product_id,
                hazard: "thermal.fire".into(),
                trigger: serde_json::json!({}),
                quiet_after_dismissal_ms: 0,
            },
            &Actor("system:signals".into()),
        )
        .await
        .unwrap()
        .expect("opened");
    let subject = SubjectRef::signal(&signal.id);
    let c = s.comms();
    let data = c.subject_data(&subject).await.unwrap();
    assert_eq!(data.reference, "SIG-000001");
    assert_eq!(data.reports.len(), 2, "both reports are linked");
    assert_eq!(data.units_by_market, vec![("FR".to_string(), 750)]);
    assert_eq!(data.category.as_deref(), Some("phone"));
    assert_eq!(data.price, Some((799.0, "EUR".to_string())));

    let st = c
        .draft_statement(
            &subject,
            TemplateKind::PublicStatement,
            None,
            &Actor("pat".into()),
        )
        .await
        .unwrap();
    assert_eq!(st.lang, Lang::En);
    assert!(st.body.contains("Acme X1"), "{}", st.body);
    assert_eq!(c.list_statements(&subject).await.unwrap(), vec![st.clone()]);
    assert_eq!(
        event_kinds(&s, &subject.entity())
            .await
            .last()
            .map(String::as_str),
        Some("statement.drafted")
    );
    let input = export_input(&data, "2026-03-01".parse().unwrap());
    assert_eq!(input.incidents.len(), 2);
    assert_eq!(
        input.aware_on,
        firewatch_store::comms::date_of_ms(signal.opened_at_ms)
    );
    c.record_export(&subject, "cpsc", "pdf", "abc123", &Actor("sid".into()))
        .await
        .unwrap();
    assert_eq!(
        event_kinds(&s, &subject.entity())
            .await
            .last()
            .map(String::as_str),
        Some("export.generated")
    );
    assert!(matches!(
        c.record_export(
            &SubjectRef::signal("nope"),
            "cpsc",
            "pdf",
            "abc",
            &Actor("sid".into())
        )
        .await,
        Err(StoreError::NotFound(_))
    ));

    // A signal has no clocks: the notification is recorded and stops nothing.
    let n = c
        .mark_submitted(
            &subject,
            NewNotification {
                regulator: "cpsc".into(),
                reference: "15B-1".into(),
                submitted_at_ms: None,
            },
            &Actor("sid".into()),
        )
        .await
        .unwrap();
    assert!(n.clocks_stopped.is_empty());
    assert_eq!(c.list_notifications(&subject).await.unwrap(), vec![n]);
    for case in &cases {
        let clocks = s
            .playbooks()
            .case_policy(case)
            .await
            .unwrap()
            .unwrap()
            .clocks;
        assert!(
            clocks
                .iter()
                .any(|c| c.kind == "regulator" && c.state == "running")
        );
    }
    chain_events(&s).await;
}

/// `migrate-data` copies the comms tables (foreign-key order: approvals after statements),
/// and the copied rows read back the same from PostgreSQL, identities continuing after
/// the copied ids.
#[tokio::test]
async fn comms_migrate_data_copies_the_comms_tables() {
    let Some((sqlite, db)) = open(Kind::Sqlite).await else {
        return;
    };
    let Some(cluster) = pgtest::cluster() else {
        return;
    };
    let url = cluster.fresh_database().await;
    let case = comms_case(&sqlite, "fr", 1).await;
    let subject = SubjectRef::case(&case);
    let (admin, pr) = (Actor("root".into()), Actor("pat".into()));
    let c = sqlite.comms();
    let base = firewatch_comms::builtin_template(TemplateKind::RecallNotice, Lang::Fr)
        .unwrap()
        .to_string();
    let t1 = c
        .put_template(TemplateKind::RecallNotice, Lang::Fr, base.clone(), &admin)
        .await
        .unwrap();
    c.put_profile(comms_profile(), &admin).await.unwrap();
    c.put_facts(&subject, clean_facts(), &pr).await.unwrap();
    let st = c
        .draft_statement(&subject, TemplateKind::RecallNotice, None, &pr)
        .await
        .unwrap();
    assert_eq!(st.template_id, Some(t1.id));
    c.decide_statement(&st.id, Role::Pr, true, None, &pr)
        .await
        .unwrap();
    let n = c
        .mark_submitted(
            &subject,
            NewNotification {
                regulator: "eu_sbg".into(),
                reference: "SBG-7".into(),
                submitted_at_ms: None,
            },
            &Actor("sid".into()),
        )
        .await
        .unwrap();

    let summary = firewatch_store::postgres::migrate_data::sqlite_to_postgres(
        &db.dir.path().join("fw.sqlite"),
        &url,
    )
    .await
    .unwrap();
    let position = |t: &str| {
        summary
            .tables
            .iter()
            .position(|(name, _)| name == t)
            .unwrap_or_else(|| panic!("{t} not copied: {summary:?}"))
    };
    let rows = |t: &str| summary.tables[position(t)].1;
    assert!(position("statement_approvals") > position("statements"));
    assert_eq!(
        [
            "comms_templates",
            "comms_settings",
            "comms_facts",
            "statements",
            "statement_approvals",
            "regulator_notifications"
        ]
        .map(rows),
        [1, 1, 1, 1, 1, 1]
    );

    let pg: Dyn = Arc::new(PgStore::open(&url).await.unwrap());
    let p = pg.comms();
    assert_eq!(
        p.get_statement(&st.id).await.unwrap(),
        c.get_statement(&st.id).await.unwrap()
    );
    assert_eq!(
        p.stored_templates().await.unwrap(),
        c.stored_templates().await.unwrap()
    );
    assert_eq!(p.profile().await.unwrap(), comms_profile());
    assert_eq!(p.facts(&subject).await.unwrap(), clean_facts());
    assert_eq!(p.list_notifications(&subject).await.unwrap(), vec![n]);
    chain_events(&pg).await;
    // New rows continue after the copied ids.
    let t2 = p
        .put_template(TemplateKind::RecallNotice, Lang::Fr, base, &admin)
        .await
        .unwrap();
    assert!(t2.id > t1.id);
    let approved = p
        .decide_statement(&st.id, Role::Hq, true, None, &Actor("hana".into()))
        .await
        .unwrap();
    assert_eq!(approved.approvals.len(), 2);
    assert!(approved.approvals[1].id > approved.approvals[0].id);
}

// ------------------------------------------------------------------ web UI (issue 7)

both!(the_queue_is_severity_then_nearest_clock_and_follows_clock_changes);
async fn the_queue_is_severity_then_nearest_clock_and_follows_clock_changes(kind: Kind) {
    let (store, db) = open!(kind);
    let a = created(store.intake(command(None, "first S2")).await.unwrap());
    let b = created(store.intake(command(None, "second S2")).await.unwrap());
    let mut s1 = command(None, "an S1");
    s1.severity = Severity::S1;
    let c = created(store.intake(s1).await.unwrap());
    let mut s3 = command(None, "an S3, closed");
    s3.severity = Severity::S3;
    let d = created(store.intake(s3).await.unwrap());
    store
        .transition_case(&d.case_id, CaseStatus::Closed, None, &Actor::cli())
        .await
        .unwrap();
    let running = |id: &str, deadline: i64| {
        format!(
            "INSERT INTO clocks (case_id, name, kind, basis, duration, pausable, calendar, rule_id, started_at, deadline, state, updated_at)
             VALUES ('{id}', 'ui-test', 'internal', 'calendar', 'PT1H', 0, 'default', 'test', 0, {deadline}, 'running', 0)
             ON CONFLICT (case_id, name) DO UPDATE SET deadline = excluded.deadline, state = 'running'"
        )
    };
    // The second S2 has the nearer clock: it goes first among the S2s although newer.
    db.tamper(&format!(
        "UPDATE clocks SET state = 'stopped'; {} ; {}",
        running(&a.case_id, 9_000),
        running(&b.case_id, 5_000)
    ))
    .await;
    let open = CaseFilter {
        open_only: true,
        limit: 10,
        ..CaseFilter::default()
    };
    let order = |rows: Vec<firewatch_store::ui::QueueRow>| {
        rows.into_iter()
            .map(|r| (r.case.id, r.next_deadline_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(store.ui().queue(&open).await.unwrap()),
        vec![
            (c.case_id.clone(), None),
            (b.case_id.clone(), Some(5_000)),
            (a.case_id.clone(), Some(9_000)),
        ]
    );
    // A clock change moves the case; a stopped clock no longer counts.
    db.tamper(&format!(
        "UPDATE clocks SET deadline = 1000 WHERE case_id = '{}'",
        a.case_id
    ))
    .await;
    db.tamper(&format!(
        "UPDATE clocks SET state = 'stopped' WHERE case_id = '{}'",
        b.case_id
    ))
    .await;
    assert_eq!(
        order(store.ui().queue(&open).await.unwrap()),
        vec![
            (c.case_id.clone(), None),
            (a.case_id.clone(), Some(1_000)),
            (b.case_id.clone(), None),
        ]
    );
    // Filters: severity; closed cases only when asked; an assignee's own cases.
    let s2 = CaseFilter {
        severity: Some(Severity::S2),
        ..open.clone()
    };
    assert_eq!(store.ui().queue(&s2).await.unwrap().len(), 2);
    let all = CaseFilter {
        open_only: false,
        ..open.clone()
    };
    assert_eq!(store.ui().queue(&all).await.unwrap().len(), 4);
    let closed = CaseFilter {
        status: Some(CaseStatus::Closed),
        ..all.clone()
    };
    assert_eq!(
        order(store.ui().queue(&closed).await.unwrap()),
        vec![(d.case_id.clone(), None)]
    );
    let closed_but_open_only = CaseFilter {
        status: Some(CaseStatus::Closed),
        ..open.clone()
    };
    assert!(
        store
            .ui()
            .queue(&closed_but_open_only)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .create_user("alice", Role::Agent, None, &Actor::cli())
        .await
        .unwrap();
    store
        .assign_case(&b.case_id, Some("alice".into()), &Actor::cli())
        .await
        .unwrap();
    let mine = CaseFilter {
        assignee: Some("alice".into()),
        ..open.clone()
    };
    assert_eq!(
        order(store.ui().queue(&mine).await.unwrap()),
        vec![(b.case_id.clone(), None)]
    );
    // Pages.
    let page2 = CaseFilter { offset: 2, ..open };
    assert_eq!(
        order(store.ui().queue(&page2).await.unwrap()),
        vec![(b.case_id, None)]
    );
}

both!(sessions_login_attempts_and_password_changes_are_stored_and_audited);
async fn sessions_login_attempts_and_password_changes_are_stored_and_audited(kind: Kind) {
    use firewatch_store::ui::NewSession;
    let (store, _db) = open!(kind);
    store
        .create_user("alice", Role::Agent, Some("old".into()), &Actor::cli())
        .await
        .unwrap();
    let new = |h: &str| NewSession {
        id_hash: h.to_string(),
        user: "alice".into(),
        csrf: format!("csrf-{h}"),
        lang: Some("fr".into()),
        address: "127.0.0.1".into(),
    };
    store.ui().create_session(new("h1")).await.unwrap();
    store.ui().create_session(new("h2")).await.unwrap();
    let s = store.ui().session("h1").await.unwrap().unwrap();
    assert_eq!(
        (s.user.name.as_str(), s.csrf.as_str(), s.lang.as_deref()),
        ("alice", "csrf-h1", Some("fr"))
    );
    assert!(store.ui().session("nope").await.unwrap().is_none());
    store
        .ui()
        .end_session("h1", "logout", &Actor("alice".into()))
        .await
        .unwrap();
    assert!(store.ui().session("h1").await.unwrap().is_none());
    // A session for an unknown user is refused.
    let mut ghost = new("h3");
    ghost.user = "ghost".into();
    assert!(store.ui().create_session(ghost).await.is_err());
    // Failures count per user (until a success) and per address.
    for _ in 0..3 {
        store
            .ui()
            .record_login("alice", "10.0.0.1", false)
            .await
            .unwrap();
    }
    store
        .ui()
        .record_login("bob", "10.0.0.1", false)
        .await
        .unwrap();
    let f = store
        .ui()
        .login_failures("alice", "10.0.0.1", 0)
        .await
        .unwrap();
    assert_eq!((f.by_user, f.by_address), (3, 4));
    store
        .ui()
        .record_login("alice", "10.0.0.2", true)
        .await
        .unwrap();
    let f = store
        .ui()
        .login_failures("alice", "10.0.0.2", 0)
        .await
        .unwrap();
    assert_eq!((f.by_user, f.by_address), (0, 0));
    // A new password ends the remaining session.
    store
        .ui()
        .set_password("alice", "new".into(), &Actor::cli())
        .await
        .unwrap();
    assert!(store.ui().session("h2").await.unwrap().is_none());
    assert_eq!(
        store
            .find_user("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("new")
    );
    assert!(
        store
            .ui()
            .set_password("ghost", "x".into(), &Actor::cli())
            .await
            .is_err()
    );
    let kinds: Vec<String> = store
        .list_events(&EventFilter {
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "session.created",
        "session.ended",
        "auth.login_failed",
        "auth.login",
        "user.password_set",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not audited: {kinds:?}");
    }
    assert!(store.verify_audit().await.is_ok());
}

/// PostgreSQL only: events a node committed but did not chain (it died in between) are
/// chained by another node's periodic pass.
#[tokio::test]
async fn postgres_chains_events_a_dead_node_left_queued() {
    let (store, db) = open!(Kind::Postgres);
    store.intake(command(None, "r0")).await.unwrap();
    db.tamper(
        "INSERT INTO event_queue (at, actor, kind, entity, before, after) VALUES (1, 'node-b', 'case.note_added', 'case:x', NULL, '{}')",
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let events = store
            .list_events(&EventFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        if events.len() == 3 {
            assert_eq!(events[2].actor, "node-b");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not chained within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(chain_events(&store).await, 3);
}

// The social watch's storage (moved here from sqlite/social.rs when the SQLite and
// PostgreSQL copies became one source, src/common/social.rs: it now runs on both).
use firewatch_store::social::{
    LinkPolicy, LinkReason, MentionFilter, NewEngagement, NewMention, SocialBatch,
};

fn social_mention(id: &str, author: &str, text: &str, hazard: &str) -> NewMention {
    let hazards = vec![ReceiptHazard {
        code: hazard.into(),
        modality: "occurred".into(),
    }];
    NewMention {
        post_id: id.into(),
        source: "bluesky".into(),
        native_id: None,
        author: author.into(),
        followers: Some(10),
        text: text.into(),
        url: None,
        lang: Some("en".into()),
        created_at_us: 1_767_000_000_000_000,
        fingerprint: "00".into(),
        product: ("Voltra".into(), "Note7 Pro".into()),
        hazards: hazards.clone(),
        intake: IntakeCommand {
            idempotency_key: Some(id.into()),
            request_hash: format!("h-{id}"),
            report: NewReport {
                narrative: text.into(),
                language: Some("en".into()),
                product: ProductDetails {
                    brand: Some("Voltra".into()),
                    model: Some("Note7 Pro".into()),
                    ..Default::default()
                },
                occurred_at: None,
                country: None,
                reporter: Reporter {
                    handle: Some(author.into()),
                    ..Default::default()
                },
                injuries: Default::default(),
                channel: Channel::Social,
            },
            hazards: vec![hazard.into()],
            reported_hazards: hazards,
            case_product: (Some("Voltra".into()), Some("Note7 Pro".into())),
            triage_json: "{}".into(),
            severity: Severity::S2,
            attachments: vec![],
            received_at_ms: 1_767_000_000_000,
            actor: Actor("test".into()),
        },
    }
}

fn social_batch(mentions: Vec<NewMention>, engagements: Vec<NewEngagement>) -> SocialBatch {
    SocialBatch {
        checkpoint: None,
        mentions,
        engagements,
        forecasts: vec![],
        link: LinkPolicy {
            window_ms: i64::MAX / 4,
            ..LinkPolicy::default()
        },
        actor: Actor("test".into()),
    }
}

fn social_eng(id: &str, post: &str) -> NewEngagement {
    NewEngagement {
        id: id.into(),
        post_id: post.into(),
        kind: "repost".into(),
        actor: None,
        followers: None,
        at_us: 1_767_000_001_000_000,
        amount: 1,
    }
}

both!(social_mentions_link_by_text_and_hazard_engagement_dedupes_and_escalation_happens_once);
async fn social_mentions_link_by_text_and_hazard_engagement_dedupes_and_escalation_happens_once(
    kind: Kind,
) {
    let (store, _db) = open!(kind);
    let text = "my voltra note7 pro caught fire on the charger";
    let out = store
        .social_ingest(social_batch(
            vec![social_mention("p1", "ann", text, "thermal.fire")],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(out.linked[0].reason, LinkReason::NewCase);
    let case = out.linked[0].case_id.clone();
    let c = store.get_case(&case).await.unwrap().unwrap();
    assert_eq!(c.channel, "social");
    // Similar text, same product and hazard: joins. Other hazard, or unrelated text: new cases.
    let out = store
        .social_ingest(social_batch(
            vec![
                social_mention(
                    "p2",
                    "bob",
                    "the voltra note7 pro caught fire on a charger",
                    "thermal.fire",
                ),
                social_mention(
                    "p3",
                    "cat",
                    "my voltra note7 pro caught fire on the charger",
                    "electrical.shock",
                ),
                social_mention(
                    "p4",
                    "dan",
                    "screen went black and it smells burnt",
                    "thermal.fire",
                ),
            ],
            vec![
                social_eng("r1", "p1"),
                social_eng("r1", "p1"),
                social_eng("r2", "unknown"),
            ],
        ))
        .await
        .unwrap();
    let by = |id: &str| out.linked.iter().find(|l| l.post_id == id).unwrap().clone();
    assert_eq!(
        (by("p2").case_id, by("p2").reason),
        (case.clone(), LinkReason::SimilarOpenCase)
    );
    assert_ne!(by("p3").case_id, case);
    assert_ne!(by("p4").case_id, case);
    assert_eq!(
        out.engagements_stored, 1,
        "the duplicate id and the unknown post are dropped"
    );
    // The same mention again is skipped (the post id is the key).
    let out = store
        .social_ingest(social_batch(
            vec![social_mention("p1", "ann", text, "thermal.fire")],
            vec![social_eng("r1", "p1")],
        ))
        .await
        .unwrap();
    assert!(out.linked.is_empty() && out.engagements_stored == 0);
    let first = store
        .escalate_case_for_mention(
            "p1",
            vec!["hq".into(), "pr".into()],
            serde_json::json!({"p": 0.9}),
            &Actor("t".into()),
        )
        .await
        .unwrap();
    assert_eq!(first.unwrap().case_id, case);
    let again = store
        .escalate_case_for_mention(
            "p1",
            vec!["hq".into()],
            serde_json::json!({}),
            &Actor("t".into()),
        )
        .await
        .unwrap();
    assert!(again.is_none());
    assert_eq!(store.case_escalations(&case).await.unwrap().len(), 1);
    let listed = store
        .list_mentions(&MentionFilter {
            case_id: Some(case.clone()),
            hazard: Some("thermal.fire".into()),
            product: Some("voltra note7 pro".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed
            .iter()
            .find(|m| m.post_id == "p1")
            .unwrap()
            .engagements,
        1
    );
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Ok { .. }
    ));
}

// A case names its product as the reporter typed it; the catalog matches brand and model
// ignoring case on both backends (SQLite: COLLATE NOCASE columns; PostgreSQL: lower()), so
// a case's statement data finds the catalog row and its exposure.
both!(comms_a_case_finds_its_catalog_product_whatever_the_case_of_brand_and_model);
async fn comms_a_case_finds_its_catalog_product_whatever_the_case_of_brand_and_model(kind: Kind) {
    let (s, _db) = open!(kind);
    let admin = Actor("root".into());
    s.upsert_products(
        vec![new_product("Acme", "X1", "phone", Some(799.0))],
        &admin,
    )
    .await
    .unwrap();
    s.upsert_exposure(
        vec![NewExposure {
            line: 1,
            brand: "Acme".into(),
            model: "X1".into(),
            market: "FR".into(),
            month: "2026-01".into(),
            units: 500,
        }],
        &admin,
    )
    .await
    .unwrap();
    let mut cmd = command(None, "my acme x1 caught fire");
    cmd.case_product = (Some("ACME".into()), Some("x1".into()));
    let case_id = created(s.intake(cmd).await.unwrap()).case_id;
    let data = s
        .comms()
        .subject_data(&SubjectRef::case(&case_id))
        .await
        .unwrap();
    assert_eq!(data.category.as_deref(), Some("phone"));
    assert_eq!(data.price, Some((799.0, "EUR".to_string())));
    assert_eq!(data.units_by_market, vec![("FR".to_string(), 500)]);
}

both!(intake_stores_attachments_and_the_key_and_a_replay_takes_no_case_number);
async fn intake_stores_attachments_and_the_key_and_a_replay_takes_no_case_number(kind: Kind) {
    let (store, _dir) = open!(kind);
    let mut cmd = command(Some("with-files"), "two photos of the charred plug");
    cmd.attachments = vec![
        NewAttachment {
            sha256: "a".repeat(64),
            clean_sha256: "b".repeat(64),
            media_type: "image/jpeg".into(),
            size: 1234,
            width: 640,
            height: 480,
            filename: Some("plug.jpg".into()),
        },
        NewAttachment {
            sha256: "c".repeat(64),
            clean_sha256: "d".repeat(64),
            media_type: "image/png".into(),
            size: 99,
            width: 10,
            height: 20,
            filename: None,
        },
    ];
    let first = created(store.intake(cmd.clone()).await.unwrap());
    assert_eq!(first.case_number, 1);
    assert_eq!(first.attachment_ids.len(), 2);
    let stored = store.report_attachments(&first.report_id).await.unwrap();
    let mut got: Vec<_> = stored
        .iter()
        .map(|a| {
            assert_eq!(a.report_id, first.report_id);
            assert_eq!(a.created_at_ms, cmd.received_at_ms);
            (
                a.id.clone(),
                a.sha256.clone(),
                a.media_type.clone(),
                a.size,
                a.width,
                a.height,
                a.filename.clone(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<_> = first
        .attachment_ids
        .iter()
        .zip(&cmd.attachments)
        .map(|(id, a)| {
            (
                id.clone(),
                a.sha256.clone(),
                a.media_type.clone(),
                a.size,
                a.width,
                a.height,
                a.filename.clone(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    let reports = store.case_reports(&first.case_id).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].id, first.report_id);
    assert_eq!(reports[0].idempotency_key.as_deref(), Some("with-files"));
    // The replay returns the stored receipt (with the attachment ids); neither it nor a
    // reused key takes a case number.
    assert_eq!(
        store.intake(cmd.clone()).await.unwrap(),
        IntakeOutcome::Replayed(first.clone())
    );
    let mut other = cmd.clone();
    other.request_hash = "another request".into();
    assert_eq!(store.intake(other).await.unwrap(), IntakeOutcome::KeyReused);
    let second = created(store.intake(command(Some("next"), "next")).await.unwrap());
    assert_eq!(second.case_number, 2);
    let opened = store
        .list_events(&EventFilter {
            entity: Some(format!("case:{}", first.case_id)),
            after_seq: 0,
            limit: 10,
        })
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "case.opened")
        .expect("case.opened");
    let after: serde_json::Value = serde_json::from_str(opened.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["attachments"], 2);
    assert_eq!(after["number"], 1);
    assert_eq!(after["report_id"], first.report_id.as_str());
    assert_eq!(chain_events(&store).await, 4);
}

both!(an_s1_intake_stores_its_escalation_tasks_clocks_notifications_and_policy);
async fn an_s1_intake_stores_its_escalation_tasks_clocks_notifications_and_policy(kind: Kind) {
    let (store, _dir) = open!(kind);
    let mut cmd = command(None, "it exploded");
    cmd.severity = Severity::S1;
    let r = created(store.intake(cmd.clone()).await.unwrap());
    let view = store
        .playbooks()
        .case_policy(&r.case_id)
        .await
        .unwrap()
        .expect("policy");
    let policy = view.policy.expect("case_policy row");
    assert_eq!(policy.level, "safety");
    assert!(policy.matched.contains(&"s1-critical".to_string()));
    let escalations: Vec<_> = view
        .escalations
        .iter()
        .map(|e| (e.from_level.as_str(), e.level.as_str(), e.cause.as_str()))
        .collect();
    assert_eq!(escalations, [("agent", "safety", "rule:s1-critical")]);
    let mut tasks: Vec<_> = view.tasks.iter().map(|t| t.task.as_str()).collect();
    tasks.sort();
    assert_eq!(
        tasks,
        ["device_retrieval", "regulator_report", "safety_review"]
    );
    let mut clocks: Vec<_> = view
        .clocks
        .iter()
        .map(|c| (c.name.as_str(), c.state.as_str()))
        .collect();
    clocks.sort();
    assert_eq!(
        clocks,
        [
            ("acknowledgement", "running"),
            ("first_customer_contact", "running"),
            ("regulator_report", "running"),
            ("resolution", "running"),
            ("safety_review", "running"),
        ]
    );
    // Three notifications of s1-critical's match, in the outbox for this case.
    let mut jobs: Vec<_> = store
        .playbooks()
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.case_id.as_deref() == Some(r.case_id.as_str()))
        .map(|j| (j.kind, j.target, j.state))
        .collect();
    jobs.sort();
    let want: Vec<(String, String, String)> = [
        ("email", "role:hq"),
        ("email", "role:safety"),
        ("webhook", "endpoint:default"),
    ]
    .iter()
    .map(|(k, t)| (k.to_string(), t.to_string(), "pending".to_string()))
    .collect();
    assert_eq!(jobs, want);
    assert_eq!(
        event_kinds(&store, &format!("case:{}", r.case_id)).await,
        ["case.opened", "case.policy_evaluated"]
    );
}

//! The store conformance suite. Every backend must pass the same assertions; today that is
//! SQLite (a fresh file per test). PostgreSQL joins when its store lands (issue 8).

use firewatch_domain::audit::ChainBreak;
use firewatch_domain::intake::{Channel, NewReport, ProductDetails, Reporter};
use firewatch_domain::{CaseStatus, InjuryLevel, Role, Severity};
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::*;

async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("fw.sqlite"))
        .await
        .unwrap();
    (store, dir)
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
        triage_json: "{}".into(),
        severity: Severity::S2,
        attachments: vec![],
        received_at_ms: 1_700_000_000_000,
        actor: Actor::public(),
    }
}

fn created(o: IntakeOutcome) -> IntakeReceipt {
    match o {
        IntakeOutcome::Created(r) => r,
        other => panic!("expected Created, got {other:?}"),
    }
}

#[tokio::test]
async fn intake_opens_a_case_and_the_same_key_replays_the_first_answer() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn concurrent_intakes_get_distinct_case_numbers_and_one_chain() {
    let (store, _dir) = sqlite().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.intake(command(Some(&format!("k{i}")), &format!("report {i}")))
                .await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(created(t.await.unwrap().unwrap()).case_number);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    // Each intake: case.opened and the playbook's case.policy_evaluated.
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Ok { events: 100 }
    );
}

#[tokio::test]
async fn transitions_follow_the_table_and_are_audited() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn a_failed_write_in_a_batch_leaves_the_others_and_the_chain_intact() {
    let (store, _dir) = sqlite().await;
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
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Ok { events: 6 }
    );
}

#[tokio::test]
async fn users_tokens_and_revocation() {
    let (store, _dir) = sqlite().await;
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

async fn tamper(dir: &tempfile::TempDir, sql: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.path().join("fw.sqlite").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
}

async fn store_with_events(n: usize) -> (SqliteStore, tempfile::TempDir) {
    let (store, dir) = sqlite().await;
    for i in 0..n {
        store.intake(command(None, &format!("r{i}"))).await.unwrap();
    }
    (store, dir)
}

#[tokio::test]
async fn audit_verify_names_an_edited_event() {
    let (store, dir) = store_with_events(5).await;
    tamper(&dir, "UPDATE events SET actor = 'mallory' WHERE seq = 3").await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Broken(ChainBreak::Edited { seq: 3 })
    );
}

#[tokio::test]
async fn audit_verify_names_a_deleted_event() {
    let (store, dir) = store_with_events(5).await;
    tamper(&dir, "DELETE FROM events WHERE seq = 2").await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerdict::Broken(ChainBreak::Gap {
            seq: 3,
            expected: 2
        })
    );
}

#[tokio::test]
async fn audit_verify_catches_reordered_events() {
    let (store, dir) = store_with_events(5).await;
    // Swap the contents of events 2 and 4, keeping sequence numbers.
    tamper(
        &dir,
        "UPDATE events SET seq = -2 WHERE seq = 2; UPDATE events SET seq = 2 WHERE seq = 4; UPDATE events SET seq = 4 WHERE seq = -2;",
    )
    .await;
    let v = store.verify_audit().await.unwrap();
    assert!(
        matches!(v, AuditVerdict::Broken(ChainBreak::Unlinked { seq: 2 })),
        "{v:?}"
    );
}

#[tokio::test]
async fn audit_verify_catches_a_removed_tail() {
    let (store, dir) = store_with_events(5).await;
    // Five intakes write ten events (case.opened, case.policy_evaluated).
    tamper(&dir, "DELETE FROM events WHERE seq = 10").await;
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

#[tokio::test]
async fn a_breach_fires_exactly_once_with_two_workers_on_one_database() {
    let (a, dir) = sqlite().await;
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
    let b = SqliteStore::open(&dir.path().join("fw.sqlite"))
        .await
        .unwrap();
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
    assert!(matches!(
        b.verify_audit().await.unwrap(),
        AuditVerdict::Ok { .. }
    ));
}

#[tokio::test]
async fn courtesy_clocks_pause_while_waiting_on_the_customer_and_regulator_clocks_do_not() {
    let (store, _dir) = sqlite().await;
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

#[tokio::test]
async fn a_reloaded_playbook_reschedules_running_clocks_and_an_invalid_one_changes_nothing() {
    let (store, dir) = sqlite().await;
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
    let other = SqliteStore::open(&dir.path().join("fw.sqlite"))
        .await
        .unwrap();
    assert_eq!(other.playbooks().active_playbook().version, 1);
    assert!(!other.playbooks().refresh_playbook().await.unwrap());
}

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

//! The viral S1 case of DESIGN section 1, as data: the customer's call, the agent's refused
//! 50% remedy, the post that goes viral, head office's later free remedy and statement.

use crate::calendar::{Month, offset_str, rfc3339_utc, unix_seconds};
use crate::photos::PhotoKind;
use crate::reports::{Draft, local_price};
use crate::{DemoReport, Truth, WorldConfig};
use firewatch_domain::{HazardCode as H, Modality};
use serde::Serialize;
use serde_json::{Value, json};

pub(crate) const CUSTOMER: &str = "Arjun Mehta";
pub(crate) const HANDLE: &str = "arjunmehta.bsky.social";
pub(crate) const MODEL: &str = "Note7 Pro";
/// Minutes from the call to the customer's post.
pub(crate) const POST_AFTER_MINUTES: i64 = 95;

/// A remedy of the story, in the API's proposal shape plus who proposes it and what the
/// default playbook is expected to answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryRemedy {
    /// refund | replacement | repair | discount | goodwill
    pub kind: String,
    pub customer_pays_percent: u8,
    pub note: String,
    /// The role that proposes it (agent, hq).
    pub proposed_by_role: String,
    /// Minutes after the customer's call.
    pub after_minutes: i64,
    /// What the default playbook should answer: `refused` (422) or `allowed` (201).
    pub expected: String,
}

impl StoryRemedy {
    /// The body of `POST /api/v1/cases/{id}/remedies`.
    pub fn proposal(&self) -> Value {
        json!({"kind": self.kind, "customer_pays_percent": self.customer_pays_percent, "note": self.note})
    }
}

/// One step of the story's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryStep {
    /// Minutes after the customer's call.
    pub after_minutes: i64,
    pub actor: String,
    pub what: String,
}

/// The viral case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryCase {
    /// Index of the customer's report in [`crate::World::reports`].
    pub report_index: usize,
    pub report: DemoReport,
    pub customer: String,
    /// The customer's social handle (author of the cascade's original post).
    pub handle: String,
    /// When the customer called, RFC 3339 UTC.
    pub called_at: String,
    /// When the original post went out (the cascade's time zero), RFC 3339 UTC.
    pub posted_at: String,
    /// Minutes from the call to the post.
    pub post_after_minutes: i64,
    /// The original post's id in `posts_jsonl`.
    pub root_post_id: String,
    /// First the agent's 50% paid replacement (refused), then head office's free replacement
    /// and goodwill gift.
    pub remedies: Vec<StoryRemedy>,
    pub timeline: Vec<StoryStep>,
    /// Head office's public statement.
    pub statement: String,
}

/// The call, in Unix seconds, for a world starting at `start`.
pub(crate) fn call_unix(config: &WorldConfig, start: Month) -> i64 {
    let month = start.plus(config.planted_start as i32);
    unix_seconds(month.date(14), 19 * 3600 + 40 * 60, 330)
}

/// The customer's report (entered by the agent during the call).
pub(crate) fn draft(config: &WorldConfig, start: Month) -> Draft {
    let month = start.plus(config.planted_start as i32);
    let date = month.date(14);
    let purchase = date.plus_days(-6);
    let (amount, currency) = local_price("IN", 599.0);
    let narrative = "Customer called the hotline, his words: My Voltra Note7 Pro is six days old. \
        Tonight it started smoking from the inside while I was holding it. I threw it onto my bag \
        and the battery exploded, and everything in the bag caught fire. I had to fetch the fire \
        extinguisher. My fingers are burned. I want to know what Voltra is going to do about this.";
    let intake = json!({
        "narrative": narrative,
        "language": "en",
        "product": {"brand": "Voltra", "model": MODEL, "purchase_date": purchase.to_string(),
                    "price": {"amount": amount, "currency": currency}},
        "occurred_at": format!("{date}T19:25:00{}", offset_str(330)),
        "country": "IN",
        "reporter": {"name": CUSTOMER, "email": "arjun.mehta@postbox.example",
                     "phone": "+91 555 014 2231", "handle": HANDLE},
        "injuries": "minor",
        "channel": "phone"
    });
    let unix = call_unix(config, start);
    Draft {
        unix: unix - 15 * 60,
        received_unix: unix,
        intake,
        truth: Truth {
            hazards: vec![
                (H::ThermalSmoke, Modality::Occurred),
                (H::ThermalExplosion, Modality::Occurred),
                (H::ThermalFire, Modality::Occurred),
                (H::DamageProperty, Modality::Occurred),
                (H::InjuryBurn, Modality::Occurred),
            ],
            product: ("Voltra".into(), MODEL.into()),
            is_safety: true,
            language: "en".into(),
        },
        market: "IN",
        month,
        photo_kinds: vec![PhotoKind::ScorchedPhone, PhotoKind::BurntBag],
        story: true,
    }
}

pub(crate) fn build(
    config: &WorldConfig,
    start: Month,
    reports: &[DemoReport],
    index: usize,
    root_post_id: String,
) -> StoryCase {
    let call = call_unix(config, start);
    let hq_at = POST_AFTER_MINUTES + (config.cascade_hours * 60.0 * 0.8) as i64;
    let step = |after_minutes: i64, actor: &str, what: &str| StoryStep {
        after_minutes,
        actor: actor.into(),
        what: what.into(),
    };
    StoryCase {
        report_index: index,
        report: reports[index].clone(),
        customer: CUSTOMER.into(),
        handle: HANDLE.into(),
        called_at: rfc3339_utc(call),
        posted_at: rfc3339_utc(call + POST_AFTER_MINUTES * 60),
        post_after_minutes: POST_AFTER_MINUTES,
        root_post_id,
        remedies: vec![
            StoryRemedy {
                kind: "replacement".into(),
                customer_pays_percent: 50,
                note: "Offered a new Note7 Pro if the customer pays half of its price.".into(),
                proposed_by_role: "agent".into(),
                after_minutes: 12,
                expected: "refused".into(),
            },
            StoryRemedy {
                kind: "replacement".into(),
                customer_pays_percent: 0,
                note: "New Note7 Pro shipped free of charge; the burnt unit is collected for analysis."
                    .into(),
                proposed_by_role: "hq".into(),
                after_minutes: hq_at,
                expected: "allowed".into(),
            },
            StoryRemedy {
                kind: "goodwill".into(),
                customer_pays_percent: 0,
                note: "A backpack as a gift, to replace the one that burned.".into(),
                proposed_by_role: "hq".into(),
                after_minutes: hq_at + 2,
                expected: "allowed".into(),
            },
        ],
        timeline: vec![
            step(0, "reporter", "The customer calls the hotline; the agent enters the report."),
            step(12, "agent", "The agent offers a replacement if the customer pays 50%."),
            step(POST_AFTER_MINUTES, "reporter", "The customer posts photos and the story."),
            step(POST_AFTER_MINUTES + 38, "press", "A tech journalist quotes the post."),
            step(POST_AFTER_MINUTES + 112, "press", "A news site runs the story."),
            step(hq_at, "hq", "Head office ships a free replacement and a backpack."),
            step(hq_at + 20, "pr", "Voltra says the matter was settled amicably."),
        ],
        statement: "We have been in touch with our customer and the matter has been settled \
            amicably. The safety of our customers is our highest priority."
            .into(),
    }
}

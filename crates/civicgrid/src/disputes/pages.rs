//! The mediation pages: `/disputes` (the reader's disputes, raising one), a dispute's page
//! (parties, timers, sessions, agreements, follow-ups, and a form for each next step) and
//! the printable agreement (调解协议书) with its SHA-256.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use civicgrid_domain::access::Permission;
use civicgrid_domain::dispute::{DisputeStatus, Risk, Term};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use serde_json::{Value, json};

use super::{DisputeStep, NewDispute, Party};
use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("disputes.html", include_str!("templates/disputes.html")),
    ("dispute.html", include_str!("templates/dispute.html")),
    ("agreement.html", include_str!("templates/agreement.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/disputes", get(list).post(raise))
        .route("/disputes/{number}", get(detail))
        .route("/disputes/{number}/act", post(act))
        .route("/disputes/{number}/agreements/{version}", get(agreement))
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    within: Option<String>,
    /// Raising a dispute from this case (its place is the dispute's).
    case: Option<String>,
}

/// The communities and streets whose disputes the reader sees, broadest first.
async fn scopes(app: &App, actor: &Actor) -> Result<Vec<(RegionCode, String)>, AppError> {
    let refs = app.reference().await?;
    let mut roots = refs
        .policy()
        .regions_with(actor, Permission::DisputeMediate);
    roots.extend(
        refs.policy()
            .regions_with(actor, Permission::DisputeApprove),
    );
    roots.sort();
    roots.dedup();
    Ok(roots
        .into_iter()
        .map(|r| {
            let name = refs.region_name(&r);
            (r, name)
        })
        .collect())
}

/// The last day of a period that ends at a midnight (what a resident calls "by the 14th").
fn last_day(ctx: &Ctx, end: jiff::Timestamp) -> String {
    let just_before = end - jiff::SignedDuration::from_secs(1);
    ctx.when(just_before)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn tier_name(ctx: &Ctx, tier: civicgrid_domain::dispute::Tier) -> String {
    ctx.t(&format!("dispute-tier-{}", tier.as_str()))
}

fn card(
    ctx: &Ctx,
    d: &civicgrid_store::DisputeRecord,
    kinds: &[civicgrid_store::DisputeKind],
    now: jiff::Timestamp,
) -> Value {
    let kind = kinds
        .iter()
        .find(|k| k.code == d.kind)
        .map(|k| {
            if ctx.lang == "en" {
                k.name_en.clone()
            } else {
                k.name_zh.clone()
            }
        })
        .unwrap_or_else(|| d.kind.clone());
    let overdue_follow_up = d
        .follow_ups
        .iter()
        .any(|f| f.done_at.is_none() && f.due <= now);
    json!({
        "number": d.public_id,
        "summary": d.summary,
        "kind": kind,
        "risk": ctx.t(&format!("dispute-risk-{}", d.risk.as_str())),
        "risk_code": d.risk.as_str(),
        "status": ctx.t(&format!("dispute-status-{}", d.state.status.as_str())),
        "status_code": d.state.status.as_str(),
        "tier": tier_name(ctx, d.state.tier),
        "raised": ctx.when(d.raised_at),
        "limit_due": last_day(ctx, d.limit_due),
        "alarm": d.state.alarm.map(|a| format!("{a:?}").to_lowercase()),
        "mediating": d.state.status == DisputeStatus::Mediating,
        "follow_up_due": overdue_follow_up,
        "repeat": d.repeat,
    })
}

async fn list(State(app): State<App>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let from_case = q
        .case
        .as_deref()
        .and_then(|c| c.parse::<uuid::Uuid>().ok())
        .map(|c| c.to_string());
    list_page(
        &app,
        &ctx,
        &actor,
        q.within.as_deref(),
        json!({"from_case": from_case}),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    within: Option<&str>,
    extra: Value,
    status: StatusCode,
) -> Response {
    let scopes = match scopes(app, actor).await {
        Ok(s) => s,
        Err(e) => return ctx.app_error(e),
    };
    let Some((first, _)) = scopes.first() else {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    };
    let within = match within.map(str::parse::<RegionCode>) {
        Some(Ok(r)) => r,
        Some(Err(_)) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        None => first.clone(),
    };
    let result = async {
        let list = app.disputes(actor, &within, false).await?;
        let kinds = app.dispute_kinds().await?;
        let refs = app.reference().await?;
        Ok::<_, AppError>((list, kinds, refs))
    }
    .await;
    let (list, kinds, refs) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let communities: Vec<Value> = refs
        .region_names
        .iter()
        .filter(|(c, _)| c.level() == RegionLevel::Community && within.contains(c))
        .map(|(c, n)| (c.as_str(), n))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .map(|(c, n)| json!({"code": c, "name": n}))
        .collect();
    let mut page = json!({
        "typed": {},
        "within": within.as_str(),
        "within_name": refs.region_name(&within),
        "scopes": scopes.iter().map(|(c, n)| json!({"code": c.as_str(), "name": n})).collect::<Vec<_>>(),
        "disputes": list.iter().map(|d| card(ctx, d, &kinds, app.clock.now())).collect::<Vec<_>>(),
        "open": list.iter().filter(|d| !d.state.status.is_closed()).count(),
        "kinds": kinds.iter().map(|k| json!({"code": k.code, "name": if ctx.lang == "en" { &k.name_en } else { &k.name_zh }})).collect::<Vec<_>>(),
        "communities": communities,
        "may_raise": app.reference().await.map(|r| r.policy().may_mediate(actor, &within, civicgrid_domain::dispute::Tier::Community).is_ok() || within.level() != RegionLevel::Community).unwrap_or(false),
    });
    if let (Some(p), Value::Object(e)) = (page.as_object_mut(), extra) {
        p.extend(e);
    }
    ctx.render_status(status, "disputes.html", page)
}

fn parties_from(f: &std::collections::HashMap<String, String>) -> Vec<Party> {
    let mut out = Vec::new();
    for side in ["applicant", "respondent"] {
        let name = f.get(&format!("{side}_name")).cloned().unwrap_or_default();
        let phone = f
            .get(&format!("{side}_phone"))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if !name.trim().is_empty() || phone.is_some() {
            out.push(Party {
                side: side.to_owned(),
                name,
                phone,
            });
        }
    }
    // More parties, one a line: side|name|phone.
    for line in f
        .get("more_parties")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
    {
        let mut parts = line.split(['|', '｜']).map(str::trim);
        let (Some(side), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        if side.is_empty() {
            continue;
        }
        let side = match side {
            "申请人" => "applicant",
            "被申请人" => "respondent",
            other => other,
        };
        out.push(Party {
            side: side.to_owned(),
            name: name.to_owned(),
            phone: parts.next().filter(|p| !p.is_empty()).map(str::to_owned),
        });
    }
    out
}

async fn raise(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    // Only mediators raise disputes: refused before anything typed is looked at.
    match scopes(&app, &actor).await {
        Ok(s) if !s.is_empty() => {}
        Ok(_) => return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden")),
        Err(e) => return ctx.app_error(e),
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let community = get("community").parse::<RegionCode>().ok();
    let new = NewDispute {
        community: community.clone(),
        grid: get("grid").parse().ok(),
        kind: get("kind"),
        risk: Risk::parse(&get("risk")).unwrap_or(Risk::Low),
        summary: get("summary"),
        parties: parties_from(&f),
        case: get("case").parse().ok(),
    };
    let within = get("within");
    match app.raise_dispute(&actor, new).await {
        Ok(d) => see_other(&format!("/disputes/{}", d.public_id)),
        Err(AppError::Unprocessable(fields)) => list_page(
            &app,
            &ctx,
            &actor,
            Some(within.as_str()).filter(|w| !w.is_empty()),
            json!({"error": problems_text(&ctx, &fields), "typed": {"summary": get("summary")}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await,
        Err(e) => ctx.app_error(e),
    }
}

/// Field problems as the page shows them: the field's label and what is wrong (the
/// problem's own words are English; a Chinese page names the fields).
fn problems_text(ctx: &Ctx, fields: &[(String, String)]) -> String {
    let names: Vec<String> = fields
        .iter()
        .map(|(f, m)| {
            let base = f.split(['[', '.']).next().unwrap_or(f);
            let label = ctx.t(&format!("dispute-field-{base}"));
            if ctx.lang == "en" {
                format!("{label}: {m}")
            } else {
                label
            }
        })
        .collect();
    format!("{} {}", ctx.t("dispute-check-fields"), names.join("；"))
}

async fn detail(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    detail_page(&app, &ctx, &actor, &number, json!({}), StatusCode::OK).await
}

async fn detail_page(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    number: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let result = async {
        let d = app.dispute_detail(actor, number).await?;
        let kinds = app.dispute_kinds().await?;
        let refs = app.reference().await?;
        let mediators = app
            .repo
            .mediators(d.dispute.state.tier.region_for(&d.dispute.region).as_str())
            .await?;
        Ok::<_, AppError>((d, kinds, refs, mediators))
    }
    .await;
    let (d, kinds, refs, mediators) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let r = &d.dispute;
    let s = &r.state;
    let policy = refs.policy();
    let may_mediate = policy.may_mediate(actor, &r.region, s.tier).is_ok();
    let may_approve = policy
        .may_approve_mediation(actor, &s.tier.region_for(&r.region))
        .is_ok();
    let latest = d.agreements.last();
    // The tier's registered mediators, else the one recording.
    let mut mediator_names: Vec<String> = mediators
        .iter()
        .filter(|m| m.tier == s.tier)
        .map(|m| m.name.clone())
        .collect();
    if mediator_names.is_empty() {
        mediator_names.push(
            ctx.display_name
                .clone()
                .unwrap_or_else(|| actor.name().to_owned()),
        );
    }
    let mut page = json!({
        "d": card(ctx, r, &kinds, app.clock.now()),
        "version": r.version,
        "community": refs.region_name(&r.region),
        "grid": r.grid.as_ref().map(|g| refs.place_name(g)),
        "channel": ctx.t(&format!("dispute-channel-{}", r.channel)),
        "case": r.case_id.map(|c| c.to_string()),
        "first_tier": tier_name(ctx, s.first_tier),
        "highest_tier": tier_name(ctx, s.highest_tier),
        "parties": d.parties.iter().map(|p| json!({"side": ctx.t(&format!("dispute-side-{}", p.side)), "name": p.name, "phone": p.phone})).collect::<Vec<_>>(),
        "party_names": d.parties.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "sessions": r.sessions.iter().zip(&d.records).map(|(x, rec)| json!({
            "seq": x.seq, "held": ctx.when(x.held_at), "place": x.place, "mediators": x.mediators.join("、"),
            "attended": rec.1.join("、"), "record": rec.0, "outcome": ctx.t(&format!("dispute-outcome-{}", x.outcome)),
        })).collect::<Vec<_>>(),
        "agreements": d.agreements.iter().map(|a| json!({
            "version": a.version, "sha256": a.sha256, "intact": a.intact,
            "signed": a.signed_at.map(|t| ctx.when(t)), "drafted": ctx.when(a.drafted_at),
        })).collect::<Vec<_>>(),
        "latest_version": latest.map(|a| a.version),
        "latest_signed": latest.is_some_and(|a| a.signed_at.is_some()),
        "latest_facts": latest.map(|a| a.content.facts.clone()),
        "latest_terms": latest.map(|a| a.content.terms.iter().map(|t| match t.due { Some(d) => format!("{} | {d}", t.text), None => t.text.clone() }).collect::<Vec<_>>().join("\n")),
        "oral_terms": d.oral_terms,
        "referral": s.referral.map(|x| ctx.t(&format!("dispute-referral-{}", x.as_str()))),
        "referral_note": r.referral_note,
        "follow_ups": r.follow_ups.iter().map(|f| json!({
            "due": last_day(ctx, f.due), "done": f.done_at.map(|t| ctx.when(t)), "performed": f.performed, "note": f.note,
            "late": f.done_at.is_none() && f.due <= app.clock.now(),
        })).collect::<Vec<_>>(),
        "confirmation_due": r.confirmation_due.map(|t| last_day(ctx, t)),
        "moved": s.escalations > 0 || s.first_tier != s.tier,
        "confirmation_applied": s.confirmation_applied,
        "events": d.events.iter().map(|e| {
            let action = serde_json::from_str::<Value>(&e.action).ok().and_then(|v| v["action"].as_str().map(str::to_owned)).unwrap_or_default();
            json!({"at": ctx.when(e.at), "actor": e.actor, "action": ctx.t(&format!("dispute-event-{action}")),
                   "note": match action.as_str() {
                       "record_oral_agreement" => String::new(),
                       "raise" => ctx.t(&format!("dispute-channel-{}", e.note)),
                       _ => e.note.clone(),
                   }})
        }).collect::<Vec<_>>(),
        "mediators": mediator_names,
        "may_mediate": may_mediate,
        "may_approve": may_approve,
        "mediating": s.status == DisputeStatus::Mediating,
        "agreed": s.status == DisputeStatus::Agreed,
        "not_performed": s.status == DisputeStatus::NotPerformed,
        "written": s.agreement == Some(civicgrid_domain::dispute::AgreementForm::Written),
        "has_session": s.sessions > 0,
        "may_escalate": s.tier.up().is_some(),
        "may_send_down": s.tier.down().is_some(),
        "now_local": app.clock.now().to_zoned(refs.calendar.time_zone().clone()).strftime("%Y-%m-%dT%H:%M").to_string(),
        "referrals": civicgrid_domain::dispute::Referral::ALL.iter().map(|x| json!({"code": x.as_str(), "name": ctx.t(&format!("dispute-referral-{}", x.as_str()))})).collect::<Vec<_>>(),
    });
    if let (Some(p), Value::Object(e)) = (page.as_object_mut(), extra) {
        p.extend(e);
    }
    ctx.render_status(status, "dispute.html", page)
}

/// Terms typed one a line, `text | YYYY-MM-DD` (the date optional).
fn terms_from(text: &str) -> Vec<Term> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.rsplit_once(['|', '｜']) {
            Some((t, d)) if d.trim().parse::<jiff::civil::Date>().is_ok() => Term {
                text: t.trim().to_owned(),
                due: d.trim().parse().ok(),
            },
            _ => Term {
                text: l.to_owned(),
                due: None,
            },
        })
        .collect()
}

async fn act(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let list = |k: &str| -> Vec<String> {
        get(k)
            .split(['、', ',', '，', '\n'])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let version: u64 = get("version").parse().unwrap_or(u64::MAX);
    let step = match get("step").as_str() {
        "session" => DisputeStep::Session {
            held_at: ctx
                .parse_local(&get("held_at"))
                .unwrap_or_else(|| app.clock.now()),
            place: get("place"),
            mediators: list("mediators"),
            attended: list("attended"),
            record: get("record"),
            outcome: get("outcome"),
        },
        "draft" => DisputeStep::Draft {
            facts: get("facts"),
            terms: terms_from(&get("terms")),
        },
        "sign" => DisputeStep::Sign {
            version: get("agreement").parse().unwrap_or(0),
            signed_by: f
                .iter()
                .filter(|(k, v)| k.starts_with("signed_") && v.as_str() == "on")
                .filter_map(|(k, _)| k.strip_prefix("signed_").map(str::to_owned))
                .collect(),
        },
        "follow_up" => DisputeStep::FollowUp {
            performed: get("performed") == "yes",
            note: get("note"),
        },
        other => match super::rest::action_step(
            other,
            get("reason"),
            get("days").parse().ok(),
            get("terms"),
            Some(get("referral").as_str()),
            get("note"),
        ) {
            Ok(s) => s,
            Err(_) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        },
    };
    match app.dispute_step(&actor, &number, version, step).await {
        Ok(_) => see_other(&format!("/disputes/{number}")),
        Err(AppError::Unprocessable(fields)) => {
            let error = problems_text(&ctx, &fields);
            detail_page(
                &app,
                &ctx,
                &actor,
                &number,
                json!({"error": error}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e @ (AppError::Conflict(_) | AppError::Stale { .. })) => {
            let error = match &e {
                AppError::Stale { .. } => ctx.t("err-stale"),
                AppError::Conflict(m) if ctx.lang == "en" => m.clone(),
                _ => ctx.t("dispute-not-now"),
            };
            detail_page(
                &app,
                &ctx,
                &actor,
                &number,
                json!({"error": error}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn agreement(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, version)): Path<(String, String)>,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let Ok(version) = version.parse::<u32>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let (d, a) = match app.agreement(&actor, &number, version).await {
        Ok(x) => x,
        Err(e) => return ctx.app_error(e),
    };
    let parties: Vec<Value> = a
        .content
        .parties
        .iter()
        .map(|p| json!({"side": if p.side == "applicant" { "申请人" } else { "被申请人" }, "name": p.name}))
        .collect();
    ctx.render(
        "agreement.html",
        json!({
            "number": d.public_id,
            "version": a.version,
            "committee": a.content.committee,
            "parties": parties,
            "facts": a.content.facts,
            "terms": a.content.terms.iter().map(|t| json!({"text": t.text, "due": t.due.map(|d| d.to_string())})).collect::<Vec<_>>(),
            "mediators": a.content.mediators.join("、"),
            "date": a.content.date.to_string(),
            "sha256": a.sha256,
            "intact": a.intact,
            "signed": a.signed_at.map(|t| ctx.when(t)),
            "signed_by": a.signed_by,
        }),
    )
}

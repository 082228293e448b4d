//! Accountability pages: `/accountability` (records and the proposal form, for officers and
//! leaders), `/accountability/{number}` (a record, its decision and the appeal), and the
//! public `/notices` (通报: approved records marked public).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use civicgrid_domain::accountability::{Grounds, Measure, RecordStatus};
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "accountability_list.html",
        include_str!("templates/accountability_list.html"),
    ),
    (
        "accountability_record.html",
        include_str!("templates/accountability_record.html"),
    ),
    ("notices.html", include_str!("templates/notices.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/accountability", get(list).post(propose))
        .route("/accountability/{number}", get(record).post(act))
        .route("/notices", get(notices))
}

async fn subject_name(app: &App, r: &super::Record) -> String {
    match &r.record.subject {
        civicgrid_domain::kpi::Subject::Unit(code) => match app.reference().await {
            Ok(reference) => reference.unit_name(code),
            Err(_) => code.clone(),
        },
        other => match app.repo.user(other.code()).await {
            Ok(Some(u)) => u.display_name,
            _ => other.code().to_owned(),
        },
    }
}

async fn record_json(app: &App, ctx: &Ctx, r: &super::Record) -> Value {
    json!({
        "number": r.record.number,
        "version": r.record.version,
        "measure": ctx.t(&format!("accountability-measure-{}", r.measure.as_str())),
        "subject": subject_name(app, r).await,
        "period": r.period_text,
        "points": r.record.points,
        "public": r.record.public,
        "facts": r.record.facts,
        "status": r.status.as_str(),
        "status_name": ctx.t(&format!("accountability-status-{}", r.status.as_str())),
        "proposed_by": r.record.proposed_by,
        "proposed_at": ctx.when(r.record.proposed_at),
        "decided_by": r.record.decided_by,
        "decided_at": r.record.decided_at.map(|t| ctx.when(t)),
        "decision_note": r.record.decision_note,
        "cases": r.grounds.cases.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "report": r.grounds.report.map(|c| c.to_string()),
        "kpi": r.grounds.kpi.as_ref().map(|k| ctx.t(&format!("accountability-kpi-{k}"))),
        "appeal": r.appeal.as_ref().map(|a| ctx.t(&format!("accountability-appeal-{}", a.status.as_str()))),
        "history": r.history.iter().map(|e| json!({"at": ctx.when(e.at), "actor": e.actor, "action": e.action, "note": e.note})).collect::<Vec<_>>(),
    })
}

async fn list_page(app: &App, ctx: &Ctx, status: StatusCode, error: Option<String>) -> Response {
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let records = match app.accountability_records_for(actor).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let mut rows = Vec::new();
    for r in &records {
        rows.push(record_json(app, ctx, r).await);
    }
    let measures: Vec<Value> = Measure::ALL
        .iter()
        .map(|m| json!({"code": m.as_str(), "name": ctx.t(&format!("accountability-measure-{}", m.as_str()))}))
        .collect();
    let units: Vec<Value> = match app.reference().await {
        Ok(r) => r
            .units
            .iter()
            .map(|u| json!({"code": u.code, "name": u.name}))
            .collect(),
        Err(e) => return ctx.app_error(e),
    };
    let may_propose = ctx
        .permissions
        .contains(&civicgrid_domain::access::Permission::AccountabilityPropose);
    ctx.render_status(
        status,
        "accountability_list.html",
        json!({"rows": rows, "measures": measures, "units": units, "may_propose": may_propose, "error": error}),
    )
}

async fn list(State(app): State<App>, ctx: Ctx) -> Response {
    list_page(&app, &ctx, StatusCode::OK, None).await
}

async fn propose(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let report = get("report");
    let cases: Vec<uuid::Uuid> = get("cases")
        .split([',', ' ', '\n'])
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let new = super::NewRecord {
        measure: get("measure"),
        subject_kind: get("subject_kind"),
        subject_code: get("subject_code"),
        period: get("period"),
        points: get("points").trim().parse().unwrap_or(f64::NAN),
        public: f.contains_key("public"),
        facts: get("facts"),
        grounds: Grounds {
            cases,
            report: report.trim().parse().ok(),
            kpi: Some(get("kpi")).filter(|k| !k.is_empty()),
        },
    };
    match app.propose_accountability(actor, new).await {
        Ok(r) => see_other(&format!("/accountability/{}", r.record.number)),
        Err(e @ AppError::Forbidden(_)) => ctx.app_error(e),
        Err(e) => {
            let message = if ctx.lang == "en" {
                crate::web::echo(&e.to_string())
            } else {
                ctx.t("accountability-err-form")
            };
            list_page(&app, &ctx, status_of(&e), Some(message)).await
        }
    }
}

async fn record_page(
    app: &App,
    ctx: &Ctx,
    number: u64,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let r = match app.accountability_record_for(actor, number).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let may_decide = r.status == RecordStatus::Proposed
        && ctx
            .permissions
            .contains(&civicgrid_domain::access::Permission::AccountabilityApprove)
        && r.record.proposed_by != actor.name();
    let may_appeal =
        r.status == RecordStatus::Approved && r.record.points > 0.0 && r.record.appeal_id.is_none();
    let record = record_json(app, ctx, &r).await;
    ctx.render_status(
        status,
        "accountability_record.html",
        json!({"r": record, "may_decide": may_decide, "may_appeal": may_appeal, "error": error}),
    )
}

fn number_of(ctx: &Ctx, n: &str) -> Result<u64, Box<Response>> {
    n.parse()
        .map_err(|_| Box::new(ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"))))
}

async fn record(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    match number_of(&ctx, &number) {
        Ok(n) => record_page(&app, &ctx, n, StatusCode::OK, None).await,
        Err(r) => *r,
    }
}

async fn act(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let n = match number_of(&ctx, &number) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let result = match get("step").as_str() {
        "approve" | "reject" => {
            let version = get("version").parse().unwrap_or_default();
            app.decide_accountability(actor, n, version, get("step") == "approve", &get("note"))
                .await
        }
        "appeal" => app.appeal_accountability(actor, n, &get("reason")).await,
        _ => Err(AppError::Unprocessable(vec![(
            "step".into(),
            "approve, reject or appeal".into(),
        )])),
    };
    match result {
        Ok(_) => see_other(&format!("/accountability/{n}")),
        Err(e @ (AppError::Forbidden(_) | AppError::NotFound(_))) => ctx.app_error(e),
        Err(e) => {
            let message = if ctx.lang == "en" {
                crate::web::echo(&e.to_string())
            } else {
                ctx.t("accountability-err-step")
            };
            record_page(&app, &ctx, n, status_of(&e), Some(message)).await
        }
    }
}

async fn notices(State(app): State<App>, ctx: Ctx) -> Response {
    let records = match app.accountability_notices().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let mut rows = Vec::new();
    for r in &records {
        rows.push(json!({
            "number": r.record.number,
            "measure": ctx.t(&format!("accountability-measure-{}", r.measure.as_str())),
            "subject": subject_name(&app, r).await,
            "period": r.period_text,
            "facts": r.record.facts,
            "decided_at": r.record.decided_at.map(|t| ctx.when(t)),
        }));
    }
    ctx.render("notices.html", json!({"rows": rows}))
}

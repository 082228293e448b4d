//! The OpenAPI document of REST v1: every route is in it, served, and described with its
//! request, its answer and its error responses.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::Value;

/// Every operation of REST v1 (and health). A route added without its `#[utoipa::path]`
/// cannot be registered (the router is built from the annotations); one added with it shows
/// up here and must be listed on purpose.
const OPERATIONS: &[&str] = &[
    "GET /api/v1/plans",
    "POST /api/v1/plans",
    "GET /api/v1/plans/{code}",
    "GET /api/v1/incidents",
    "POST /api/v1/incidents",
    "GET /api/v1/incidents/{id}",
    "POST /api/v1/incidents/{id}/level",
    "POST /api/v1/incidents/{id}/lift",
    "POST /api/v1/incidents/{id}/tasks/done",
    "POST /api/v1/incidents/{id}/grids/{grid}/acknowledge",
    "POST /api/v1/incidents/{id}/grids/{grid}/reports",
    "POST /api/v1/incidents/{id}/needs/{need}/case",
    "POST /api/v1/incidents/{id}/needs/{need}/volunteer-call",
    "POST /api/v1/incidents/{id}/needs/{need}/close",
    "POST /api/v1/incidents/{id}/sitreps",
    "GET /api/v1/incidents/{id}/record",
    "GET /api/v1/emergency/responses",
    "GET /api/v1/notifications",
    "POST /api/v1/notices",
    "GET /api/v1/upstream/links",
    "POST /api/v1/upstream/links/{case}/retry",
    "GET /api/v1/notices",
    "GET /api/v1/notifications/dead-letters",
    "POST /api/v1/notifications/dead-letters/{id}/retry",
    "POST /api/v1/notifications/dead-letters/{id}/discard",
    "GET /api/v1/notifications/templates",
    "PUT /api/v1/notifications/templates/{topic}/{language}",
    "DELETE /api/v1/notifications/templates/{topic}/{language}",
    "POST /api/v1/notifications/templates/{topic}/{language}/preview",
    "GET /api/v1/me/channels",
    "PUT /api/v1/me/channels",
    "GET /api/v1/lists/{kind}",
    "GET /api/v1/lists/{kind}/versions",
    "POST /api/v1/lists/{kind}/versions",
    "GET /api/v1/lists/{kind}/versions/{number}",
    "GET /api/v1/accountability",
    "POST /api/v1/accountability",
    "GET /api/v1/accountability/notices",
    "GET /api/v1/accountability/{number}",
    "POST /api/v1/accountability/{number}/decision",
    "POST /api/v1/accountability/{number}/appeal",
    "POST /api/v1/supervision/reports",
    "GET /api/v1/supervision/reports",
    "GET /api/v1/supervision/reports/{id}",
    "POST /api/v1/supervision/reports/{id}/steps",
    "GET /api/v1/supervision/reports/{id}/identity",
    "GET /api/v1/supervision/reports/{id}/files/{seq}",
    "POST /api/v1/supervision/follow-up",
    "POST /api/v1/supervision/follow-up/messages",
    "POST /api/v1/supervision/follow-up/files",
    "GET /healthz",
    "GET /readyz",
    "GET /api/v1/openapi.json",
    "POST /api/v1/cases",
    "GET /api/v1/cases",
    "GET /api/v1/cases/{id}",
    "GET /api/v1/cases/{id}/events",
    "GET /api/v1/cases/{id}/duplicates",
    "GET /api/v1/cases/{id}/category-suggestions",
    "GET /api/v1/hotspots",
    "GET /api/v1/cases/{id}/reporter",
    "POST /api/v1/cases/{id}/photos",
    "GET /api/v1/cases/{id}/photos",
    "GET /api/v1/cases/{id}/photos/{sha256}",
    "POST /api/v1/cases/{id}/actions/{action}",
    "GET /api/v1/track/{receipt}",
    "POST /api/v1/track/{receipt}/evaluation",
    "POST /api/v1/track/{receipt}/verification-code",
    "GET /api/v1/alerts",
    "GET /api/v1/kpi",
    "POST /api/v1/kpi/appeals",
    "GET /api/v1/kpi/appeals",
    "POST /api/v1/kpi/appeals/{id}/review",
    "POST /api/v1/kpi/appeals/{id}/decide",
    "POST /api/v1/surveys",
    "GET /api/v1/surveys/{id}",
    "POST /api/v1/surveys/{id}/responses",
    "POST /api/v1/session",
    "DELETE /api/v1/session",
    "GET /api/v1/organisations",
    "POST /api/v1/organisations",
    "POST /api/v1/organisations/import",
    "GET /api/v1/organisations/alliances",
    "POST /api/v1/organisations/alliances",
    "POST /api/v1/organisations/alliances/import",
    "GET /api/v1/members",
    "POST /api/v1/members",
    "GET /api/v1/members/{id}",
    "GET /api/v1/members/{id}/phone",
    "POST /api/v1/members/home-registration",
    "POST /api/v1/members/{id}/home-registration/decision",
    "GET /api/v1/households",
    "POST /api/v1/households",
    "POST /api/v1/households/import",
    "GET /api/v1/households/{id}",
    "GET /api/v1/households/{id}/contact",
    "POST /api/v1/households/assignments",
    "GET /api/v1/households/plans",
    "PUT /api/v1/households/plans",
    "GET /api/v1/visits",
    "POST /api/v1/visits",
    "POST /api/v1/visits/{id}/case",
    "POST /api/v1/wishes",
    "GET /api/v1/wishes",
    "GET /api/v1/wishes/{number}",
    "GET /api/v1/wishes/{number}/history",
    "POST /api/v1/wishes/{number}/claim",
    "POST /api/v1/wishes/{number}/release",
    "POST /api/v1/wishes/{number}/delivery",
    "POST /api/v1/wishes/{number}/confirmation",
    "POST /api/v1/wishes/{number}/withdrawal",
    "GET /api/v1/volunteers",
    "POST /api/v1/volunteers",
    "GET /api/v1/volunteers/{id}",
    "GET /api/v1/volunteers/{id}/phone",
    "GET /api/v1/volunteers/{id}/hours",
    "GET /api/v1/volunteers/hours",
    "POST /api/v1/volunteers/hours",
    "POST /api/v1/volunteers/hours/decisions",
    "GET /api/v1/activities",
    "POST /api/v1/activities",
    "GET /api/v1/activities/{id}",
    "POST /api/v1/activities/shifts/{shift}/signup",
    "DELETE /api/v1/activities/shifts/{shift}/signup",
    "POST /api/v1/activities/{id}/check-in",
    "POST /api/v1/activities/attendance",
    "GET /api/v1/topics",
    "POST /api/v1/topics",
    "GET /api/v1/topics/rules",
    "PUT /api/v1/topics/rules",
    "POST /api/v1/topics/household-keys",
    "GET /api/v1/topics/{number}",
    "GET /api/v1/topics/{number}/history",
    "POST /api/v1/topics/{number}/supports",
    "POST /api/v1/topics/{number}/withdrawal",
    "POST /api/v1/topics/{number}/schedule",
    "POST /api/v1/topics/{number}/opinions",
    "GET /api/v1/topics/{number}/opinions/{id}/photo",
    "POST /api/v1/topics/{number}/opinions/{id}/flags",
    "GET /api/v1/topics/{number}/opinions/{id}/moderation",
    "POST /api/v1/topics/{number}/opinions/{id}/moderation",
    "GET /api/v1/meetings",
    "POST /api/v1/meetings",
    "GET /api/v1/meetings/{number}",
    "GET /api/v1/meetings/{number}/history",
    "POST /api/v1/meetings/{number}/agenda",
    "POST /api/v1/meetings/{number}/answers",
    "POST /api/v1/meetings/{number}/attendance",
    "PUT /api/v1/meetings/{number}/minutes",
    "POST /api/v1/meetings/{number}/cancellation",
    "POST /api/v1/meetings/{number}/attachments",
    "GET /api/v1/meetings/{number}/attachments/{seq}",
    "POST /api/v1/meetings/{number}/decisions",
    "GET /api/v1/results",
    "POST /api/v1/results/import",
    "GET /api/v1/results/{number}",
    "POST /api/v1/results/{number}/milestones/{seq}/completion",
    "GET /api/v1/polls",
    "POST /api/v1/polls",
    "GET /api/v1/polls/{id}",
    "POST /api/v1/polls/{id}/codes",
    "POST /api/v1/polls/{id}/votes",
    "GET /api/v1/disputes",
    "POST /api/v1/disputes",
    "GET /api/v1/disputes/kinds",
    "PUT /api/v1/disputes/kinds/{code}",
    "GET /api/v1/disputes/mediators",
    "POST /api/v1/disputes/mediators",
    "DELETE /api/v1/disputes/mediators/{id}",
    "GET /api/v1/disputes/{number}",
    "POST /api/v1/disputes/{number}/sessions",
    "POST /api/v1/disputes/{number}/agreements",
    "GET /api/v1/disputes/{number}/agreements/{version}",
    "POST /api/v1/disputes/{number}/agreements/{version}/signatures",
    "POST /api/v1/disputes/{number}/follow-ups",
    "POST /api/v1/disputes/{number}/actions/{action}",
    "GET /api/v1/service-items",
    "GET /api/v1/service-items/{code}",
    "PUT /api/v1/service-items/{code}",
    "GET /api/v1/applications",
    "POST /api/v1/applications",
    "GET /api/v1/applications/{number}",
    "POST /api/v1/applications/{number}/status",
    "PUT /api/v1/applications/{number}/materials/{material}",
    "GET /api/v1/applications/{number}/files/{seq}",
    "POST /api/v1/applications/{number}/resubmission",
    "POST /api/v1/applications/{number}/evaluation",
    "POST /api/v1/applications/{number}/actions/{action}",
];

/// Operations anyone may call.
const PUBLIC: &[&str] = &[
    "GET /api/v1/lists/{kind}",
    "GET /api/v1/lists/{kind}/versions",
    "GET /api/v1/lists/{kind}/versions/{number}",
    "GET /api/v1/accountability/notices",
    "POST /api/v1/supervision/reports",
    "POST /api/v1/supervision/follow-up",
    "POST /api/v1/supervision/follow-up/messages",
    "POST /api/v1/supervision/follow-up/files",
    "GET /healthz",
    "GET /readyz",
    "GET /api/v1/openapi.json",
    "GET /api/v1/track/{receipt}",
    "POST /api/v1/track/{receipt}/evaluation",
    "POST /api/v1/track/{receipt}/verification-code",
    "POST /api/v1/session",
    "GET /api/v1/surveys/{id}",
    "POST /api/v1/surveys/{id}/responses",
    "GET /api/v1/wishes",
    "GET /api/v1/wishes/{number}",
    "POST /api/v1/wishes/{number}/confirmation",
    "GET /api/v1/activities",
    "GET /api/v1/activities/{id}",
    "GET /api/v1/topics",
    "GET /api/v1/topics/rules",
    "GET /api/v1/topics/{number}",
    "POST /api/v1/topics/{number}/supports",
    "GET /api/v1/meetings",
    "GET /api/v1/meetings/{number}/attachments/{seq}",
    "GET /api/v1/results",
    "GET /api/v1/results/{number}",
    "GET /api/v1/polls",
    "GET /api/v1/polls/{id}",
    "POST /api/v1/polls/{id}/votes",
    "GET /api/v1/disputes/kinds",
    "GET /api/v1/service-items",
    "GET /api/v1/service-items/{code}",
    "POST /api/v1/applications/{number}/status",
    "POST /api/v1/applications/{number}/resubmission",
    "POST /api/v1/applications/{number}/evaluation",
];

async fn served_document() -> Value {
    let t = super::support::TestApp::builder().build().await;
    let a = t.get("/api/v1/openapi.json").send().await;
    assert_eq!(a.status, StatusCode::OK);
    a.json()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            out.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_route_is_documented_with_its_shapes_and_errors() {
    let doc = served_document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    let documented: BTreeSet<String> = operations(&doc)
        .iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    let expected: BTreeSet<String> = OPERATIONS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(documented, expected);

    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        let responses = op["responses"].as_object().expect("responses");
        // An answer for success, with its shape (or none, for 204).
        let success: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(code, _)| code.starts_with('2'))
            .collect();
        assert!(!success.is_empty(), "{name}: no success response");
        for (code, r) in &success {
            if code.as_str() == "204" {
                assert!(r.get("content").is_none(), "{name}: 204 with a body");
                continue;
            }
            let content = r["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} {code}: no content"));
            for (media, c) in content {
                let schema = resolve(&doc, &c["schema"]);
                assert!(
                    schema.get("type").is_some() || schema.get("allOf").is_some(),
                    "{name} {code} {media}: no schema"
                );
            }
        }
        // Error answers: problem details, except the plain-text readiness probe.
        let errors: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(code, _)| code.starts_with('4') || code.starts_with('5'))
            .collect();
        if name != "GET /healthz" && name != "GET /api/v1/openapi.json" {
            assert!(!errors.is_empty(), "{name}: no error responses");
        }
        for (code, r) in &errors {
            if name == "GET /readyz" {
                continue;
            }
            assert_eq!(
                r["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{name} {code}"
            );
        }
        // Requests with a body say what it is.
        // (Taking a wish on, giving it back, signing up for a shift, marking a milestone done
        // and sending a dead letter again carry nothing.)
        let bodiless = [
            "POST /api/v1/wishes/{number}/claim",
            "POST /api/v1/wishes/{number}/release",
            "POST /api/v1/activities/shifts/{shift}/signup",
            "POST /api/v1/results/{number}/milestones/{seq}/completion",
            "POST /api/v1/notifications/dead-letters/{id}/retry",
            "POST /api/v1/track/{receipt}/verification-code",
            "POST /api/v1/upstream/links/{case}/retry",
            "POST /api/v1/incidents/{id}/grids/{grid}/acknowledge",
            "POST /api/v1/incidents/{id}/needs/{need}/case",
        ];
        if method == "POST" && !bodiless.contains(&name.as_str()) {
            assert!(
                op["requestBody"]["content"].is_object(),
                "{name}: no request body"
            );
        }
        // Who may call it.
        let security = op["security"].as_array().expect("security");
        let anonymous_allowed = security
            .iter()
            .any(|s| s.as_object().is_some_and(|o| o.is_empty()));
        let bearer = security.iter().any(|s| s.get("bearer").is_some());
        if PUBLIC.contains(&name.as_str()) {
            assert!(anonymous_allowed && !bearer, "{name}: public");
        } else {
            assert!(bearer, "{name}: needs a bearer credential");
            assert!(responses.contains_key("401"), "{name}: no 401");
        }
        if name.contains("{id}") {
            assert!(
                responses.contains_key("404"),
                "{name}: no 404 for an unknown case"
            );
        }
        if name.contains("/actions/") || name == "POST /api/v1/cases/{id}/photos" {
            for code in ["409", "412", "428"] {
                assert!(responses.contains_key(code), "{name}: no {code}");
            }
        }
    }
    // Every reference resolves.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r);
                }
                o.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "unresolved {r}"
        );
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(
            problem["required"]
                .as_array()
                .expect("required")
                .iter()
                .any(|f| f == field),
            "Problem.{field}"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let doc = served_document().await;
    let t = super::support::TestApp::builder().build().await;
    for (method, path, _) in operations(&doc) {
        let uri = path
            .replace("{id}", "01900000-0000-7000-8000-000000000000")
            .replace("{sha256}", "00")
            .replace("{action}", "accept")
            .replace("{receipt}", "ABCD-EFGH");
        let a = t.request(&method.to_uppercase(), &uri).send().await;
        let status = a.status;
        let bytes = a.body;
        let body = String::from_utf8_lossy(&bytes);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(
            !body.contains("no such endpoint"),
            "{method} {uri} is not routed"
        );
        assert!(
            !status.is_server_error() || path == "/readyz",
            "{method} {uri}: {status}"
        );
    }
}

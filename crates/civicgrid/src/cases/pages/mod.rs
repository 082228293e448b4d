//! The case loop's pages: the resident portal (report, receipt, track, evaluate, the public
//! list) and the staff workbench (queues, the case page, bulk dispatch, the grid worker's view).

pub mod finding;
pub mod resident;
pub mod staff;

use crate::web::Pages;

pub const TEMPLATES: &[(&str, &str)] = &[
    ("home.html", include_str!("templates/home.html")),
    ("report.html", include_str!("templates/report.html")),
    ("receipt.html", include_str!("templates/receipt.html")),
    ("track.html", include_str!("templates/track.html")),
    (
        "public_cases.html",
        include_str!("templates/public_cases.html"),
    ),
    ("work.html", include_str!("templates/work.html")),
    ("work_case.html", include_str!("templates/work_case.html")),
    ("field.html", include_str!("templates/field.html")),
    ("finding.html", include_str!("templates/finding.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .merge(resident::routes())
        .merge(staff::routes())
}

/// The likeliest categories for `text` as the pages show them (the report page and a reported
/// case's page); none if the model cannot answer (the page stands without them).
pub(crate) async fn suggested_categories(
    app: &crate::App,
    ctx: &crate::web::Ctx,
    text: &str,
) -> Vec<serde_json::Value> {
    app.suggest_categories("", text)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "code": s.category,
                "name": if ctx.lang == "en" { s.name_en } else { s.name_zh },
                "percent": format!("{:.0}", s.confidence * 100.0),
                "because": s.because.join("、"),
            })
        })
        .collect()
}

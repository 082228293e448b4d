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

//! The public responsibility list (责任清单): who must act on what, where.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::App;
use crate::web::Ctx;
use crate::web::Pages;

pub const TEMPLATES: &[(&str, &str)] = &[(
    "responsibility.html",
    include_str!("templates/responsibility.html"),
)];

pub fn routes() -> Pages {
    Pages::new().route("/responsibility", get(responsibility))
}

async fn responsibility(State(app): State<App>, ctx: Ctx) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let unit_name = |code: &str| reference.unit_name(code);
    // A condition as the category's attribute and value name it: 道路等级 = 主干道.
    let condition = |r: &civicgrid_domain::routing::ResponsibilityRule| {
        let c = r.condition.as_ref()?;
        let attribute = reference
            .category(&r.category)
            .and_then(|k| k.attributes.iter().find(|a| a.code == c.attribute));
        let value = attribute
            .and_then(|a| a.values.iter().find(|v| v.key == c.equals))
            .map_or_else(|| c.equals.clone(), |v| ctx.bilingual(&v.name));
        let name = attribute.map_or_else(|| c.attribute.clone(), |a| ctx.bilingual(&a.description));
        Some(format!("{name} = {value}"))
    };
    let rows: Vec<Value> = reference
        .rules
        .iter()
        .map(|r| {
            json!({
                "line": r.line,
                "category": r.category.as_str(),
                "category_name": reference.category(&r.category).map(|c| if ctx.lang == "en" { c.name_en.clone() } else { c.name_zh.clone() }),
                "region": reference.region_name(&r.region),
                "region_code": r.region.as_str(),
                "condition": condition(r),
                "basis": ctx.t(&format!("basis-{}", r.basis.as_str())),
                "primary": unit_name(&r.primary),
                "co_handlers": r.co_handlers.iter().map(|u| unit_name(u)).collect::<Vec<_>>(),
                "note": r.note,
            })
        })
        .collect();
    ctx.render("responsibility.html", json!({"rules": rows}))
}

//! Finding cases in a list: the filters (status, category, grid, unit, overdue, period), the
//! sort and the pages (50 a page) that the public list and every staff queue share, and the
//! choices their filter form offers, by name.

use civicgrid_domain::case::{Case, Status};
use civicgrid_domain::kpi::Period;
use serde_json::{Value, json};

use crate::reference::Reference;
use crate::web::Ctx;

/// Cases a page shows.
pub const PER_PAGE: usize = 50;

/// The filters of a case list, as the query string carries them; empty means no condition.
#[derive(serde::Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub grid: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub overdue: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: String,
    /// Words to search the cases' text for (every term must occur).
    #[serde(default)]
    pub q: String,
    /// The search's matches with their scores, set by `search` when `q` is given.
    #[serde(skip)]
    pub matches: Option<std::collections::HashMap<uuid::Uuid, f64>>,
}

/// One page of a filtered, sorted list.
pub struct Listing<'a> {
    pub cases: Vec<&'a Case>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// Filters that could not be read (an unknown status, a bad period), named for the form.
    pub problems: Vec<(&'static str, String)>,
}

impl ListQuery {
    /// Runs the text search `q` asks for over the cases' text, as `actor` may see it.
    pub async fn search(mut self, app: &crate::App, actor: &crate::cases::Actor) -> ListQuery {
        let q = self.q.trim();
        if q.is_empty() {
            return self;
        }
        let hits = app
            .search_cases(Some(actor), q, 1000)
            .await
            .unwrap_or_default();
        self.matches = Some(hits.into_iter().map(|h| (h.case.id, h.score)).collect());
        self
    }

    /// The public list's search: over what the public list shows — the public number, the
    /// category's names and the place — never the residents' text, which it does not show.
    pub fn search_public(mut self, cases: &[Case], reference: &Reference) -> ListQuery {
        use civicgrid_domain::text::search::{PlaceNames, document_postings, query_plan};
        let q = self.q.trim();
        if q.is_empty() {
            return self;
        }
        let none = PlaceNames::default();
        let plan = query_plan(q, &none);
        let matches = cases
            .iter()
            .filter_map(|c| {
                let category = c.category.as_ref().and_then(|k| {
                    reference
                        .categories
                        .iter()
                        .find(|x| &x.code == k)
                        .map(|x| format!("{} {}", x.name_zh, x.name_en))
                });
                let place = c.grid.as_ref().map(|g| reference.place_name(g));
                let text = format!(
                    "{} {} {}",
                    c.public_id,
                    category.unwrap_or_default(),
                    place.unwrap_or_default()
                );
                let (postings, _) = document_postings(&text, &none);
                let hits: u32 = plan
                    .iter()
                    .map(|t| {
                        postings
                            .binary_search_by(|(p, _)| p.cmp(t))
                            .map(|i| postings[i].1)
                            .unwrap_or(0)
                    })
                    .try_fold(0u32, |sum, n| (n > 0).then_some(sum + n))?;
                (!plan.is_empty()).then_some((c.id, f64::from(hits)))
            })
            .collect();
        self.matches = Some(matches);
        self
    }

    /// The cases that pass the filters, sorted, and the page asked for. `tz` reads the period.
    pub fn apply<'a>(
        &self,
        cases: &'a [Case],
        now: jiff::Timestamp,
        tz: &jiff::tz::TimeZone,
        ctx: &Ctx,
    ) -> Listing<'a> {
        let mut problems = Vec::new();
        let status = match self.status.as_str() {
            "" => None,
            "open" | "closed" => Some(None),
            s => match s.parse::<Status>() {
                Ok(st) => Some(Some(st)),
                Err(_) => {
                    problems.push(("status", ctx.t("err-choice")));
                    None
                }
            },
        };
        let period = match self.period.trim() {
            "" => None,
            p => match Period::parse(p) {
                Ok(period) => {
                    let at =
                        |d: jiff::civil::Date| d.to_zoned(tz.clone()).ok().map(|z| z.timestamp());
                    at(period.start).zip(at(period.end))
                }
                Err(_) => {
                    problems.push(("period", ctx.t("err-period")));
                    None
                }
            },
        };
        let overdue = !self.overdue.is_empty();
        let mut found: Vec<&Case> = cases
            .iter()
            .filter(|c| self.matches.as_ref().is_none_or(|m| m.contains_key(&c.id)))
            .filter(|c| match status {
                Some(Some(s)) => c.state.status == s,
                Some(None) if self.status == "open" => c.state.status.is_open(),
                Some(None) => !c.state.status.is_open(),
                None => true,
            })
            .filter(|c| {
                self.category.is_empty()
                    || c.category
                        .as_ref()
                        .is_some_and(|k| k.as_str().starts_with(self.category.as_str()))
            })
            .filter(|c| {
                self.grid.is_empty()
                    || c.grid
                        .as_ref()
                        .is_some_and(|g| g.as_str().starts_with(self.grid.as_str()))
            })
            .filter(|c| {
                self.unit.is_empty()
                    || c.state.units.contains(&self.unit)
                    || (c.state.units.is_empty() && c.routed_units.contains(&self.unit))
            })
            .filter(|c| {
                !overdue || (c.state.status.is_open() && c.clock.is_some_and(|k| k.due_at < now))
            })
            .filter(|c| period.is_none_or(|(from, to)| c.reported_at >= from && c.reported_at < to))
            .collect();
        match self.sort.as_str() {
            "oldest" => found.sort_by_key(|c| c.reported_at),
            // The most urgent first: the soonest deadline; cases without one last.
            "due" => found.sort_by_key(|c| {
                (
                    c.clock.filter(|_| c.state.status.is_open()).is_none(),
                    c.clock.map(|k| k.due_at),
                )
            }),
            "" if self.matches.is_some() => {
                let score = |c: &Case| self.matches.as_ref().and_then(|m| m.get(&c.id)).copied();
                found.sort_by(|a, b| {
                    score(b)
                        .unwrap_or(0.0)
                        .total_cmp(&score(a).unwrap_or(0.0))
                        .then(b.reported_at.cmp(&a.reported_at))
                });
            }
            _ => found.sort_by_key(|c| std::cmp::Reverse(c.reported_at)),
        }
        let total = found.len();
        let pages = total.div_ceil(PER_PAGE).max(1);
        let page = self.page.parse::<usize>().unwrap_or(1).clamp(1, pages);
        let cases = found
            .into_iter()
            .skip((page - 1) * PER_PAGE)
            .take(PER_PAGE)
            .collect();
        Listing {
            cases,
            total,
            page,
            pages,
            problems,
        }
    }

    /// The filters as the form shows them again.
    pub fn form_values(&self) -> Value {
        json!({
            "status": self.status,
            "category": self.category,
            "grid": self.grid,
            "unit": self.unit,
            "overdue": self.overdue,
            "period": self.period,
            "sort": self.sort,
            "q": self.q,
        })
    }

    /// The query string of this list at another page (for the pager's links).
    pub fn at_page(&self, base: &str, page: usize) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("status", &self.status),
            ("category", &self.category),
            ("grid", &self.grid),
            ("unit", &self.unit),
            ("overdue", &self.overdue),
            ("period", &self.period),
            ("sort", &self.sort),
            ("q", &self.q),
        ];
        pairs.retain(|(_, v)| !v.is_empty());
        let page = page.to_string();
        pairs.push(("page", &page));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::cases::pages::resident::urlencode(v)))
            .collect();
        let joiner = if base.contains('?') { '&' } else { '?' };
        format!("{base}{joiner}{}", query.join("&"))
    }
}

impl Listing<'_> {
    /// The pager for the template: where we are and the links either side.
    pub fn pager(&self, q: &ListQuery, base: &str) -> Value {
        json!({
            "page": self.page,
            "pages": self.pages,
            "total": self.total,
            "prev": (self.page > 1).then(|| q.at_page(base, self.page - 1)),
            "next": (self.page < self.pages).then(|| q.at_page(base, self.page + 1)),
        })
    }
}

/// The choices of the filter form, by name: statuses, categories, grids and units.
pub fn choices(ctx: &Ctx, reference: &Reference, with_units: bool) -> Value {
    let statuses: Vec<Value> = std::iter::once(json!({"value": "open", "name": ctx.t("filter-open")}))
        .chain(std::iter::once(json!({"value": "closed", "name": ctx.t("filter-finished")})))
        .chain(Status::ALL.iter().map(|s| {
            json!({"value": s.as_str(), "name": crate::cases::pages::resident::status_name(ctx, *s)})
        }))
        .collect();
    let categories: Vec<Value> = reference
        .categories
        .iter()
        .map(|c| {
            json!({
                "value": c.code.as_str(),
                "name": if ctx.lang == "en" { c.name_en.clone() } else { c.name_zh.clone() },
                "major": c.code.is_major(),
            })
        })
        .collect();
    let mut grids: Vec<(String, String)> = reference
        .grid_names
        .keys()
        .map(|g| (g.to_string(), reference.place_name(g)))
        .collect();
    grids.sort();
    let units: Vec<Value> = if with_units {
        reference
            .units
            .iter()
            .map(|u| json!({"value": u.code, "name": u.name}))
            .collect()
    } else {
        vec![]
    };
    json!({
        "statuses": statuses,
        "categories": categories,
        "grids": grids.iter().map(|(v, n)| json!({"value": v, "name": n})).collect::<Vec<_>>(),
        "units": units,
    })
}

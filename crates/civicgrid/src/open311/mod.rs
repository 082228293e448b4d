//! Open311 GeoReport v2 over the case loop: the catalogue as services, the loop's cases as
//! service requests, and POSTed requests through the same intake as REST v1 (routing,
//! duplicate suggestion, durable commit). Parameters arrive as the (name, value) pairs of the
//! query or form; answers are documents (`open311::wire`) the HTTP shell renders.
//!
//! The public id of a request (`service_request_id`) is the case's public number, which
//! grants nothing: the reporter's receipt code and secret appear only in the notice answering
//! the POST. A category of service type `batch` answers a POST with a token (the case id);
//! the public number is issued, and the request listed, once a call-taker has accepted or
//! refused the report.

pub mod rest;
pub mod wire;

use std::collections::BTreeMap;

use civicgrid_domain::case::{Case, Channel, Status};
use civicgrid_domain::catalogue::{AttributeType, CategoryCode, ServiceType, Stage};
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_store::CaseFilter;
use jiff::SignedDuration;
use uuid::Uuid;

use self::wire::{Document, Node};
use crate::App;
use crate::cases::Intake;
use crate::error::AppError;
use crate::reference::Reference;

/// The longest description the spec allows.
pub const MAX_DESCRIPTION: usize = 4000;
/// The spec's default and largest window of a request list.
pub const MAX_SPAN: SignedDuration = SignedDuration::from_hours(90 * 24);
/// The spec's default and largest page.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// When this implementation of the interface last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-11-25T00:00:00+08:00";

/// One jurisdiction this deployment answers for, and the region it covers (all, if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jurisdiction {
    pub id: String,
    pub region: Option<RegionCode>,
}

impl std::str::FromStr for Jurisdiction {
    type Err = String;
    /// `ID` or `ID=REGION_CODE`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, region) = match s.split_once('=') {
            Some((id, r)) => (
                id,
                Some(r.parse::<RegionCode>().map_err(|e| e.to_string())?),
            ),
            None => (s, None),
        };
        let ok = !id.is_empty()
            && id.len() <= 100
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !ok {
            return Err(format!(
                "jurisdiction id `{id}`: use letters, digits, '.', '-' or '_'"
            ));
        }
        Ok(Jurisdiction {
            id: id.to_owned(),
            region,
        })
    }
}

/// How this deployment presents itself over Open311.
#[derive(Debug, Clone)]
pub struct Open311Settings {
    /// With one, `jurisdiction_id` is optional; with several it is required.
    pub jurisdictions: Vec<Jurisdiction>,
    pub contact: String,
    pub key_service: String,
}

impl Default for Open311Settings {
    fn default() -> Self {
        Open311Settings {
            jurisdictions: vec![Jurisdiction {
                id: "civicgrid".into(),
                region: None,
            }],
            contact: "街道网格化服务管理中心 / the street's grid management centre".into(),
            key_service: "API keys are issued by the platform administrator: civicgrid apikey create --name APP (add --user USERNAME for a staff system such as a hotline)".into(),
        }
    }
}

/// An Open311 error: the status (403, 404, 400, 429 over a limit, or 503 when storage fails)
/// and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Error {
    pub status: u16,
    pub description: String,
    /// Seconds to wait, with 429.
    pub retry_after: Option<u64>,
}

impl Open311Error {
    pub fn bad(description: impl Into<String>) -> Self {
        Open311Error {
            status: 400,
            description: description.into(),
            retry_after: None,
        }
    }
    pub fn not_found(description: impl Into<String>) -> Self {
        Open311Error {
            status: 404,
            description: description.into(),
            retry_after: None,
        }
    }
    pub fn forbidden(description: impl Into<String>) -> Self {
        Open311Error {
            status: 403,
            description: description.into(),
            retry_after: None,
        }
    }
}

impl From<AppError> for Open311Error {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(_) => Open311Error::not_found(e.to_string()),
            AppError::Forbidden(_) => Open311Error::forbidden(e.to_string()),
            AppError::TooManyRequests { retry_after } => Open311Error {
                status: 429,
                description: e.to_string(),
                retry_after: Some(retry_after),
            },
            AppError::Store(_) | AppError::Io { .. } => {
                tracing::error!(error = %e, "open311 request failed");
                Open311Error {
                    status: 503,
                    description: "storage is unavailable; nothing was changed".into(),
                    retry_after: None,
                }
            }
            other => Open311Error::bad(other.to_string()),
        }
    }
}

type O311<T> = Result<T, Open311Error>;

/// The parameters of one call, by name; a name given twice is refused.
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> O311<Params> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if k.starts_with("attribute[") {
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(Open311Error::bad(format!("`{k}` is given more than once")));
            }
        }
        Ok(Params(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> O311<bool> {
        match self.get(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(v) => Err(Open311Error::bad(format!(
                "{name} must be true or false, not `{v}`"
            ))),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> O311<Option<T>> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| Open311Error::bad(format!("{name} must be a number, not `{v}`")))
            })
            .transpose()
    }
}

/// Markup in a description: `<` then a letter, `/` or `!`, up to a `>`. Reports are plain
/// text; markup is refused rather than stored for some page to render.
fn has_markup(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        if starts_tag && let Some(end) = after.find('>') {
            let tag = &rest[i..i + 1 + end + 1];
            if !tag[1..].contains('<') {
                return Some(tag);
            }
        }
        rest = after;
    }
    None
}

impl App {
    fn jurisdiction(&self, params: &Params) -> O311<&Jurisdiction> {
        let all = &self.open311.jurisdictions;
        match (params.get("jurisdiction_id"), all.as_slice()) {
            (None, [one]) => Ok(one),
            (None, _) => Err(Open311Error::bad(format!(
                "jurisdiction_id is required here; one of: {}",
                all.iter()
                    .map(|j| j.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            (Some(id), _) => all.iter().find(|j| j.id == id).ok_or_else(|| {
                Open311Error::not_found(format!("jurisdiction_id `{id}` is not served here"))
            }),
        }
    }

    async fn reference_311(&self) -> O311<std::sync::Arc<Reference>> {
        Ok(self.reference().await?)
    }

    /// GET services: every category a report can name (the minors), grouped by major class.
    pub async fn open311_services(&self, params: Params) -> O311<Document> {
        self.jurisdiction(&params)?;
        let reference = self.reference_311().await?;
        let services = reference
            .categories
            .iter()
            .filter(|c| !c.code.is_major())
            .map(|c| {
                let major = reference.category(&c.code.major());
                let group = major.map_or_else(|| c.code.major().to_string(), |m| m.name_zh.clone());
                Node::Record(vec![
                    ("service_code", Node::text(c.code.as_str())),
                    ("service_name", Node::text(&c.name_zh)),
                    (
                        "description",
                        Node::text(format!("{} / {}", c.name_zh, c.name_en)),
                    ),
                    ("metadata", Node::Bool(!c.attributes.is_empty())),
                    ("type", Node::text(c.service_type.as_str())),
                    (
                        "keywords",
                        Node::text(format!(
                            "{}, {}, {}, {}, {}",
                            c.code,
                            c.name_zh,
                            c.name_en,
                            c.code.major(),
                            group
                        )),
                    ),
                    ("group", Node::text(group)),
                ])
            })
            .collect();
        Ok(Document {
            root: "services",
            body: Node::List("service", services),
        })
    }

    /// GET services/{code}: the category's attributes as a service definition.
    pub async fn open311_definition(&self, code: &str, params: Params) -> O311<Document> {
        self.jurisdiction(&params)?;
        let reference = self.reference_311().await?;
        let category = code
            .parse::<CategoryCode>()
            .ok()
            .and_then(|c| reference.category(&c))
            .filter(|c| !c.code.is_major())
            .ok_or_else(|| Open311Error::not_found(format!("service_code `{code}` not found")))?;
        let mut attributes: Vec<_> = category.attributes.iter().collect();
        attributes.sort_by_key(|a| a.order);
        let attributes = attributes
            .into_iter()
            .map(|a| {
                let mut fields = vec![
                    ("variable", Node::Bool(true)),
                    ("code", Node::text(&a.code)),
                    ("datatype", Node::text(a.datatype.as_str())),
                    ("required", Node::Bool(a.required)),
                    (
                        "datatype_description",
                        Node::text(match a.datatype {
                            AttributeType::String => "text, at most 200 characters",
                            AttributeType::Text => "text, at most 5000 characters",
                            AttributeType::Number => "a number",
                            AttributeType::Datetime => "a W3C date-time",
                            AttributeType::SingleValueList => "one key of the values",
                            AttributeType::MultiValueList => "one or more keys of the values",
                        }),
                    ),
                    ("order", Node::Integer(i64::from(a.order))),
                    ("description", Node::text(&a.description)),
                ];
                if matches!(
                    a.datatype,
                    AttributeType::SingleValueList | AttributeType::MultiValueList
                ) {
                    fields.push((
                        "values",
                        Node::List(
                            "value",
                            a.values
                                .iter()
                                .map(|v| {
                                    Node::Record(vec![
                                        ("key", Node::text(&v.key)),
                                        ("name", Node::text(&v.name)),
                                    ])
                                })
                                .collect(),
                        ),
                    ));
                }
                Node::Record(fields)
            })
            .collect();
        Ok(Document {
            root: "service_definition",
            body: Node::Record(vec![
                ("service_code", Node::text(category.code.as_str())),
                ("attributes", Node::List("attribute", attributes)),
            ]),
        })
    }

    /// POST requests: a report through the same intake as REST v1. `form` holds every field
    /// of the body (and the query's, for `api_key` and `jurisdiction_id`).
    pub async fn open311_post(&self, form: Vec<(String, String)>) -> O311<Document> {
        let attributes = wire::attributes(&form).map_err(Open311Error::bad)?;
        let params = Params::new(form)?;
        let key = params
            .get("api_key")
            .ok_or_else(|| Open311Error::forbidden("api_key is required to create a request"))?;
        self.count_open311_post(key).await?;
        // A key of a staff account reports as that account (a hotline system); an unowned
        // key (a residents' app) reports as a resident.
        let actor = match self.authenticate_api_key(key).await? {
            Some(a) => a,
            None => {
                return Err(Open311Error::forbidden(
                    "invalid api_key: unknown, expired or revoked",
                ));
            }
        };
        let jurisdiction = self.jurisdiction(&params)?.clone();
        let reference = self.reference_311().await?;

        // Without a service code the request is taken by its words: it waits uncategorised
        // for a call-taker, who sees the likeliest categories.
        let category = params
            .get("service_code")
            .map(|code| {
                code.parse::<CategoryCode>()
                    .ok()
                    .and_then(|c| reference.category(&c))
                    .filter(|c| !c.code.is_major())
                    .cloned()
                    .ok_or_else(|| {
                        Open311Error::bad(format!("service_code `{code}` is not a service here"))
                    })
            })
            .transpose()?;
        let description = params.get("description").unwrap_or_default().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(Open311Error::bad(format!(
                "description is longer than {MAX_DESCRIPTION} characters"
            )));
        }
        if let Some(tag) = has_markup(&description) {
            return Err(Open311Error::bad(format!(
                "description contains markup ({tag}); send plain text"
            )));
        }
        // A report with attributes but no words still says something; the loop needs text.
        let description = match (&category, description.trim().is_empty()) {
            (Some(category), true) => category.name_zh.clone(),
            (None, true) => {
                return Err(Open311Error::bad(
                    "description is required when no service_code is given",
                ));
            }
            _ => description,
        };
        let location = match (params.number::<f64>("lat")?, params.number::<f64>("long")?) {
            (Some(lat), Some(lon)) => Some((lon, lat)),
            (None, None) => None,
            _ => return Err(Open311Error::bad("give both lat and long")),
        };
        let grid = params
            .get("address_id")
            .map(|id| {
                id.parse::<GridCode>()
                    .ok()
                    .filter(|g| reference.grid_regions.contains_key(g))
                    .ok_or_else(|| {
                        Open311Error::bad(format!(
                            "address_id `{id}` is not a grid code of this platform (15 digits)"
                        ))
                    })
            })
            .transpose()?;
        let address = params.get("address_string").map(str::to_owned);
        if location.is_none() && grid.is_none() && address.is_none() {
            return Err(Open311Error::bad(
                "a location is required: lat and long, address_string or address_id",
            ));
        }
        if let Some(url) = params.get("media_url") {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 1000
                && !url.contains(char::is_whitespace);
            if !ok {
                return Err(Open311Error::bad("media_url must be an http(s) URL"));
            }
        }
        let name = [params.get("first_name"), params.get("last_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let reporter = crate::cases::seal::Reporter {
            name: (!name.is_empty()).then_some(name),
            phone: params.get("phone").map(str::to_owned),
            email: params.get("email").map(str::to_owned),
            // An Open311 client gives the address for updates on the request.
            notify: None,
        };
        let intake = Intake {
            description,
            location,
            grid,
            address,
            category: category.as_ref().map(|c| c.code.clone()),
            attributes,
            priority: None,
            channel: Channel::Open311,
            reporter: (reporter != crate::cases::seal::Reporter::default()).then_some(reporter),
            media_url: params.get("media_url").map(str::to_owned),
        };
        let problems = self.intake_problems(&intake).await?;
        if !problems.is_empty() {
            let text = problems
                .iter()
                .map(|(f, m)| format!("{}: {m}", open311_field(f)))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Open311Error::bad(text));
        }
        if let (Some(region), Some((lon, lat))) = (&jurisdiction.region, location)
            && let Some(grid) = reference.grid_index.locate(lon, lat)
            && let Some(r) = reference.grid_regions.get(grid)
            && !region.contains(r)
        {
            return Err(Open311Error::bad(format!(
                "({lon}, {lat}) lies outside jurisdiction {}",
                jurisdiction.id
            )));
        }
        let crate::cases::Receipt { case, secret } =
            self.report_case_with_receipt(intake, &actor).await?;

        // The notice goes only to the client that posted: it carries the reporter's receipt
        // code and secret, which no other answer shows.
        let service_type = category
            .as_ref()
            .map_or(ServiceType::Batch, |c| c.service_type);
        let mut notice = match service_type {
            ServiceType::Realtime => format!(
                "已登记，受理编号 {r}，评价密码 {secret}（仅显示一次，请妥善保存）。\
                 Registered; receipt code {r}, evaluation secret {secret} (shown once; keep it).",
                r = case.receipt_code
            ),
            ServiceType::Batch => format!(
                "已收到，受理后公开编号；受理编号 {r}，评价密码 {secret}（仅显示一次，请妥善保存）。\
                 Received; a public number is issued once it is accepted. Receipt code {r}, \
                 evaluation secret {secret} (shown once; keep it).",
                r = case.receipt_code
            ),
        };
        match (&category, case.location) {
            (Some(category), Some(loc)) => {
                let nearby = self
                    .possible_duplicates(
                        &category.code,
                        loc,
                        case.reported_at,
                        50.0,
                        SignedDuration::from_hours(72),
                        Some(&case.id),
                    )
                    .await?;
                if !nearby.is_empty() {
                    notice.push_str(&format!(
                        " 附近已有同类未结案件 / open reports of this kind nearby: {}",
                        nearby
                            .iter()
                            .map(|(c, _)| c.public_id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            // The case is stored: a failing suggestion leaves it out rather than fail intake.
            (None, _) => match self.suggest_categories("", &case.description).await {
                Ok(found) if !found.is_empty() => notice.push_str(&format!(
                    " 分类待受理员确认，可能是 / the service is confirmed by a call-taker; likely: {}",
                    found
                        .iter()
                        .map(|s| format!("{} {} ({:.0}%)", s.category, s.name_zh, s.confidence * 100.0))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "category suggestions for an Open311 request"),
            },
            _ => {}
        }
        let id = match service_type {
            ServiceType::Realtime => ("service_request_id", Node::text(&case.public_id)),
            ServiceType::Batch => ("token", Node::text(case.id.to_string())),
        };
        Ok(Document {
            root: "service_requests",
            body: Node::List(
                "request",
                vec![Node::Record(vec![
                    id,
                    ("service_notice", Node::text(notice)),
                    ("account_id", Node::opt_text(params.get("account_id"))),
                ])],
            ),
        })
    }

    /// GET requests: by id (`service_request_id`, comma-separated, overriding the rest) or
    /// by service, status and time window (90 days at most), page by page.
    pub async fn open311_requests(&self, params: Params) -> O311<Document> {
        let jurisdiction = self.jurisdiction(&params)?.clone();
        let reference = self.reference_311().await?;
        let extended = params.flag("extended_statuses")?;
        let with_notes = params.flag("extensions")?;
        let page = params.number::<u32>("page")?.unwrap_or(1);
        let page_size = params.number::<u32>("page_size")?.unwrap_or(MAX_PAGE_SIZE);
        if page == 0 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Open311Error::bad(format!(
                "page starts at 1 and page_size is 1 to {MAX_PAGE_SIZE}"
            )));
        }
        let mut cases = Vec::new();
        if let Some(ids) = params.get("service_request_id") {
            for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if let Some(c) = self.open311_case(id, &reference).await? {
                    cases.push(c);
                }
            }
        } else {
            let tz = reference.calendar.time_zone();
            let date = |name: &str| {
                params
                    .get(name)
                    .map(|v| {
                        wire::parse_datetime(v, tz)
                            .map_err(|e| Open311Error::bad(format!("{name}: {e}")))
                    })
                    .transpose()
            };
            let (start, end) = match (date("start_date")?, date("end_date")?) {
                (Some(s), Some(e)) => (s, e),
                (Some(s), None) => (s, s + MAX_SPAN),
                (None, Some(e)) => (e - MAX_SPAN, e),
                (None, None) => {
                    let now = self.clock.now();
                    (now - MAX_SPAN, now)
                }
            };
            if end < start {
                return Err(Open311Error::bad("end_date is before start_date"));
            }
            if end.duration_since(start) > MAX_SPAN {
                return Err(Open311Error::bad(
                    "start_date and end_date may be at most 90 days apart",
                ));
            }
            let mut categories = Vec::new();
            for code in params
                .get("service_code")
                .into_iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let known = code
                    .parse::<CategoryCode>()
                    .ok()
                    .and_then(|c| reference.category(&c))
                    .is_some_and(|c| !c.code.is_major());
                if !known {
                    return Err(Open311Error::bad(format!(
                        "service_code `{code}` is not a service here"
                    )));
                }
                categories.push(code.to_owned());
            }
            let mut statuses = Vec::new();
            for word in params
                .get("status")
                .into_iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                statuses.extend(wire::statuses_for(&word.to_ascii_lowercase()).ok_or_else(
                    || {
                        Open311Error::bad(format!(
                            "status `{word}` is not one of {}",
                            wire::STATUS_WORDS.join(", ")
                        ))
                    },
                )?);
            }
            let filter = CaseFilter {
                within: jurisdiction.region.clone(),
                reported_from: Some(start),
                // end_date is the last instant to include; the filter's bound is exclusive.
                reported_to: Some(end + SignedDuration::from_micros(1)),
                categories,
                statuses,
                open311_batch_categories: reference
                    .categories
                    .iter()
                    .filter(|c| c.service_type == ServiceType::Batch)
                    .map(|c| c.code.to_string())
                    .collect(),
                offset: (page - 1).saturating_mul(page_size),
                limit: page_size,
                ..CaseFilter::default()
            };
            cases = self.list_cases(&filter).await?;
        }
        let mut requests = Vec::with_capacity(cases.len());
        for c in &cases {
            let events = if with_notes {
                Some(self.case_timeline(&c.id).await?)
            } else {
                None
            };
            requests.push(request_node(c, &reference, extended, events.as_deref()));
        }
        Ok(Document {
            root: "service_requests",
            body: Node::List("request", requests),
        })
    }

    /// GET requests/{id}: one request, with its public timeline as notes.
    pub async fn open311_request(&self, id: &str, params: Params) -> O311<Document> {
        self.jurisdiction(&params)?;
        let reference = self.reference_311().await?;
        let extended = params.flag("extended_statuses")?;
        let case = self.open311_case(id, &reference).await?.ok_or_else(|| {
            Open311Error::not_found(format!("service_request_id `{id}` not found"))
        })?;
        let events = self.case_timeline(&case.id).await?;
        Ok(Document {
            root: "service_requests",
            body: Node::List(
                "request",
                vec![request_node(&case, &reference, extended, Some(&events))],
            ),
        })
    }

    /// GET tokens/{token}: the request id once the report behind the token has one.
    pub async fn open311_token(&self, token: &str, params: Params) -> O311<Document> {
        self.jurisdiction(&params)?;
        let reference = self.reference_311().await?;
        let not_found = || Open311Error::not_found(format!("token `{token}` not found"));
        let id: Uuid = token.parse().map_err(|_| not_found())?;
        let case = match self.repo.case(&id).await.map_err(AppError::from)? {
            Some(c) if c.channel == Channel::Open311 && batch(&c, &reference) => c,
            _ => return Err(not_found()),
        };
        let issued = has_public_id(&case, &reference).then(|| case.public_id.clone());
        Ok(Document {
            root: "service_requests",
            body: Node::List(
                "request",
                vec![Node::Record(vec![
                    ("service_request_id", Node::opt_text(issued)),
                    ("token", Node::text(token)),
                ])],
            ),
        })
    }

    /// Discovery: where the endpoint is and what it speaks. `base` is the server's own URL.
    pub fn open311_discovery(&self, base: &str) -> Document {
        let settings = &self.open311;
        Document {
            root: "discovery",
            body: Node::Record(vec![
                ("changeset", Node::text(CHANGESET)),
                ("contact", Node::text(&settings.contact)),
                ("key_service", Node::text(&settings.key_service)),
                (
                    "endpoints",
                    Node::List(
                        "endpoint",
                        vec![Node::Record(vec![
                            (
                                "specification",
                                Node::text("http://wiki.open311.org/GeoReport_v2"),
                            ),
                            ("url", Node::text(format!("{base}/open311/v2"))),
                            ("changeset", Node::text(CHANGESET)),
                            ("type", Node::text("production")),
                            (
                                "formats",
                                Node::List(
                                    "format",
                                    vec![Node::text("text/xml"), Node::text("application/json")],
                                ),
                            ),
                        ])],
                    ),
                ),
            ]),
        }
    }

    /// A case by its public id, if it has one yet.
    async fn open311_case(&self, id: &str, reference: &Reference) -> O311<Option<Case>> {
        let Some(public_id) = civicgrid_domain::case::normalize_public_id(id) else {
            return Ok(None);
        };
        Ok(self
            .repo
            .case_by_public_id(&public_id)
            .await
            .map_err(AppError::from)?
            .filter(|c| has_public_id(c, reference)))
    }
}

/// A REST field name as an Open311 client knows it.
fn open311_field(field: &str) -> String {
    match field {
        "lon" => "long".to_owned(),
        "address" => "address_string".to_owned(),
        "grid" => "address_id".to_owned(),
        f => match f.strip_prefix("attributes.") {
            Some(code) => format!("attribute[{code}]"),
            None => f.to_owned(),
        },
    }
}

fn batch(case: &Case, reference: &Reference) -> bool {
    case.category
        .as_ref()
        .and_then(|c| reference.category(c))
        .is_some_and(|c| c.service_type == ServiceType::Batch)
}

/// A batch report posted over Open311 gets its public id when a call-taker decides on it.
fn has_public_id(case: &Case, reference: &Reference) -> bool {
    !(case.channel == Channel::Open311
        && batch(case, reference)
        && case.state.status == Status::Reported)
}

fn request_node(
    case: &Case,
    reference: &Reference,
    extended: bool,
    events: Option<&[civicgrid_store::CaseEvent]>,
) -> Node {
    let tz = reference.calendar.time_zone();
    let category = case.category.as_ref().and_then(|c| reference.category(c));
    let status = case.state.status;
    let unit_code = case
        .state
        .lead()
        .or_else(|| case.routed_units.first().map(String::as_str));
    let agency = unit_code.map(|code| {
        reference
            .units
            .iter()
            .find(|u| u.code == code)
            .map_or_else(|| code.to_owned(), |u| u.name.clone())
    });
    let status_notes = match &agency {
        Some(a) => format!("{}（{}）", status.name_zh(), a),
        None => status.name_zh().to_owned(),
    };
    let expected = case
        .clock
        .filter(|k| k.stage == Stage::Handle && status.is_open())
        .map(|k| Node::text(wire::datetime(k.due_at, tz)))
        .unwrap_or(Node::Null);
    let report = events.and_then(|e| e.first());
    let media_url = report
        .and_then(|e| e.payload.get("media_url"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut fields = vec![
        ("service_request_id", Node::text(&case.public_id)),
        (
            "status",
            Node::text(if extended {
                wire::extended_status(status)
            } else {
                wire::status(status)
            }),
        ),
        ("status_notes", Node::text(status_notes)),
        (
            "service_name",
            Node::opt_text(category.map(|c| c.name_zh.clone())),
        ),
        (
            "service_code",
            Node::opt_text(case.category.as_ref().map(|c| c.to_string())),
        ),
        ("description", Node::text(&case.description)),
        ("agency_responsible", Node::opt_text(agency)),
        ("service_notice", Node::Null),
        (
            "requested_datetime",
            Node::text(wire::datetime(case.reported_at, tz)),
        ),
        (
            "updated_datetime",
            Node::text(wire::datetime(case.updated_at, tz)),
        ),
        ("expected_datetime", expected),
        ("address", Node::opt_text(case.address.clone())),
        (
            "address_id",
            Node::opt_text(case.grid.as_ref().map(|g| g.to_string())),
        ),
        ("zipcode", Node::Null),
        (
            "lat",
            case.location.map_or(Node::Null, |l| Node::Number(l.1)),
        ),
        (
            "long",
            case.location.map_or(Node::Null, |l| Node::Number(l.0)),
        ),
        ("media_url", Node::opt_text(media_url)),
    ];
    if let Some(events) = events {
        fields.push((
            "notes",
            Node::List("note", events.iter().map(|e| note(e, tz)).collect()),
        ));
    }
    Node::Record(fields)
}

/// One event of the public timeline: when, what, and the stage it led to; no names.
fn note(e: &civicgrid_store::CaseEvent, tz: &jiff::tz::TimeZone) -> Node {
    let kind = match (e.from, e.to) {
        (None, _) => "opened",
        (Some(from), to) if from.is_open() && !to.is_open() => "closed",
        _ => "activity",
    };
    Node::Record(vec![
        ("datetime", Node::text(wire::datetime(e.at, tz))),
        (
            "summary",
            Node::text(format!("{}：{}", e.to.name_zh(), e.action)),
        ),
        ("type", Node::text(kind)),
        ("status", Node::text(wire::status(e.to))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_found_and_plain_comparisons_are_not() {
        assert_eq!(has_markup("井盖<b>丢失</b>"), Some("<b>"));
        assert_eq!(has_markup("<script>alert(1)</script>"), Some("<script>"));
        assert_eq!(has_markup("<!-- x -->"), Some("<!-- x -->"));
        assert_eq!(has_markup("温度<30度，噪音>70分贝"), None);
        assert_eq!(has_markup("a < b"), None);
        assert_eq!(has_markup("no tags"), None);
    }

    #[test]
    fn jurisdictions_parse() {
        let j: Jurisdiction = "nanshan.sz=440305".parse().expect("j");
        assert_eq!(j.id, "nanshan.sz");
        assert_eq!(j.region.map(|r| r.to_string()).as_deref(), Some("440305"));
        assert!("bad id".parse::<Jurisdiction>().is_err());
        assert!("x=12".parse::<Jurisdiction>().is_err());
    }
}

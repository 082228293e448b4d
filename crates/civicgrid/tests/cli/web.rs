//! The pages against the real router, in process: languages, CSRF, sessions, sign-in limits,
//! permissions, escaping, and bad input shown next to its field with what was typed kept.
//! (The whole loop in a real browser is `scripts/browser-test.sh`.)

use axum::http::StatusCode;
use civicgrid::App;

use super::support::{self, TestApp};

struct Web {
    t: TestApp,
    app: App,
}

/// A page's answer, as the tests read it.
struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

impl From<support::Answer> for Answer {
    fn from(a: support::Answer) -> Answer {
        Answer {
            status: a.status,
            cookies: a.cookies(),
            location: a.location().map(str::to_owned),
            body: a.text(),
        }
    }
}

impl Web {
    async fn new() -> Web {
        let t = TestApp::builder().demo(1).build().await;
        let app = t.app.clone();
        Web { t, app }
    }

    async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.t.get(path).cookie(cookie).send().await.into()
    }

    async fn post_form(&self, path: &str, cookie: &str, form: &str) -> Answer {
        self.t
            .post(path)
            .cookie(cookie)
            .form(form)
            .send()
            .await
            .into()
    }

    async fn post_multipart(&self, path: &str, cookie: &str, parts: &[(&str, Part)]) -> Answer {
        let boundary = "----civicgridtestboundary";
        let mut body: Vec<u8> = Vec::new();
        for (name, part) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match part {
                Part::Text(v) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{v}\r\n")
                            .as_bytes(),
                    );
                }
                Part::File(content_type, bytes) => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"p.png\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
                    );
                    body.extend_from_slice(bytes);
                    body.extend_from_slice(b"\r\n");
                }
            }
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.t
            .post(path)
            .cookie(cookie)
            .bytes(&format!("multipart/form-data; boundary={boundary}"), body)
            .send()
            .await
            .into()
    }

    /// A browser's first visit: the CSRF token its cookie carries.
    async fn token(&self) -> String {
        let first = self.get("/", "").await;
        first
            .cookies
            .iter()
            .find_map(|c| c.strip_prefix("cg_csrf="))
            .and_then(|c| c.split(';').next())
            .expect("a CSRF cookie")
            .to_owned()
    }

    async fn sign_in(&self, username: &str) -> String {
        let csrf = self.token().await;
        let cookie = format!("cg_csrf={csrf}");
        let a = self
            .post_form(
                "/login",
                &cookie,
                &format!("csrf={csrf}&username={username}&password=civicgrid-demo"),
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{username}: {}", a.body);
        let session = a
            .cookies
            .iter()
            .find(|c| c.starts_with("cg_session="))
            .expect("session cookie");
        let token = session
            .trim_start_matches("cg_session=")
            .split(';')
            .next()
            .expect("token");
        format!("cg_csrf={csrf}; cg_session={token}")
    }

    async fn cases(&self) -> usize {
        self.app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases")
            .len()
    }
}

enum Part {
    Text(String),
    File(&'static str, Vec<u8>),
}

fn text(s: &str) -> Part {
    Part::Text(s.to_owned())
}

fn csrf_of(cookie: &str) -> String {
    cookie
        .split(';')
        .find_map(|c| c.trim().strip_prefix("cg_csrf="))
        .expect("csrf")
        .to_owned()
}

#[tokio::test]
async fn pages_speak_chinese_by_default_and_english_when_chosen() {
    let web = Web::new().await;
    for page in [
        "/",
        "/report",
        "/report?category=01001",
        "/track",
        "/cases",
        "/responsibility",
        "/login",
    ] {
        let a = web.get(page, "").await;
        assert_eq!(a.status, StatusCode::OK, "{page}");
        assert!(a.body.contains("<html lang=\"zh-CN\">"), "{page}");
        assert!(
            !a.body.contains("http://") && !a.body.contains("https://"),
            "{page}: no outside resources"
        );
    }
    assert!(
        web.get("/report?category=01001", "")
            .await
            .body
            .contains("损坏情况")
    );
    let en = web.get("/", "cg_lang=en").await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Report a problem"));
    // The switch sets a lasting cookie and goes back to the page it was made on.
    let csrf = web.token().await;
    let a = web
        .post_form(
            "/lang",
            &format!("cg_csrf={csrf}"),
            &format!("csrf={csrf}&lang=en&back=/track"),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location.as_deref(), Some("/track"));
    assert!(
        a.cookies
            .iter()
            .any(|c| c.starts_with("cg_lang=en") && c.contains("Max-Age"))
    );
    // Not to another site.
    let a = web
        .post_form(
            "/lang",
            &format!("cg_csrf={csrf}"),
            &format!("csrf={csrf}&lang=en&back=//evil.example"),
        )
        .await;
    assert_eq!(a.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let web = Web::new().await;
    let before = web.cases().await;
    let csrf = web.token().await;
    let report = |token: &str| {
        vec![
            ("csrf", text(token)),
            ("category", text("01001")),
            ("attr_damage", text("missing")),
            ("description", text("井盖丢失")),
            ("lon", text("113.9171")),
            ("lat", text("22.5168")),
        ]
    };
    for (cookie, token) in [
        ("", ""),
        (format!("cg_csrf={csrf}").as_str(), "wrong"),
        ("cg_csrf=other", csrf.as_str()),
    ] {
        let a = web.post_multipart("/report", cookie, &report(token)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{cookie} / {token}");
    }
    let a = web
        .post_form("/login", "", "username=admin&password=civicgrid-demo")
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(web.cases().await, before);
    // With the token the same report goes in and gets a receipt.
    let a = web
        .post_multipart("/report", &format!("cg_csrf={csrf}"), &report(&csrf))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert!(
        a.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/receipt/"))
    );
    assert_eq!(web.cases().await, before + 1);
    // The cookie itself: HttpOnly and SameSite, Secure behind TLS.
    let first = web.get("/", "").await;
    let c = first
        .cookies
        .iter()
        .find(|c| c.starts_with("cg_csrf="))
        .expect("cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
    let tls: Answer = web
        .t
        .get("/")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .into();
    assert!(
        tls.cookies
            .iter()
            .any(|c| c.starts_with("cg_csrf=") && c.contains("Secure"))
    );
}

#[tokio::test]
async fn bad_report_input_is_shown_next_to_its_field_in_the_users_language_and_kept() {
    let web = Web::new().await;
    let before = web.cases().await;
    let csrf = web.token().await;
    for (lang, required, number) in [
        ("zh-CN", "必填", "请填写数字"),
        ("en", "Required.", "Enter a number."),
    ] {
        let cookie = format!("cg_csrf={csrf}; cg_lang={lang}");
        let a = web
            .post_multipart(
                "/report",
                &cookie,
                &[
                    ("csrf", text(&csrf)),
                    ("category", text("09001")),
                    ("attr_parties", text("很多")),
                    ("description", text("")),
                    ("lon", text("东经113")),
                    ("lat", text("22.5")),
                    ("address", text("安乐社区<b>3号楼</b>")),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            a.body.contains(&format!(
                "id=\"description-error\" role=\"alert\">{required}"
            )),
            "{lang}"
        );
        assert!(
            a.body
                .contains(&format!("id=\"lon-error\" role=\"alert\">{number}")),
            "{lang}"
        );
        assert!(
            a.body
                .contains("aria-invalid=\"true\" aria-describedby=\"lon-error\"")
        );
        // What was typed comes back, escaped.
        assert!(a.body.contains("value=\"东经113\""));
        assert!(a.body.contains("value=\"很多\""));
        assert!(a.body.contains("安乐社区&lt;b&gt;3号楼&lt;&#x2f;b&gt;"));
        assert!(!a.body.contains("<b>3号楼"));
    }
    // A photo over 10 MiB is named at the photo field.
    let cookie = format!("cg_csrf={csrf}");
    let mut big = vec![0x89, b'P', b'N', b'G'];
    big.resize(10 * 1024 * 1024 + 10, 0);
    let a = web
        .post_multipart(
            "/report",
            &cookie,
            &[
                ("csrf", text(&csrf)),
                ("category", text("01001")),
                ("attr_damage", text("missing")),
                ("description", text("井盖丢失")),
                ("lon", text("113.9171")),
                ("lat", text("22.5168")),
                ("photos", Part::File("image/png", big)),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body
            .contains("id=\"photos-error\" role=\"alert\">照片太大")
    );
    assert!(a.body.contains("井盖丢失"), "the description is kept");
    // Not an image at all.
    let a = web
        .post_multipart(
            "/report",
            &cookie,
            &[
                ("csrf", text(&csrf)),
                ("category", text("01001")),
                ("attr_damage", text("missing")),
                ("description", text("井盖丢失")),
                ("lon", text("113.9171")),
                ("lat", text("22.5168")),
                ("photos", Part::File("text/html", b"<script>".to_vec())),
            ],
        )
        .await;
    assert!(a.body.contains("id=\"photos-error\" role=\"alert\">只支持"));
    assert_eq!(web.cases().await, before, "nothing was stored");
}

#[tokio::test]
async fn sign_in_is_rate_limited_sessions_end_and_roles_see_only_their_pages() {
    let web = Web::new().await;
    let csrf = web.token().await;
    let cookie = format!("cg_csrf={csrf}");
    for _ in 0..5 {
        let a = web
            .post_form(
                "/login",
                &cookie,
                &format!("csrf={csrf}&username=dispatcher.st2&password=guess"),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(
            a.body.contains("value=\"dispatcher.st2\""),
            "the username is kept"
        );
    }
    let a = web
        .post_form(
            "/login",
            &cookie,
            &format!("csrf={csrf}&username=dispatcher.st2&password=civicgrid-demo"),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );

    // Anonymous: the workbench asks to sign in.
    assert_eq!(
        web.get("/work", "").await.location.as_deref(),
        Some("/login")
    );
    let handler = web.sign_in("handler.swjt").await;
    let login = web.get("/work", &handler).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        !login.body.contains("href=\"/admin\""),
        "no admin link for a handler"
    );
    assert_eq!(
        web.get("/admin", &handler).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        web.get("/dashboard", &handler).await.status,
        StatusCode::FORBIDDEN
    );
    let admin = web.sign_in("admin").await;
    assert_eq!(web.get("/admin", &admin).await.status, StatusCode::OK);
    // Signing out ends the session.
    let out = web
        .post_form("/logout", &handler, &format!("csrf={}", csrf_of(&handler)))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        web.get("/work", &handler).await.location.as_deref(),
        Some("/login")
    );
}

#[tokio::test]
async fn the_case_page_offers_only_permitted_actions_escapes_text_and_refuses_the_rest() {
    let web = Web::new().await;
    let csrf = web.token().await;
    let a = web
        .post_multipart(
            "/report",
            &format!("cg_csrf={csrf}"),
            &[
                ("csrf", text(&csrf)),
                ("category", text("01001")),
                ("attr_damage", text("missing")),
                ("description", text("<script>alert('x')</script>井盖丢失")),
                ("lon", text("113.9171")),
                ("lat", text("22.5168")),
            ],
        )
        .await;
    let receipt = a
        .location
        .expect("receipt")
        .trim_start_matches("/receipt/")
        .to_owned();
    let case = web
        .app
        .repo
        .case_by_receipt(&receipt)
        .await
        .expect("read")
        .expect("case");
    let taker = web.sign_in("calltaker1").await;
    let page = web.get(&format!("/work/case/{}", case.id), &taker).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;井盖丢失")
    );
    // Why it went where it went, in Chinese, with names: no rule number, no English.
    assert!(case.routing.starts_with("rule "), "{}", case.routing);
    let routing = page
        .body
        .split("class=\"routing\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("the routing paragraph");
    assert!(routing.starts_with("按责任清单"), "{routing}");
    assert!(
        routing.contains("井盖") && routing.contains("部件先属主后属地"),
        "{routing}"
    );
    assert!(
        !routing.chars().any(|c| c.is_ascii_alphabetic()) && !routing.contains("rule"),
        "{routing}"
    );
    // The timeline names the public in Chinese too (accounts keep their names).
    assert!(
        !page.body.contains(" resident"),
        "an English actor on the Chinese page"
    );
    assert!(page.body.contains("居民"));
    assert!(!page.body.contains("<script>alert"));
    assert!(page.body.contains("id=\"do-accept\""));
    assert!(
        !page.body.contains("id=\"do-dispatch\""),
        "a call-taker does not dispatch"
    );
    // A handler may not accept, whatever the form says; nothing changes.
    let handler = web.sign_in("handler.swjt").await;
    let refused = web
        .post_multipart(
            &format!("/work/case/{}/act", case.id),
            &handler,
            &[
                ("csrf", text(&csrf_of(&handler))),
                ("version", text("1")),
                ("action", text("accept")),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        web.app
            .get_case(&case.id)
            .await
            .expect("case")
            .state
            .version,
        case.state.version
    );
    // A stale version is refused too; the right one goes through.
    let stale = web
        .post_multipart(
            &format!("/work/case/{}/act", case.id),
            &taker,
            &[
                ("csrf", text(&csrf_of(&taker))),
                ("version", text("7")),
                ("action", text("accept")),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let ok = web
        .post_multipart(
            &format!("/work/case/{}/act", case.id),
            &taker,
            &[
                ("csrf", text(&csrf_of(&taker))),
                ("version", text(&case.state.version.to_string())),
                ("action", text("accept")),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    // The public views show no contact details and no free text of other people's cases.
    let public = web.get("/cases", "").await;
    assert!(public.body.contains(&case.public_id));
    assert!(
        !public.body.contains(&case.receipt_code),
        "receipt codes are the reporters'"
    );
    assert!(!public.body.contains("井盖丢失"));
}

#[tokio::test]
async fn administrators_export_and_import_tables_through_the_page() {
    let web = Web::new().await;
    let admin = web.sign_in("admin").await;
    let csrf = csrf_of(&admin);
    let units = web.get("/admin/export/units", &admin).await;
    assert_eq!(units.status, StatusCode::OK);
    assert!(units.body.lines().count() > 10);
    let upload = |text: String| {
        vec![
            ("csrf", text_part(&csrf)),
            ("kind", text_part("units")),
            ("file", Part::File("text/csv", text.into_bytes())),
        ]
    };
    // A broken row: the page names the line and the field, and nothing changes.
    let mut broken = units.body.clone();
    broken.push_str("BAD CODE!,坏单位,department,440305\n");
    let a = web
        .post_multipart("/admin/import", &admin, &upload(broken))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let line = units.body.lines().count() + 1;
    assert!(a.body.contains(&format!("line {line}")), "{}", a.body);
    assert_eq!(
        web.get("/admin/export/units", &admin).await.body,
        units.body
    );
    // The exported table imports again as it is.
    let a = web
        .post_multipart("/admin/import", &admin, &upload(units.body.clone()))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("id=\"table-done\""));
    // A grid worker may do neither.
    let worker = web.sign_in("gw.st1c1.1").await;
    assert_eq!(
        web.get("/admin/export/units", &worker).await.status,
        StatusCode::FORBIDDEN
    );
}

fn text_part(s: &str) -> Part {
    Part::Text(s.to_owned())
}

#[tokio::test]
async fn assessment_pages_are_for_kpi_readers_in_their_scope() {
    let web = Web::new().await;
    let leader = web.sign_in("shiftlead.st1").await;
    let page = web.get("/kpi", &leader).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"kpi-table\""));
    assert!(page.body.contains("<svg class=\"map\""));
    let bad = web
        .get("/kpi?scope=440305001&period=2026-13", &leader)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"period-error\""));
    // Another street is outside a street shift leader's scope.
    assert_eq!(
        web.get("/kpi?scope=440305002&period=2026-03", &leader)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let csv = web
        .get(
            "/kpi/export.csv?scope=440305001&period=2026-03&kind=unit",
            &leader,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with('\u{feff}'), "a BOM for spreadsheets");
    assert!(csv.body.contains("响应率 response rate"));
    let handler = web.sign_in("handler.swjt").await;
    assert_eq!(
        web.get("/kpi", &handler).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn residents_answer_a_survey_once_through_its_page() {
    let web = Web::new().await;
    let leader = web
        .app
        .repo
        .user("leader.st1")
        .await
        .expect("read")
        .expect("leader");
    let actor = civicgrid::cases::Actor::Staff {
        username: leader.username,
        grants: leader.grants,
    };
    let survey = web
        .app
        .create_survey(
            &actor,
            "三月群众评议",
            "2026-03",
            &["ST001".to_owned()],
            "2026-04-01T00:00:00Z".parse().expect("t"),
        )
        .await
        .expect("survey");
    let path = format!("/surveys/{}", survey.id);
    let page = web.get(&path, "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("三月群众评议") && page.body.contains("name=\"rate_ST001\""));
    let csrf = web.token().await;
    let cookie = format!("cg_csrf={csrf}");
    let a = web
        .post_form(
            &path,
            &cookie,
            &format!("csrf={csrf}&rate_ST001=4&phone=13800000009"),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("id=\"survey-done\""));
    let again = web
        .post_form(
            &path,
            &cookie,
            &format!("csrf={csrf}&rate_ST001=1&phone=13800000009"),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .body
            .contains("id=\"phone-error\" role=\"alert\">这个手机号已经参与过")
    );
    assert!(
        again.body.contains("value=\"13800000009\""),
        "what was typed is kept"
    );
    let no_rating = web
        .post_form(
            &path,
            &format!("{cookie}; cg_lang=en"),
            &format!("csrf={csrf}&phone=13800000010"),
        )
        .await;
    assert!(
        no_rating
            .body
            .contains("id=\"ratings-error\" role=\"alert\">Choose from the list.")
    );
    assert_eq!(
        web.post_form(&path, "", "rate_ST001=4&phone=13800000011")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

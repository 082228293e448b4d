//! Open311 GeoReport v2 against the real router, in process, on SQLite and PostgreSQL: every
//! endpoint in XML and JSON, the mapping to the loop, tokens for batch services, and every
//! kind of bad input answered with the spec's error body and no change.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::App;
use civicgrid::cases::Actor;
use civicgrid::open311::{Jurisdiction, Open311Settings};
use civicgrid_domain::case::Action;
use serde_json::Value;

use super::support::{Backend, Call, TestApp};

async fn call(
    app: &App,
    method: &str,
    uri: &str,
    form: Option<&str>,
) -> (StatusCode, String, String) {
    let mut call = Call::new(app.clone(), method, uri);
    if let Some(f) = form {
        call = call.form(f);
    }
    let a = call.send().await;
    let content_type = a.header("content-type").unwrap_or("").to_owned();
    (
        a.status,
        content_type,
        String::from_utf8(a.body).expect("utf-8"),
    )
}

async fn json(app: &App, method: &str, uri: &str, form: Option<&str>) -> (StatusCode, Value) {
    let (status, content_type, body) = call(app, method, uri, form).await;
    assert!(
        content_type.starts_with("application/json"),
        "{uri}: {content_type}"
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}")),
    )
}

/// The text of every `<name>` element of an XML answer, after checking it is well-formed
/// and declared.
fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{xml}"
    );
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut inside, mut texts, mut current) = (false, Vec::new(), String::new());
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML: {e}: {xml}"))
        {
            quick_xml::events::Event::Start(s) if s.name().as_ref() == name => {
                inside = true;
                current.clear();
            }
            quick_xml::events::Event::End(e) if e.name().as_ref() == name => {
                inside = false;
                texts.push(std::mem::take(&mut current));
            }
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == name => {
                texts.push(String::new());
            }
            quick_xml::events::Event::Text(t) if inside => current.push_str(&t),
            quick_xml::events::Event::GeneralRef(r) if inside => {
                current.push_str(match &*r {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity {other}"),
                });
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    texts
}

async fn case_count(app: &App) -> usize {
    app.list_cases(&civicgrid_store::CaseFilter {
        limit: 1000,
        ..Default::default()
    })
    .await
    .expect("cases")
    .len()
}

/// The demo deployment on `backend`, with a residents' app key and a hotline's staff key.
async fn setup(backend: Backend) -> Option<(TestApp, String, String)> {
    let t = TestApp::builder()
        .on(backend)
        .demo(1)
        .sealed()
        .try_build()
        .await?;
    let app_key = t
        .app
        .create_api_key("resident app", None)
        .await
        .expect("key");
    let hotline_key = t
        .app
        .create_api_key("hotline", Some("calltaker1"))
        .await
        .expect("key");
    Some((t, app_key, hotline_key))
}

#[tokio::test]
async fn open311_on_sqlite() {
    let (t, app_key, hotline_key) = setup(Backend::Sqlite).await.expect("sqlite");
    exercise(&t.app, &app_key, &hotline_key).await;
    t.finish().await;
}

#[tokio::test]
async fn open311_on_postgresql() {
    let Some((t, app_key, hotline_key)) = setup(Backend::Postgres).await else {
        return;
    };
    exercise(&t.app, &app_key, &hotline_key).await;
    t.finish().await;
}

async fn exercise(app: &App, app_key: &str, hotline_key: &str) {
    let base = "/open311/v2";

    // Services: the minor categories, grouped by major class, with the code in the keywords.
    let (s, services) = json(app, "GET", &format!("{base}/services.json"), None).await;
    assert_eq!(s, StatusCode::OK);
    let services = services.as_array().expect("array");
    let cover = services
        .iter()
        .find(|x| x["service_code"] == "01001")
        .expect("01001");
    assert_eq!(cover["service_name"], "上水井盖");
    assert_eq!(cover["group"], "市政公用设施");
    assert_eq!(cover["metadata"], true);
    assert_eq!(cover["type"], "realtime");
    assert!(cover["keywords"].as_str().expect("kw").contains("01001"));
    assert!(
        services
            .iter()
            .all(|x| x["service_code"].as_str().expect("code").len() == 5)
    );
    let suggestion = services
        .iter()
        .find(|x| x["service_code"] == "12002")
        .expect("12002");
    assert_eq!(suggestion["type"], "batch");
    assert_eq!(suggestion["metadata"], false);
    let (_, ct, xml) = call(app, "GET", &format!("{base}/services.xml"), None).await;
    assert!(ct.starts_with("text/xml"));
    assert_eq!(xml_texts(&xml, "service_code").len(), services.len());
    assert!(xml_texts(&xml, "service_name").contains(&"上水井盖".to_owned()));

    // A definition: the attributes with datatype, order and values.
    let (s, def) = json(app, "GET", &format!("{base}/services/01001.json"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(def["service_code"], "01001");
    let damage = &def["attributes"][0];
    assert_eq!(damage["code"], "damage");
    assert_eq!(damage["datatype"], "singlevaluelist");
    assert_eq!(damage["required"], true);
    assert_eq!(damage["order"], 1);
    assert_eq!(damage["values"][0]["key"], "missing");
    assert_eq!(damage["values"][0]["name"], "丢失");
    let (_, _, xml) = call(app, "GET", &format!("{base}/services/01001.xml"), None).await;
    assert_eq!(
        xml_texts(&xml, "key"),
        ["missing", "broken", "displaced", "noisy"]
    );
    for missing in ["99999", "01", "x"] {
        let (s, e) = json(app, "GET", &format!("{base}/services/{missing}.json"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(e[0]["code"], 404);
    }

    // POST: through intake, routed, durable; Chinese and special characters round-trip.
    let before = case_count(app).await;
    let text = "井盖丢失 & 路面塌陷 \"危险\" 'a' < 1米";
    let form = format!(
        "api_key={app_key}&service_code=01001&lat=22.5168&long=113.9171&description={}&attribute%5Bdamage%5D=missing&email=zhang%40example.cn&first_name=%E5%BC%A0&phone=13800000000&account_id=u-42&device_id=d-1",
        urlencode(text)
    );
    let (s, posted) = json(app, "POST", &format!("{base}/requests.json"), Some(&form)).await;
    assert_eq!(s, StatusCode::CREATED, "{posted}");
    let id = posted[0]["service_request_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(posted[0]["account_id"], "u-42");
    assert_eq!(case_count(app).await, before + 1);
    let (s, one) = json(app, "GET", &format!("{base}/requests/{id}.json"), None).await;
    assert_eq!(s, StatusCode::OK);
    let one = one.as_array().expect("an array with one element");
    assert_eq!(one.len(), 1);
    let r = &one[0];
    assert_eq!(r["description"], text);
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "01001");
    assert_eq!(r["address_id"], "440305001001001");
    assert_eq!(r["lat"], 22.5168);
    assert_eq!(r["long"], 113.9171);
    assert_eq!(r["requested_datetime"], "2026-03-03T09:00:00+08:00");
    assert!(
        r["agency_responsible"]
            .as_str()
            .expect("agency")
            .contains("水务")
    );
    assert_eq!(r["notes"][0]["type"], "opened");
    let whole = r.to_string();
    assert!(
        !whole.contains("13800000000") && !whole.contains("zhang@"),
        "no contact details"
    );
    let (_, _, xml) = call(app, "GET", &format!("{base}/requests/{id}.xml"), None).await;
    assert_eq!(xml_texts(&xml, "description"), [text]);
    assert_eq!(xml_texts(&xml, "service_request_id"), [id.as_str()]);
    // The case is the loop's: channel open311, the reporter's contact sealed.
    let case = app
        .repo
        .case_by_public_id(&id)
        .await
        .expect("read")
        .expect("case");
    assert_eq!(case.channel.as_str(), "open311");
    // The public id is not the receipt code; the reporter's receipt code and secret are in
    // the notice of the answer to the POST, and nowhere in the public answers.
    assert_ne!(id, case.receipt_code.replace('-', ""));
    let notice = posted[0]["service_notice"].as_str().expect("notice");
    assert!(notice.contains(&case.receipt_code), "{notice}");
    let secret = notice
        .split("评价密码 ")
        .nth(1)
        .and_then(|s| s.get(..11))
        .expect("the secret in the notice");
    assert!(
        civicgrid::cases::seal::is_reporter(app.sealer.as_deref(), &case, secret),
        "{notice}"
    );
    assert!(!whole.contains(&case.receipt_code) && !whole.contains(secret));
    assert!(!xml.contains(&case.receipt_code));
    let staff = app
        .authenticate_api_key(hotline_key)
        .await
        .expect("auth")
        .expect("actor");
    let contact = app
        .reporter_contact(&case, &staff)
        .await
        .expect("contact")
        .expect("sealed contact");
    assert_eq!(contact.phone.as_deref(), Some("13800000000"));
    assert_eq!(contact.name.as_deref(), Some("张"));

    // The same in XML, placed by a grid code (address_id) instead of a point.
    let form = format!(
        "api_key={hotline_key}&service_code=08001&address_id=440305001002001&description=%E5%8D%A0%E9%81%93%E7%BB%8F%E8%90%A5"
    );
    let (s, ct, xml) = call(app, "POST", &format!("{base}/requests.xml"), Some(&form)).await;
    assert_eq!(s, StatusCode::CREATED, "{xml}");
    assert!(ct.starts_with("text/xml"));
    let xml_id = xml_texts(&xml, "service_request_id").pop().expect("id");
    let (_, placed) = json(app, "GET", &format!("{base}/requests/{xml_id}.json"), None).await;
    assert_eq!(placed[0]["address_id"], "440305001002001");
    assert_eq!(placed[0]["description"], "占道经营");
    // A duplicate nearby is pointed out in the notice.
    let form = format!(
        "api_key={app_key}&service_code=01001&lat=22.51681&long=113.91711&description=dup&attribute%5Bdamage%5D=broken"
    );
    let (_, dup) = json(app, "POST", &format!("{base}/requests.json"), Some(&form)).await;
    assert!(
        dup[0]["service_notice"]
            .as_str()
            .expect("notice")
            .contains(&id),
        "{dup}"
    );

    // Number and date-time attributes of the right type are taken.
    let form = format!(
        "api_key={app_key}&service_code=09001&lat=22.5168&long=113.9171&description=%E9%82%BB%E9%87%8C%E7%BA%A0%E7%BA%B7&attribute%5Bparties%5D=3"
    );
    let (s, ok) = json(app, "POST", &format!("{base}/requests.json"), Some(&form)).await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");
    let form = format!(
        "api_key={app_key}&service_code=05006&lat=22.5168&long=113.9171&description=noise&attribute%5Boccurs_at%5D=2026-03-02T23%3A30%3A00%2B08%3A00"
    );
    let (s, ok) = json(app, "POST", &format!("{base}/requests.json"), Some(&form)).await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");

    // A batch service answers with a token; the id comes once a call-taker accepts.
    let form = format!(
        "api_key={app_key}&service_code=12002&address_string=%E5%8D%97%E5%A4%B4%E8%A1%97%E9%81%93&description=%E5%BB%BA%E8%AE%AE%E5%A2%9E%E5%8A%A0%E8%B7%AF%E7%81%AF"
    );
    let (s, batch) = json(app, "POST", &format!("{base}/requests.json"), Some(&form)).await;
    assert_eq!(s, StatusCode::CREATED, "{batch}");
    assert!(batch[0].get("service_request_id").is_none());
    let token = batch[0]["token"].as_str().expect("token").to_owned();
    let (s, t) = json(app, "GET", &format!("{base}/tokens/{token}.json"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(t[0]["service_request_id"].is_null());
    assert_eq!(t[0]["token"], token.as_str());
    let case = app
        .get_case(&token.parse().expect("uuid"))
        .await
        .expect("case");
    let (_, listed) = json(app, "GET", &format!("{base}/requests.json"), None).await;
    assert!(
        !listed.to_string().contains(&case.public_id),
        "no public id before acceptance"
    );
    let calltaker = match app
        .authenticate_api_key(hotline_key)
        .await
        .expect("auth")
        .expect("actor")
    {
        a @ Actor::Staff { .. } => a,
        other => panic!("{other:?}"),
    };
    app.act_on_case(&case.id, case.state.version, Action::Accept, &calltaker)
        .await
        .expect("accept");
    let (_, t) = json(app, "GET", &format!("{base}/tokens/{token}.json"), None).await;
    assert_eq!(t[0]["service_request_id"], case.public_id.as_str());
    let (_, _, xml) = call(app, "GET", &format!("{base}/tokens/{token}.xml"), None).await;
    assert_eq!(
        xml_texts(&xml, "service_request_id"),
        [case.public_id.as_str()]
    );
    let (s, _) = json(app, "GET", &format!("{base}/tokens/not-a-token.json"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Lists: by ids (overriding the rest), service, status, window and page.
    let (_, by_ids) = json(
        app,
        "GET",
        &format!("{base}/requests.json?service_request_id={id},{xml_id}&status=closed"),
        None,
    )
    .await;
    assert_eq!(by_ids.as_array().expect("a").len(), 2);
    let (_, covers) = json(
        app,
        "GET",
        &format!("{base}/requests.json?service_code=01001,01002&status=open"),
        None,
    )
    .await;
    let covers = covers.as_array().expect("a");
    assert!(covers.len() >= 2);
    assert!(covers.iter().all(|r| r["status"] == "open"
        && ["01001", "01002"].contains(&r["service_code"].as_str().expect("c"))));
    let (_, page1) = json(
        app,
        "GET",
        &format!("{base}/requests.json?page_size=2"),
        None,
    )
    .await;
    let (_, page2) = json(
        app,
        "GET",
        &format!("{base}/requests.json?page_size=2&page=2"),
        None,
    )
    .await;
    let (_, first4) = json(
        app,
        "GET",
        &format!("{base}/requests.json?page_size=4"),
        None,
    )
    .await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("a")
            .iter()
            .map(|r| r["service_request_id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!([ids(&page1), ids(&page2)].concat(), ids(&first4));
    let (_, old) = json(
        app,
        "GET",
        &format!("{base}/requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-03-01T00:00:00%2B08:00"),
        None,
    )
    .await;
    assert_eq!(old, serde_json::json!([]), "nothing reported then");
    let (_, extended) = json(
        app,
        "GET",
        &format!(
            "{base}/requests/{}.json?extended_statuses=true",
            case.public_id
        ),
        None,
    )
    .await;
    assert_eq!(extended[0]["status"], "investigating");
    let (_, discovery) = json(app, "GET", "/open311/discovery.json", None).await;
    assert_eq!(
        discovery["endpoints"][0]["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    let (_, _, xml) = call(app, "GET", "/open311/discovery.xml", None).await;
    assert_eq!(xml_texts(&xml, "format"), ["text/xml", "application/json"]);

    // Bad input: the spec's error body, the right code, and nothing changes.
    let count = case_count(app).await;
    let point = "lat=22.5168&long=113.9171&attribute%5Bdamage%5D=missing";
    let long_text = "很".repeat(4001);
    let bad_posts: Vec<(String, u16, &str)> = vec![
        (
            format!("service_code=01001&{point}&description=x"),
            403,
            "api_key",
        ),
        (
            format!("api_key=cg_wrong&service_code=01001&{point}&description=x"),
            403,
            "invalid api_key",
        ),
        (
            format!("api_key={app_key}&service_code=99999&{point}&description=x"),
            400,
            "service_code",
        ),
        (
            format!("api_key={app_key}&{point}&description=+"),
            400,
            "description is required when no service_code is given",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&description=x&attribute%5Bdamage%5D=missing"
            ),
            400,
            "location",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&lat=22.5&description=x&attribute%5Bdamage%5D=missing"
            ),
            400,
            "lat and long",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&lat=north&long=113.9&description=x&attribute%5Bdamage%5D=missing"
            ),
            400,
            "number",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&lat=40.0&long=116.4&description=x&attribute%5Bdamage%5D=missing"
            ),
            400,
            "outside every grid",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&address_id=999&description=x&attribute%5Bdamage%5D=missing"
            ),
            400,
            "address_id",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&lat=22.5168&long=113.9171&description=x&attribute%5Bdamage%5D=gone"
            ),
            400,
            "attribute[damage]",
        ),
        (
            format!("api_key={app_key}&service_code=01001&lat=22.5168&long=113.9171&description=x"),
            400,
            "attribute[damage]: is required",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description=x&attribute%5Bcolour%5D=red"
            ),
            400,
            "colour",
        ),
        (
            format!(
                "api_key={app_key}&service_code=09001&lat=22.5168&long=113.9171&description=x&attribute%5Bparties%5D=many"
            ),
            400,
            "attribute[parties]: `many` is not a number",
        ),
        (
            format!(
                "api_key={app_key}&service_code=05006&lat=22.5168&long=113.9171&description=x&attribute%5Boccurs_at%5D=yesterday"
            ),
            400,
            "attribute[occurs_at]",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description=x&attribute%5Bdamage%5D%5B%5D=missing&attribute%5Bdamage%5D%5B%5D=broken"
            ),
            400,
            "attribute[damage]",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description={}",
                urlencode(&long_text)
            ),
            400,
            "4000",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
            ),
            400,
            "markup",
        ),
        (
            format!("api_key={app_key}&service_code=01001&{point}&description=%E4%BA"),
            400,
            "broken form encoding",
        ),
        (
            format!("api_key={app_key}&service_code=01001&{point}&description=%zz"),
            400,
            "broken form encoding",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description=x&media_url=javascript:alert(1)"
            ),
            400,
            "media_url",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&{point}&description=x&jurisdiction_id=elsewhere"
            ),
            404,
            "jurisdiction",
        ),
        (
            format!(
                "api_key={app_key}&service_code=01001&service_code=01002&{point}&description=x"
            ),
            400,
            "more than once",
        ),
    ];
    let bad_posts: Vec<(String, u16, &str)> = bad_posts
        .into_iter()
        .chain([(
            format!("api_key={app_key}&service_code=01001&{point}&description=a%00b"),
            400,
            "NUL",
        )])
        .collect();
    // A name no account can have is refused without a lookup (PostgreSQL refuses NUL).
    assert!(matches!(
        app.login("a\0b", "x").await,
        Err(civicgrid::error::AppError::Forbidden(_))
    ));
    for (form, code, says) in &bad_posts {
        for fmt in ["json", "xml"] {
            let (s, ct, body) =
                call(app, "POST", &format!("{base}/requests.{fmt}"), Some(form)).await;
            assert_eq!(s.as_u16(), *code, "{form}: {body}");
            if fmt == "json" {
                let e: Value = serde_json::from_str(&body).expect("json");
                assert_eq!(e[0]["code"], *code);
                assert!(
                    e[0]["description"].as_str().expect("d").contains(says),
                    "{form}: {body}"
                );
            } else {
                assert!(ct.starts_with("text/xml"));
                assert_eq!(xml_texts(&body, "code"), [code.to_string()]);
                assert!(xml_texts(&body, "description")[0].contains(says), "{body}");
            }
        }
    }
    // Not a form at all.
    let res = Call::new(app.clone(), "POST", &format!("{base}/requests.json"))
        .bytes(
            "application/json",
            format!("{{\"api_key\":\"{app_key}\"}}").into_bytes(),
        )
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let bad_gets = [
        ("requests.json?start_date=yesterday", "start_date"),
        (
            "requests.json?start_date=2026-01-01&end_date=2026-05-01",
            "90 days",
        ),
        (
            "requests.json?start_date=2026-03-01&end_date=2026-02-01",
            "before",
        ),
        ("requests.json?status=pending", "status"),
        ("requests.json?service_code=99999", "service_code"),
        ("requests.json?page=0", "page"),
        ("requests.json?page_size=1001", "page_size"),
        ("requests.json?extensions=maybe", "extensions"),
        ("requests.json?description=%zz", "broken form encoding"),
    ];
    for (uri, says) in bad_gets {
        let (s, e) = json(app, "GET", &format!("{base}/{uri}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {e}");
        assert!(
            e[0]["description"].as_str().expect("d").contains(says),
            "{uri}: {e}"
        );
    }
    for uri in [
        "requests/NOPE-NOPE.json",
        "nothing.json",
        "services.txt",
        "tokens/01a21210-b1f4-723c-a770-3d96537d30c6.xml",
        "services/01001/extra.json",
        "v3/requests.json",
    ] {
        let (s, ct, body) = call(app, "GET", &format!("{base}/{uri}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        // The spec's error body, never a problem document.
        if ct.starts_with("application/json") {
            let e: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(e[0]["code"], 404, "{uri}");
        } else {
            assert_eq!(xml_texts(&body, "code"), ["404"], "{uri}");
        }
    }
    assert_eq!(case_count(app).await, count, "bad input changed nothing");

    // Several jurisdictions: the id becomes required and scopes the requests.
    let mut multi = app.clone();
    multi.open311 = Arc::new(Open311Settings {
        jurisdictions: vec![
            "nantou=440305001".parse::<Jurisdiction>().expect("j"),
            "shekou=440305002".parse::<Jurisdiction>().expect("j"),
        ],
        ..Default::default()
    });
    let (s, e) = json(&multi, "GET", &format!("{base}/services.json"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e[0]["description"]
            .as_str()
            .expect("d")
            .contains("jurisdiction_id is required")
    );
    let (_, nantou) = json(
        &multi,
        "GET",
        &format!("{base}/requests.json?jurisdiction_id=nantou"),
        None,
    )
    .await;
    let (_, shekou) = json(
        &multi,
        "GET",
        &format!("{base}/requests.json?jurisdiction_id=shekou"),
        None,
    )
    .await;
    assert!(ids(&nantou).contains(&id));
    assert!(!ids(&shekou).contains(&id));
    let form = format!(
        "api_key={app_key}&jurisdiction_id=shekou&service_code=01001&{point}&description=x"
    );
    let (s, e) = json(
        &multi,
        "POST",
        &format!("{base}/requests.json"),
        Some(&form),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e[0]["description"]
            .as_str()
            .expect("d")
            .contains("outside jurisdiction shekou")
    );
    assert_eq!(case_count(app).await, count);
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

//! Open311 GeoReport v2 on the wire: documents built once as a tree and rendered to XML or
//! JSON, the form body of a POST, the status vocabulary (with FixMyStreet's extended
//! statuses) and W3C date-times. Pure: no I/O, no HTTP types.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use civicgrid_domain::case::Status;

/// The two formats of the spec, chosen by the `.xml` / `.json` suffix of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// Splits `services.json` into (`services`, Json); None without a known suffix.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        if let Some(stem) = file.strip_suffix(".xml") {
            Some((stem, Format::Xml))
        } else {
            file.strip_suffix(".json").map(|stem| (stem, Format::Json))
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "text/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
        }
    }
}

/// A value in a GeoReport document, rendered the same way to both formats.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
    /// XML: an empty element; JSON: null.
    Null,
    /// XML: one `<item>` child per element inside the field's element; JSON: an array.
    List(&'static str, Vec<Node>),
    /// XML: child elements; JSON: an object.
    Record(Vec<(&'static str, Node)>),
}

impl Node {
    pub fn text(s: impl Into<String>) -> Node {
        Node::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, |s| Node::Text(s.into()))
    }
}

/// A whole response: the root element's name and its content (a List or a Record).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: &'static str,
    pub body: Node,
}

impl Document {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                write_xml(&mut out, self.root, &self.body);
                out.push('\n');
                out
            }
            Format::Json => to_json(&self.body).to_string(),
        }
    }

    /// The spec's error body: `errors/error` with `code` and `description`.
    pub fn errors(code: u16, description: &str) -> Document {
        Document {
            root: "errors",
            body: Node::List(
                "error",
                vec![Node::Record(vec![
                    ("code", Node::Integer(i64::from(code))),
                    ("description", Node::text(description)),
                ])],
            ),
        }
    }
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Node::Text(t) => {
            let _ = write!(out, "<{name}>{}</{name}>", xml_text(t));
        }
        Node::Number(n) => {
            let _ = write!(out, "<{name}>{n}</{name}>");
        }
        Node::Integer(n) => {
            let _ = write!(out, "<{name}>{n}</{name}>");
        }
        Node::Bool(b) => {
            let _ = write!(out, "<{name}>{b}</{name}>");
        }
        Node::List(item, items) => {
            let _ = write!(out, "<{name}>");
            for i in items {
                write_xml(out, item, i);
            }
            let _ = write!(out, "</{name}>");
        }
        Node::Record(fields) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in fields {
                write_xml(out, k, v);
            }
            let _ = write!(out, "</{name}>");
        }
    }
}

/// Escapes text for XML, and drops what XML 1.0 cannot carry at all (control characters
/// other than tab and line breaks), which a JSON intake may have let in.
fn xml_text(t: &str) -> String {
    let allowed: String = t
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || !c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}'
        })
        .collect();
    quick_xml::escape::escape(allowed.as_str()).into_owned()
}

fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Null => Value::Null,
        Node::Text(t) => Value::String(t.clone()),
        Node::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Node::Integer(n) => Value::from(*n),
        Node::Bool(b) => Value::Bool(*b),
        Node::List(_, items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

/// Parses an `application/x-www-form-urlencoded` body strictly: a `%` must start two hex
/// digits and the decoded text must be UTF-8. Lenient decoders pass such bytes through and
/// store garbage; a report that cannot be read is refused instead.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (n, piece) in body.split(|&b| b == b'&').enumerate() {
        if piece.is_empty() {
            continue;
        }
        let (key, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let key = decode(key).map_err(|e| format!("form field {}: {e}", n + 1))?;
        let value = decode(value).map_err(|e| format!("form field {} (`{key}`): {e}", n + 1))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn decode(raw: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("broken form encoding: `%` must be followed by two hex digits")?;
                bytes.push(hex);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| "broken form encoding: the text is not UTF-8".to_owned())
}

/// The `attribute[code]=v` and `attribute[code][]=v` fields of a POST, as the case's
/// attributes; several values of one attribute are joined with commas (multivaluelist).
pub fn attributes(form: &[(String, String)]) -> Result<BTreeMap<String, String>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in form {
        let Some(rest) = key.strip_prefix("attribute[") else {
            continue;
        };
        let (code, many) = match rest.strip_suffix("][]") {
            Some(code) => (code, true),
            None => (
                rest.strip_suffix(']').ok_or_else(|| {
                    format!("`{key}` is not attribute[code] or attribute[code][]")
                })?,
                false,
            ),
        };
        if code.is_empty() || code.contains(['[', ']']) {
            return Err(format!(
                "`{key}` is not attribute[code] or attribute[code][]"
            ));
        }
        let values = out.entry(code.to_owned()).or_default();
        if !many && !values.is_empty() {
            return Err(format!(
                "attribute[{code}] is given twice; use attribute[{code}][] for several values"
            ));
        }
        values.push(value.clone());
    }
    Ok(out.into_iter().map(|(k, v)| (k, v.join(","))).collect())
}

/// The spec's two statuses.
pub fn status(s: Status) -> &'static str {
    if s.is_open() { "open" } else { "closed" }
}

/// The statuses FixMyStreet understands from an Open311 server with extended statuses on
/// (its `map_state`): the loop's stages in its words.
pub fn extended_status(s: Status) -> &'static str {
    match s {
        Status::Reported => "open",
        Status::Accepted => "investigating",
        Status::Registered | Status::Dispatched | Status::Shelved => "action_scheduled",
        Status::Handling | Status::ReportedBack => "in_progress",
        Status::Closed | Status::Evaluated => "fixed",
        Status::Refused => "not_councils_responsibility",
        Status::Voided => "no_further_action",
        Status::Merged => "duplicate",
    }
}

/// Every status word a `status=` filter may name.
pub const STATUS_WORDS: &[&str] = &[
    "open",
    "closed",
    "investigating",
    "action_scheduled",
    "in_progress",
    "fixed",
    "not_councils_responsibility",
    "no_further_action",
    "duplicate",
];

/// The loop statuses a status word stands for.
pub fn statuses_for(word: &str) -> Option<Vec<Status>> {
    if !STATUS_WORDS.contains(&word) {
        return None;
    }
    Some(
        Status::ALL
            .iter()
            .copied()
            .filter(|&s| status(s) == word || extended_status(s) == word)
            .collect(),
    )
}

/// A W3C date-time with the offset of `tz`, as the spec's examples write them.
pub fn datetime(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Reads a `start_date`/`end_date`: a W3C date-time with offset, or a bare date (midnight in
/// `tz`).
pub fn parse_datetime(s: &str, tz: &jiff::tz::TimeZone) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!("`{s}` is not a W3C date-time such as 2026-11-25T09:30:00+08:00 or a date")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document {
            root: "service_requests",
            body: Node::List(
                "request",
                vec![Node::Record(vec![
                    ("service_request_id", Node::text("7Q4M-2XKD")),
                    ("description", Node::text("井盖丢失 <b>&\"危险\"</b>\u{1}")),
                    ("lat", Node::Number(22.5168)),
                    ("account_id", Node::Null),
                    ("metadata", Node::Bool(true)),
                ])],
            ),
        }
    }

    #[test]
    fn xml_has_a_declaration_escapes_and_reads_back() {
        let xml = sample().render(Format::Xml);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        assert!(xml.contains("<service_requests><request><service_request_id>7Q4M-2XKD<"));
        assert!(
            xml.contains("&lt;b&gt;&amp;&quot;危险&quot;&lt;/b&gt;"),
            "{xml}"
        );
        assert!(xml.contains("<account_id/>"));
        // A real parser reads the Chinese text back exactly, minus the control character.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut texts = Vec::new();
        loop {
            match reader.read_event().expect("well-formed") {
                quick_xml::events::Event::Text(t) => texts.push((*t).to_owned()),
                quick_xml::events::Event::GeneralRef(r) => {
                    let name = (*r).to_owned();
                    let c = match name.as_str() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("unexpected entity {other}"),
                    };
                    if let Some(last) = texts.last_mut() {
                        last.push_str(c);
                    }
                }
                quick_xml::events::Event::Eof => break,
                _ => texts.push(String::new()),
            }
        }
        let joined: String = texts.concat();
        assert!(joined.contains("井盖丢失 <b>&\"危险\"</b>"), "{joined}");
        assert!(!joined.contains('\u{1}'));
    }

    #[test]
    fn json_is_an_array_of_objects() {
        let json: serde_json::Value =
            serde_json::from_str(&sample().render(Format::Json)).expect("json");
        assert_eq!(json[0]["service_request_id"], "7Q4M-2XKD");
        assert_eq!(json[0]["description"], "井盖丢失 <b>&\"危险\"</b>\u{1}");
        assert_eq!(json[0]["lat"], 22.5168);
        assert!(json[0]["account_id"].is_null());
        let errors: serde_json::Value =
            serde_json::from_str(&Document::errors(403, "no key").render(Format::Json))
                .expect("json");
        assert_eq!(
            errors,
            serde_json::json!([{"code": 403, "description": "no key"}])
        );
    }

    #[test]
    fn forms_are_decoded_strictly() {
        let form = parse_form(b"service_code=01001&description=%E4%BA%95%E7%9B%96+lost&attribute%5Bdamage%5D=missing&empty=&flag")
            .expect("form");
        assert_eq!(form[1], ("description".into(), "井盖 lost".into()));
        assert_eq!(form[2], ("attribute[damage]".into(), "missing".into()));
        assert_eq!(form[3], ("empty".into(), String::new()));
        assert_eq!(form[4], ("flag".into(), String::new()));
        for broken in [&b"description=%E4%BA"[..], b"a=%zz", b"a=%4", b"a=%FF%FE"] {
            let e = parse_form(broken).expect_err("broken");
            assert!(e.contains("broken form encoding"), "{e}");
        }
    }

    #[test]
    fn attributes_single_and_multiple() {
        let form: Vec<(String, String)> = [
            ("attribute[damage]", "missing"),
            ("attribute[kinds][]", "noise"),
            ("attribute[kinds][]", "dust"),
            ("description", "x"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let a = attributes(&form).expect("attributes");
        assert_eq!(a["damage"], "missing");
        assert_eq!(a["kinds"], "noise,dust");
        for bad in [
            "attribute[",
            "attribute[]",
            "attribute[a]x",
            "attribute[a][b]",
        ] {
            assert!(
                attributes(&[(bad.to_owned(), "v".to_owned())]).is_err(),
                "{bad}"
            );
        }
        let twice = [
            ("attribute[a]".to_owned(), "1".to_owned()),
            ("attribute[a]".to_owned(), "2".to_owned()),
        ];
        assert!(attributes(&twice).is_err());
    }

    #[test]
    fn every_status_has_both_words_and_filters_find_it() {
        for &s in Status::ALL {
            assert!(statuses_for(status(s)).expect("word").contains(&s));
            assert!(statuses_for(extended_status(s)).expect("word").contains(&s));
        }
        assert_eq!(
            statuses_for("closed").expect("closed").len()
                + statuses_for("open").expect("open").len(),
            Status::ALL.len()
        );
        assert!(statuses_for("pending").is_none());
    }

    #[test]
    fn datetimes() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        let t: jiff::Timestamp = "2026-11-25T01:30:00Z".parse().expect("t");
        assert_eq!(datetime(t, &tz), "2026-11-25T09:30:00+08:00");
        assert_eq!(parse_datetime("2026-11-25T09:30:00+08:00", &tz), Ok(t));
        assert_eq!(
            parse_datetime("2026-11-25", &tz).expect("date").to_string(),
            "2026-11-24T16:00:00Z"
        );
        assert!(parse_datetime("25/11/2026", &tz).is_err());
    }
}

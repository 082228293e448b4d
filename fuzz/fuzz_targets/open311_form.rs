//! Open311 POST bodies: the strict form decoder and the attribute fields never panic, and
//! every decoded value survives the JSON rendering unchanged and the XML one as documented:
//! well-formed XML 1.0 that reads back as the value without its control characters (tab, LF
//! and CR kept; no raw CR, which a parser would normalise to LF).
#![no_main]

use civicgrid::open311::wire::{Document, Format, Node, attributes, parse_form};
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// What the XML keeps of a text: all but control characters other than tab, LF and CR, and
/// the two non-characters XML refuses.
fn kept_in_xml(v: &str) -> String {
    v.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || !c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}'
        })
        .collect()
}

fuzz_target!(|body: &[u8]| {
    let Ok(form) = parse_form(body) else { return };
    let _ = attributes(&form);
    let values: Vec<String> = form.iter().map(|(_, v)| v.clone()).collect();
    let doc = Document {
        root: "service_requests",
        body: Node::List(
            "request",
            values
                .iter()
                .map(|v| Node::Record(vec![("description", Node::text(v.clone()))]))
                .collect(),
        ),
    };
    let xml = doc.render(Format::Xml);
    assert!(
        xml.chars().all(xml_char),
        "a character XML 1.0 cannot hold: {xml:?}"
    );
    assert!(!xml.contains('\r'), "a raw CR is read back as LF: {xml:?}");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut texts = Vec::new();
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == "description" => {
                inside = true;
                text.clear();
            }
            Event::Empty(e) if e.name().as_ref() == "description" => texts.push(String::new()),
            Event::End(e) if e.name().as_ref() == "description" => {
                inside = false;
                texts.push(std::mem::take(&mut text));
            }
            Event::Text(t) if inside => {
                // As an XML 1.0 parser reads it: line ends normalised.
                text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if inside => {
                let c = match &*r {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r
                        .resolve_char_ref()
                        .expect("a character reference")
                        .expect("a known reference"),
                };
                text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let expected: Vec<String> = values.iter().map(|v| kept_in_xml(v)).collect();
    assert_eq!(texts, expected);
    let json: serde_json::Value = serde_json::from_str(&doc.render(Format::Json)).expect("JSON");
    let back: Vec<String> = json
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["description"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(back, values);
});

//! The pages' languages, with Fluent: zh-CN (the default) and English, both complete (a test
//! checks that every message exists in both). The resources are compiled into the binary.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

pub const LANGUAGES: &[(&str, &str)] = &[("zh-CN", "中文"), ("en", "English")];
pub const DEFAULT: &str = "zh-CN";

const ZH: &str = include_str!("locales/zh-CN.ftl");
const EN: &str = include_str!("locales/en.ftl");

fn bundle(lang: &str, source: &str) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = lang.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Isolation marks around placeables confuse plain-text readers and tests; the pages set
    // `dir` themselves.
    bundle.set_use_isolating(false);
    match FluentResource::try_new(source.to_owned()) {
        Ok(r) => {
            if let Err(errors) = bundle.add_resource(r) {
                tracing::error!(?errors, lang, "duplicate messages in the Fluent resource");
            }
        }
        Err((r, errors)) => {
            tracing::error!(?errors, lang, "the Fluent resource has errors");
            let _ = bundle.add_resource(r);
        }
    }
    bundle
}

static BUNDLES: LazyLock<Vec<(&'static str, FluentBundle<FluentResource>)>> =
    LazyLock::new(|| vec![("zh-CN", bundle("zh-CN", ZH)), ("en", bundle("en", EN))]);

/// The supported language closest to `wanted` (a cookie value or an Accept-Language header).
pub fn negotiate(wanted: Option<&str>) -> &'static str {
    let Some(w) = wanted else { return DEFAULT };
    for part in w.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.starts_with("zh") {
            return "zh-CN";
        }
        if tag.starts_with("en") {
            return "en";
        }
    }
    DEFAULT
}

/// The message `key` in `lang`, with `args`; the key itself if it is missing (and logged).
pub fn t(lang: &str, key: &str, args: &[(&str, String)]) -> String {
    let bundles = &*BUNDLES;
    let Some((_, bundle)) = bundles
        .iter()
        .find(|(l, _)| *l == lang)
        .or_else(|| bundles.first())
    else {
        return key.to_owned();
    };
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
        tracing::warn!(key, lang, "missing message");
        return key.to_owned();
    };
    let mut fargs = FluentArgs::new();
    for (k, v) in args {
        match v.parse::<f64>() {
            Ok(n) if !v.is_empty() => fargs.set(*k, FluentValue::from(n)),
            _ => fargs.set(*k, FluentValue::from(v.clone())),
        }
    }
    let mut errors = vec![];
    bundle
        .format_pattern(pattern, Some(&fargs), &mut errors)
        .into_owned()
}

/// Message ids of a resource, for the completeness test.
pub fn message_ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let l = l.trim_end();
            let (id, _) = l.split_once(" =")?;
            (!id.starts_with(['#', ' ', '.', '-']) && !id.is_empty()).then(|| id.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_message_and_parse() {
        let zh = message_ids(ZH);
        let en = message_ids(EN);
        assert!(zh.len() > 50);
        let missing_en: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        let missing_zh: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in English: {missing_en:?}");
        assert!(missing_zh.is_empty(), "missing in Chinese: {missing_zh:?}");
        for (lang, src) in [("zh-CN", ZH), ("en", EN)] {
            assert!(
                FluentResource::try_new(src.to_owned()).is_ok(),
                "{lang} parses"
            );
            for id in message_ids(src) {
                assert_ne!(t(lang, &id, &[]), id, "{lang}: {id} has no value");
            }
        }
    }

    #[test]
    fn arguments_and_negotiation() {
        assert_eq!(t("en", "receipt-title", &[]), "Your report is in");
        assert!(t("zh-CN", "queue-count", &[("count", "3".into())]).contains('3'));
        assert_eq!(negotiate(Some("en-GB,en;q=0.9")), "en");
        assert_eq!(negotiate(Some("zh-TW")), "zh-CN");
        assert_eq!(negotiate(Some("fr")), "zh-CN");
        assert_eq!(negotiate(None), "zh-CN");
    }
}

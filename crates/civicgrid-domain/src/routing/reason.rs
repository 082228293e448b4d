//! Why a case went to its units, as data that can be told in any language.
//!
//! The case keeps its reason as the English sentence routing wrote (it is part of the API and
//! of every stored case); `Reason::parse` reads such a sentence back, so that pages can tell
//! it in the reader's language with names instead of codes. `Reason::english` writes the
//! sentence, and the two are tested to be inverse.

use super::{Basis, UnitKind};
use crate::catalogue::CategoryKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A rule of the responsibility list matched.
    Rule {
        line: u32,
        basis: Basis,
        category: String,
        region: String,
        /// `attribute = value` the rule asks for.
        condition: Option<(String, String)>,
        /// Other matching rules ranked lower.
        outranked: usize,
        /// Components: owner first; matters: locality first.
        kind: CategoryKind,
    },
    /// No rule matched: the locality unit of the nearest region that has one (兜底).
    Fallback {
        category: String,
        region: String,
        unit_kind: UnitKind,
        unit: String,
        unit_region: String,
    },
    /// The case has no category yet.
    NoCategory,
    /// Placed by address only; the dispatcher places and routes it.
    AddressOnly { region: String, detail: String },
}

fn order(kind: CategoryKind) -> &'static str {
    match kind {
        CategoryKind::Component => "部件先属主后属地",
        CategoryKind::Matter => "事件先属地后属主",
    }
}

impl Reason {
    /// The sentence stored with the case.
    pub fn english(&self) -> String {
        match self {
            Reason::Rule {
                line,
                basis,
                category,
                region,
                condition,
                outranked,
                kind,
            } => {
                let condition = condition
                    .as_ref()
                    .map(|(a, v)| format!(" when {a} = {v}"))
                    .unwrap_or_default();
                format!(
                    "rule {line} ({basis}: category {category} in region {region}{condition}) matched; {outranked} other matching rule(s) ranked lower by {order}, then region depth, category depth, condition and list order",
                    basis = basis.as_str(),
                    order = order(*kind),
                )
            }
            Reason::Fallback {
                category,
                region,
                unit_kind,
                unit,
                unit_region,
            } => format!(
                "no rule of the responsibility list matches category {category} in region {region}; falls back (兜底) to the locality: {} {unit} of region {unit_region}",
                unit_kind.as_str()
            ),
            Reason::NoCategory => "not routed yet: the case has no category".to_owned(),
            Reason::AddressOnly { region, detail } => {
                format!("not routed yet: placed by address only, in region {region} ({detail})")
            }
        }
    }

    /// Reads a stored sentence back; None for text this version did not write.
    pub fn parse(text: &str) -> Option<Reason> {
        if text == "not routed yet: the case has no category" {
            return Some(Reason::NoCategory);
        }
        if let Some(rest) = text.strip_prefix("not routed yet: placed by address only, in region ")
        {
            let (region, detail) = rest.split_once(" (")?;
            return Some(Reason::AddressOnly {
                region: region.to_owned(),
                detail: detail.strip_suffix(')')?.to_owned(),
            });
        }
        if let Some(rest) =
            text.strip_prefix("no rule of the responsibility list matches category ")
        {
            let (category, rest) = rest.split_once(" in region ")?;
            let (region, rest) = rest.split_once("; falls back (兜底) to the locality: ")?;
            let (unit_kind, rest) = rest.split_once(' ')?;
            let (unit, unit_region) = rest.split_once(" of region ")?;
            return Some(Reason::Fallback {
                category: category.to_owned(),
                region: region.to_owned(),
                unit_kind: unit_kind.parse().ok()?,
                unit: unit.to_owned(),
                unit_region: unit_region.to_owned(),
            });
        }
        let rest = text.strip_prefix("rule ")?;
        let (line, rest) = rest.split_once(" (")?;
        let (basis, rest) = rest.split_once(": category ")?;
        let (category, rest) = rest.split_once(" in region ")?;
        let (inside, rest) = rest.split_once(") matched; ")?;
        let (region, condition) = match inside.split_once(" when ") {
            Some((r, c)) => {
                let (a, v) = c.split_once(" = ")?;
                (r, Some((a.to_owned(), v.to_owned())))
            }
            None => (inside, None),
        };
        let (outranked, rest) = rest.split_once(" other matching rule(s) ranked lower by ")?;
        let kind = if rest.starts_with(order(CategoryKind::Component)) {
            CategoryKind::Component
        } else if rest.starts_with(order(CategoryKind::Matter)) {
            CategoryKind::Matter
        } else {
            return None;
        };
        let reason = Reason::Rule {
            line: line.parse().ok()?,
            basis: basis.parse().ok()?,
            category: category.to_owned(),
            region: region.to_owned(),
            condition,
            outranked: outranked.parse().ok()?,
            kind,
        };
        // Only what this version writes, exactly.
        (reason.english() == text).then_some(reason)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn arb_reason() -> impl Strategy<Value = Reason> {
        let word = "[a-z0-9_]{1,8}";
        let code = "[0-9]{2,15}";
        prop_oneof![
            (
                1u32..5000,
                prop::bool::ANY,
                code,
                code,
                prop::option::of((word, "[a-z0-9_ ]{1,8}")),
                0usize..20,
                prop::bool::ANY
            )
                .prop_map(
                    |(line, owner, category, region, condition, outranked, component)| {
                        Reason::Rule {
                            line,
                            basis: if owner { Basis::Owner } else { Basis::Locality },
                            category,
                            region,
                            condition,
                            outranked,
                            kind: if component {
                                CategoryKind::Component
                            } else {
                                CategoryKind::Matter
                            },
                        }
                    }
                ),
            (
                code,
                code,
                prop::sample::select(UnitKind::ALL.to_vec()),
                "[A-Z0-9]{1,8}",
                code
            )
                .prop_map(|(category, region, unit_kind, unit, unit_region)| {
                    Reason::Fallback {
                        category,
                        region,
                        unit_kind,
                        unit,
                        unit_region,
                    }
                }),
            Just(Reason::NoCategory),
            (code, "[a-z ]{1,30}")
                .prop_map(|(region, detail)| Reason::AddressOnly { region, detail }),
        ]
    }

    proptest! {
        #[test]
        fn a_stored_sentence_reads_back_as_the_reason_that_wrote_it(r in arb_reason()) {
            prop_assert_eq!(Reason::parse(&r.english()), Some(r));
        }
    }

    #[test]
    fn text_this_version_did_not_write_is_not_read() {
        for t in [
            "",
            "rule 4",
            "rule x (owner: category 01 in region 44) matched; 0 other matching rule(s) ranked lower by 部件先属主后属地, then",
            "hello",
        ] {
            assert_eq!(Reason::parse(t), None, "{t}");
        }
    }
}

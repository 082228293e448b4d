//! The domain's vocabulary as a reader of the page says it: time limits, clock types, unit
//! kinds, permissions, roles, calendar days, attribute types and bilingual catalogue text.
//! Pages never show the identifiers the files and the code use.

use civicgrid_domain::access::{Permission, Role};
use civicgrid_domain::calendar::TimeLimit;

use super::Ctx;
use super::i18n;

/// A message id from an identifier: dots and underscores become dashes.
fn id(prefix: &str, name: &str) -> String {
    format!("{prefix}-{}", name.replace(['.', '_'], "-"))
}

impl Ctx {
    /// `3 个工作日`, `2 小时（工作时）`, `30 分钟（紧急工作时）`.
    pub fn time_limit(&self, limit: &TimeLimit) -> String {
        let clock = self.t(&id("clock", limit.clock.as_str()));
        if limit.clock.counts_days() {
            return i18n::t(
                self.lang,
                "limit-days",
                &[("n", limit.amount.to_string()), ("clock", clock)],
            );
        }
        let (h, m) = (limit.amount / 60, limit.amount % 60);
        let (key, args) = match (h, m) {
            (0, m) => ("limit-minutes", vec![("m", m.to_string())]),
            (h, 0) => ("limit-hours", vec![("h", h.to_string())]),
            (h, m) => (
                "limit-hours-minutes",
                vec![("h", h.to_string()), ("m", m.to_string())],
            ),
        };
        let mut args = args;
        args.push(("clock", clock));
        i18n::t(self.lang, key, &args)
    }

    pub fn unit_kind(&self, kind: &str) -> String {
        self.t(&id("unit-kind", kind))
    }

    pub fn permission(&self, p: Permission) -> String {
        self.t(&id("perm", p.as_str()))
    }

    pub fn role_name(&self, role: &Role) -> String {
        if self.lang == "en" {
            role.name_en.clone()
        } else {
            role.name_zh.clone()
        }
    }

    pub fn day_kind(&self, kind: &str) -> String {
        self.t(&id("day-kind", kind))
    }

    pub fn attribute_type(&self, datatype: &str) -> String {
        self.t(&id("attr-type", datatype))
    }

    pub fn service_type(&self, service_type: &str) -> String {
        self.t(&id("service-type", service_type))
    }

    /// Catalogue text written in both languages, `损坏情况 / Damage`, in the reader's: the part
    /// before the slash in Chinese, after it in English; text in one language as it is.
    pub fn bilingual(&self, text: &str) -> String {
        match text.split_once(" / ") {
            Some((_, en)) if self.lang == "en" => en.trim().to_owned(),
            Some((zh, _)) => zh.trim().to_owned(),
            None => text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicgrid_domain::calendar::ClockType;

    fn ctx(lang: &'static str) -> Ctx {
        Ctx {
            lang,
            actor: None,
            display_name: None,
            csrf: String::new(),
            secure: false,
            tz: jiff::tz::TimeZone::UTC,
            permissions: vec![],
            tile_origin: None,
        }
    }

    #[test]
    fn limits_and_names_read_as_words() {
        let zh = ctx("zh-CN");
        let en = ctx("en");
        let days = TimeLimit {
            clock: ClockType::WorkingDays,
            amount: 3,
        };
        assert_eq!(zh.time_limit(&days), "3 个工作日");
        assert_eq!(en.time_limit(&days), "3 working days");
        let hours = TimeLimit {
            clock: ClockType::WorkingHours,
            amount: 150,
        };
        assert_eq!(zh.time_limit(&hours), "2 小时 30 分钟（工作时）");
        assert_eq!(zh.bilingual("损坏情况 / Damage"), "损坏情况");
        assert_eq!(en.bilingual("损坏情况 / Damage"), "Damage");
        assert_eq!(en.bilingual("灯杆编号"), "灯杆编号");
        for p in Permission::ALL {
            assert!(!zh.permission(*p).contains('.'), "{p}");
            assert!(!en.permission(*p).starts_with("perm-"), "{p}");
        }
        for kind in ["holiday", "make_up_workday"] {
            assert!(!zh.day_kind(kind).starts_with("day-kind"));
        }
    }
}

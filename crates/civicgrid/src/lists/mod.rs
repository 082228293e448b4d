//! Published lists (清单公开): the street's power list (权力清单) and the responsibility
//! list as published, each in numbered versions with the day they take effect, public with
//! the differences between versions. A power list is published from a CSV file or JSON; a
//! responsibility version is a snapshot of the routing list in force. Publishing needs
//! responsibility.manage on the whole territory; reading is public.

pub mod cli;
pub mod pages;
pub mod rest;

use std::collections::BTreeMap;

use civicgrid_domain::access::Permission;
use civicgrid_domain::lists::{self, Change, Entry, ListKind, POWER_COLUMNS, Power};
use civicgrid_store::ListVersionRecord;
use jiff::civil::Date;

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult, InputError};

/// A version as read: its entries and what changed since the one before.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Version {
    pub kind: ListKind,
    pub number: u32,
    pub effective_from: Date,
    pub published_by: String,
    pub published_at: jiff::Timestamp,
    pub note: String,
    pub entries: Vec<Entry>,
    /// Against the previous version (everything added for the first).
    pub changes: Vec<Change>,
    /// In force today.
    pub in_force: bool,
}

impl App {
    fn may_publish_lists(
        &self,
        actor: &Actor,
        policy: &civicgrid_domain::policy::Policy<'_>,
        top: Option<&civicgrid_domain::territory::RegionCode>,
    ) -> AppResult<()> {
        let ok = match top {
            Some(top) => policy.holds_in(actor, Permission::ResponsibilityManage, top),
            None => matches!(actor, Actor::System),
        };
        if ok {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "publishing the power and responsibility lists needs responsibility.manage for the whole territory".into(),
            ))
        }
    }

    async fn publish_entries(
        &self,
        actor: &Actor,
        kind: ListKind,
        effective_from: Date,
        note: &str,
        entries: Vec<Entry>,
    ) -> AppResult<Version> {
        let note = note.trim();
        if note.chars().count() > 500 || note.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "note".into(),
                "at most 500 characters".into(),
            )]));
        }
        let published = self
            .repo
            .publish_list_version(&ListVersionRecord {
                kind: kind.as_str().to_owned(),
                number: 0,
                effective_from,
                published_by: actor.name().to_owned(),
                published_at: self.clock.now(),
                note: note.to_owned(),
                entries: serde_json::to_string(&entries).unwrap_or_default(),
            })
            .await?;
        self.list_version(kind, published.number).await
    }

    /// Publishes a power list as the next version, checked whole: every problem by line and
    /// field, and every unit known.
    pub async fn publish_power_list(
        &self,
        actor: &Actor,
        file: &str,
        effective_from: Date,
        note: &str,
        powers: Vec<Power>,
    ) -> AppResult<Version> {
        let reference = self.reference().await?;
        self.may_publish_lists(actor, &reference.policy(), reference.top_region.as_ref())?;
        let mut errors: Vec<InputError> = lists::check_powers(&powers)
            .into_iter()
            .map(|(line, field, message)| {
                InputError::line(file, line as u64 + 1, Some(&field), message)
            })
            .collect();
        for (i, p) in powers.iter().enumerate() {
            if !reference.units.iter().any(|u| u.code == p.unit) {
                errors.push(InputError::line(
                    file,
                    i as u64 + 2,
                    Some("unit"),
                    format!("no unit `{}`", p.unit),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let entries = powers
            .iter()
            .map(|p| (p.code.clone(), p.fields()))
            .collect();
        self.publish_entries(actor, ListKind::Power, effective_from, note, entries)
            .await
    }

    /// A power list from CSV (the columns of `POWER_COLUMNS`, found by header name), all or
    /// nothing.
    pub async fn publish_power_list_csv(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
        effective_from: Date,
        note: &str,
    ) -> AppResult<Version> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| InputError::line(file, 1, Some("header"), e.to_string()))?
            .iter()
            .map(|c| c.trim().to_owned())
            .collect();
        let mut at = BTreeMap::new();
        let mut errors = Vec::new();
        for column in POWER_COLUMNS {
            match header.iter().position(|h| h == column) {
                Some(i) => {
                    at.insert(column, i);
                }
                None => errors.push(InputError::line(
                    file,
                    1,
                    Some(column),
                    format!("the header needs the column `{column}`"),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let mut powers = Vec::new();
        for row in reader.records() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    return Err(InputError::line(file, line, Some("row"), e.to_string()).into());
                }
            };
            let get = |c: &str| {
                at.get(c)
                    .and_then(|i| row.get(*i))
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            powers.push(Power {
                code: get("code"),
                name: get("name"),
                category: get("category"),
                basis: get("basis"),
                unit: get("unit"),
                process: get("process"),
                time_limit: get("time_limit"),
                supervision: get("supervision"),
            });
        }
        self.publish_power_list(actor, file, effective_from, note, powers)
            .await
    }

    /// Publishes the responsibility list in force now as the next version.
    pub async fn publish_responsibility_version(
        &self,
        actor: &Actor,
        effective_from: Date,
        note: &str,
    ) -> AppResult<Version> {
        let reference = self.reference().await?;
        self.may_publish_lists(actor, &reference.policy(), reference.top_region.as_ref())?;
        if reference.rules.is_empty() {
            return Err(AppError::Invalid(
                "there is no responsibility list to publish".into(),
            ));
        }
        let mut entries: Vec<Entry> = reference
            .rules
            .iter()
            .map(|r| {
                let condition = r
                    .condition
                    .as_ref()
                    .map(|c| format!("{c:?}"))
                    .unwrap_or_default();
                let key = format!(
                    "{}@{}{}",
                    r.category,
                    r.region,
                    if condition.is_empty() {
                        String::new()
                    } else {
                        format!(" {condition}")
                    }
                );
                let fields: BTreeMap<String, String> = [
                    (
                        "category",
                        reference
                            .category(&r.category)
                            .map_or_else(|| r.category.to_string(), |c| c.name_zh.clone()),
                    ),
                    ("region", reference.region_name(&r.region)),
                    ("condition", condition),
                    ("basis", r.basis.as_str().to_owned()),
                    ("primary", reference.unit_name(&r.primary)),
                    (
                        "co_handlers",
                        r.co_handlers
                            .iter()
                            .map(|u| reference.unit_name(u))
                            .collect::<Vec<_>>()
                            .join("、"),
                    ),
                    ("note", r.note.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                (key, fields)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        self.publish_entries(
            actor,
            ListKind::Responsibility,
            effective_from,
            note,
            entries,
        )
        .await
    }

    /// Every version of a list, oldest first, each with its changes.
    pub async fn list_history(&self, kind: ListKind) -> AppResult<Vec<Version>> {
        let records = self.repo.list_versions(kind.as_str()).await?;
        let reference = self.reference().await?;
        let today = self
            .clock
            .now()
            .to_zoned(reference.calendar.time_zone().clone())
            .date();
        let in_force = lists::in_force(
            &records
                .iter()
                .map(|r| (r.number, r.effective_from))
                .collect::<Vec<_>>(),
            today,
        );
        let mut out: Vec<Version> = Vec::new();
        for r in records {
            let entries: Vec<Entry> = serde_json::from_str(&r.entries).map_err(|_| {
                AppError::Invalid(format!("{} list version {} is unreadable", kind, r.number))
            })?;
            let changes = lists::diff(
                out.last().map_or(&[][..], |p| p.entries.as_slice()),
                &entries,
            );
            out.push(Version {
                kind,
                number: r.number,
                effective_from: r.effective_from,
                published_by: r.published_by,
                published_at: r.published_at,
                note: r.note,
                entries,
                changes,
                in_force: in_force == Some(r.number),
            });
        }
        Ok(out)
    }

    pub async fn list_version(&self, kind: ListKind, number: u32) -> AppResult<Version> {
        self.list_history(kind)
            .await?
            .into_iter()
            .find(|v| v.number == number)
            .ok_or_else(|| AppError::NotFound(format!("{kind} list version {number}")))
    }

    /// The version in force today, if any took effect yet.
    pub async fn list_in_force(&self, kind: ListKind) -> AppResult<Option<Version>> {
        Ok(self
            .list_history(kind)
            .await?
            .into_iter()
            .find(|v| v.in_force))
    }
}

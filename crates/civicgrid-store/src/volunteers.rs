//! Volunteers, activities with shifts and sign-ups, check-in and check-out, and the hours
//! ledger.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `volunteers_sql!`. The ledger is append-only in the schema itself (a
//! trigger refuses deletes and changes to a decided entry); an entry is queued for the
//! assessment in the transaction that records or decides it.

use async_trait::async_trait;
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_domain::volunteer::HoursStatus;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct VolunteerRecord {
    pub id: uuid::Uuid,
    /// The number certificates carry (志愿者编号).
    pub number: String,
    pub username: Option<String>,
    pub name: String,
    pub phone_sealed: Option<String>,
    /// The community the volunteer registered with.
    pub region: RegionCode,
    pub skills: Vec<String>,
    /// When they can serve, in their words (e.g. 周末上午).
    pub availability: String,
    /// When they consented to their data being kept.
    pub consent_at: Timestamp,
    pub registered_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub id: uuid::Uuid,
    pub title: String,
    pub description: String,
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub place: String,
    pub required_skills: Vec<String>,
    /// The account that organises it and certifies its hours.
    pub organiser: String,
    /// The secret in the activity's check-in QR code.
    pub check_token: String,
    /// The case whose task the activity carries out (e.g. 文明劝导, a clean-up).
    pub case: Option<uuid::Uuid>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShiftRecord {
    pub id: uuid::Uuid,
    pub activity: uuid::Uuid,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignupRecord {
    pub id: uuid::Uuid,
    pub shift: uuid::Uuid,
    pub volunteer: uuid::Uuid,
    pub signed_up_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
    pub checked_in_at: Option<Timestamp>,
    pub checked_out_at: Option<Timestamp>,
    /// Checked in or out by hand rather than by the QR code.
    pub manual: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoursRecord {
    pub id: uuid::Uuid,
    pub volunteer: uuid::Uuid,
    pub activity: Option<uuid::Uuid>,
    pub case: Option<uuid::Uuid>,
    /// Where the service took place.
    pub region: RegionCode,
    pub day: Date,
    pub minutes: u32,
    pub manual: bool,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub status: HoursStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub note: String,
}

/// The assessment source ledger entries are queued under.
pub const HOURS_SOURCE: &str = "volunteer_hours";

#[async_trait]
pub trait VolunteerStore: Send + Sync {
    /// A new volunteer or a change to one, by id.
    async fn save_volunteer(&self, v: &VolunteerRecord) -> Result<(), StoreError>;
    async fn volunteer(&self, id: &uuid::Uuid) -> Result<Option<VolunteerRecord>, StoreError>;
    async fn volunteer_by_username(
        &self,
        username: &str,
    ) -> Result<Option<VolunteerRecord>, StoreError>;
    /// Volunteers registered in `within`, by name.
    async fn volunteers(&self, within: &RegionCode) -> Result<Vec<VolunteerRecord>, StoreError>;
    /// A new activity with its shifts, in one transaction.
    async fn create_activity(
        &self,
        a: &ActivityRecord,
        shifts: &[ShiftRecord],
    ) -> Result<(), StoreError>;
    async fn activity(&self, id: &uuid::Uuid) -> Result<Option<ActivityRecord>, StoreError>;
    /// Activities in `within` with a shift ending after `after`, soonest first.
    async fn activities(
        &self,
        within: &RegionCode,
        after: Timestamp,
        limit: u32,
    ) -> Result<Vec<ActivityRecord>, StoreError>;
    async fn shifts(&self, activity: &uuid::Uuid) -> Result<Vec<ShiftRecord>, StoreError>;
    async fn shift(&self, id: &uuid::Uuid) -> Result<Option<ShiftRecord>, StoreError>;
    /// Signs a volunteer up for a shift (again, at the end of the queue, after a
    /// cancellation); `Conflict` if already signed up.
    async fn sign_up(&self, s: &SignupRecord) -> Result<(), StoreError>;
    /// Cancels an active sign-up; false if there was none.
    async fn cancel_signup(
        &self,
        shift: &uuid::Uuid,
        volunteer: &uuid::Uuid,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// A shift's sign-ups in the order they were made (cancelled ones included).
    async fn signups(&self, shift: &uuid::Uuid) -> Result<Vec<SignupRecord>, StoreError>;
    /// A volunteer's sign-ups, newest first.
    async fn signups_of(&self, volunteer: &uuid::Uuid) -> Result<Vec<SignupRecord>, StoreError>;
    /// Checks a volunteer in; false if not signed up or already checked in.
    async fn check_in(
        &self,
        shift: &uuid::Uuid,
        volunteer: &uuid::Uuid,
        at: Timestamp,
        manual: bool,
    ) -> Result<bool, StoreError>;
    /// Checks a volunteer out and records the served time in the ledger, in one transaction;
    /// false if not checked in or already out.
    async fn check_out(
        &self,
        shift: &uuid::Uuid,
        volunteer: &uuid::Uuid,
        at: Timestamp,
        manual: bool,
        hours: &HoursRecord,
    ) -> Result<bool, StoreError>;
    /// Adds a pending entry to the ledger.
    async fn record_hours(&self, h: &HoursRecord) -> Result<(), StoreError>;
    /// Approves or declines pending entries, in one transaction; returns the ids decided
    /// (entries already decided are left as they are).
    async fn decide_hours(
        &self,
        ids: &[uuid::Uuid],
        status: HoursStatus,
        by: &str,
        at: Timestamp,
    ) -> Result<Vec<uuid::Uuid>, StoreError>;
    async fn hours_entry(&self, id: &uuid::Uuid) -> Result<Option<HoursRecord>, StoreError>;
    /// A volunteer's ledger, by day.
    async fn hours_of(&self, volunteer: &uuid::Uuid) -> Result<Vec<HoursRecord>, StoreError>;
    /// Entries served in `within`, newest first, of one status or all, at most `limit`.
    async fn hours_in(
        &self,
        within: &RegionCode,
        status: Option<HoursStatus>,
        limit: u32,
    ) -> Result<Vec<HoursRecord>, StoreError>;
}

pub(crate) const VOLUNTEER_COLUMNS: &str = "id, number, username, name, phone_sealed, region_code, skills, availability, consent_at, registered_at";
pub(crate) const ACTIVITY_COLUMNS: &str = "id, title, description, region_code, grid_code, place, required_skills, organiser, check_token, case_id, created_at";
pub(crate) const SIGNUP_COLUMNS: &str =
    "id, shift_id, volunteer_id, signed_up_at, cancelled_at, checked_in_at, checked_out_at, manual";
pub(crate) const HOURS_COLUMNS: &str = "id, volunteer_id, activity_id, case_id, region_code, day, minutes, manual, recorded_by, recorded_at, status, decided_by, decided_at, note";

type VolunteerRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
);
#[allow(clippy::type_complexity)]
type ActivityRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
);
type SignupRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    bool,
);
#[allow(clippy::type_complexity)]
type HoursRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    bool,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    String,
);

fn id(what: &str, s: &str) -> Result<uuid::Uuid, StoreError> {
    crate::sql::parse(what, s)
}

fn at(t: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    t.map(crate::model::from_micros).transpose()
}

pub(crate) fn volunteer_from_row(r: VolunteerRow) -> Result<VolunteerRecord, StoreError> {
    let (
        vid,
        number,
        username,
        name,
        phone_sealed,
        region,
        skills,
        availability,
        consent_at,
        registered_at,
    ) = r;
    Ok(VolunteerRecord {
        id: id("volunteer id", &vid)?,
        number,
        username,
        name,
        phone_sealed,
        region: crate::sql::parse("volunteer region", &region)?,
        skills: crate::sql::from_json("volunteer skills", &skills)?,
        availability,
        consent_at: crate::model::from_micros(consent_at)?,
        registered_at: crate::model::from_micros(registered_at)?,
    })
}

pub(crate) fn activity_from_row(r: ActivityRow) -> Result<ActivityRecord, StoreError> {
    let (
        aid,
        title,
        description,
        region,
        grid,
        place,
        skills,
        organiser,
        check_token,
        case,
        created_at,
    ) = r;
    Ok(ActivityRecord {
        id: id("activity id", &aid)?,
        title,
        description,
        region: crate::sql::parse("activity region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("activity grid", &g))
            .transpose()?,
        place,
        required_skills: crate::sql::from_json("required skills", &skills)?,
        organiser,
        check_token,
        case: case.map(|c| id("activity case", &c)).transpose()?,
        created_at: crate::model::from_micros(created_at)?,
    })
}

pub(crate) fn signup_from_row(r: SignupRow) -> Result<SignupRecord, StoreError> {
    let (sid, shift, volunteer, signed_up_at, cancelled_at, checked_in_at, checked_out_at, manual) =
        r;
    Ok(SignupRecord {
        id: id("sign-up id", &sid)?,
        shift: id("shift id", &shift)?,
        volunteer: id("volunteer id", &volunteer)?,
        signed_up_at: crate::model::from_micros(signed_up_at)?,
        cancelled_at: at(cancelled_at)?,
        checked_in_at: at(checked_in_at)?,
        checked_out_at: at(checked_out_at)?,
        manual,
    })
}

pub(crate) fn hours_from_row(r: HoursRow) -> Result<HoursRecord, StoreError> {
    let (
        hid,
        volunteer,
        activity,
        case,
        region,
        day,
        minutes,
        manual,
        recorded_by,
        recorded_at,
        status,
        decided_by,
        decided_at,
        note,
    ) = r;
    Ok(HoursRecord {
        id: id("hours id", &hid)?,
        volunteer: id("volunteer id", &volunteer)?,
        activity: activity.map(|a| id("activity id", &a)).transpose()?,
        case: case.map(|c| id("case id", &c)).transpose()?,
        region: crate::sql::parse("hours region", &region)?,
        day: crate::sql::date("hours day", &day)?,
        minutes: u32::try_from(minutes)
            .map_err(|_| StoreError::Corrupt(format!("hours minutes {minutes}")))?,
        manual,
        recorded_by,
        recorded_at: crate::model::from_micros(recorded_at)?,
        status: crate::sql::parse("hours status", &status)?,
        decided_by,
        decided_at: at(decided_at)?,
        note,
    })
}

macro_rules! volunteers_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            async fn insert_hours(
                tx: &mut sqlx::Transaction<'_, $db>,
                h: &$crate::HoursRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO volunteer_hours ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    $crate::volunteers::HOURS_COLUMNS
                ))
                .bind(h.id.to_string())
                .bind(h.volunteer.to_string())
                .bind(h.activity.map(|a| a.to_string()))
                .bind(h.case.map(|c| c.to_string()))
                .bind(h.region.as_str())
                .bind(h.day.to_string())
                .bind(i64::from(h.minutes))
                .bind(h.manual)
                .bind(&h.recorded_by)
                .bind($crate::model::micros(h.recorded_at))
                .bind(h.status.as_str())
                .bind(&h.decided_by)
                .bind(h.decided_at.map($crate::model::micros))
                .bind(&h.note)
                .execute(&mut **tx)
                .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind($crate::volunteers::HOURS_SOURCE)
                    .bind(h.id.to_string())
                    .bind(h.region.as_str())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::VolunteerStore for $repo {
            async fn save_volunteer(&self, v: &$crate::VolunteerRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO volunteers ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (id) DO UPDATE SET username = $3, name = $4, phone_sealed = $5, region_code = $6,
                       skills = $7, availability = $8, consent_at = $9",
                    $crate::volunteers::VOLUNTEER_COLUMNS
                ))
                .bind(v.id.to_string())
                .bind(&v.number)
                .bind(&v.username)
                .bind(&v.name)
                .bind(&v.phone_sealed)
                .bind(v.region.as_str())
                .bind($crate::sql::to_json(&v.skills)?)
                .bind(&v.availability)
                .bind($crate::model::micros(v.consent_at))
                .bind($crate::model::micros(v.registered_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn volunteer(&self, vid: &uuid::Uuid) -> Result<Option<$crate::VolunteerRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM volunteers WHERE id = $1", $crate::volunteers::VOLUNTEER_COLUMNS))
                    .bind(vid.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::volunteers::volunteer_from_row).transpose()
            }
            async fn volunteer_by_username(&self, username: &str) -> Result<Option<$crate::VolunteerRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM volunteers WHERE username = $1", $crate::volunteers::VOLUNTEER_COLUMNS))
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::volunteers::volunteer_from_row).transpose()
            }
            async fn volunteers(&self, within: &civicgrid_domain::territory::RegionCode) -> Result<Vec<$crate::VolunteerRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM volunteers WHERE region_code LIKE $1 ORDER BY name, id",
                    $crate::volunteers::VOLUNTEER_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::volunteer_from_row).collect()
            }
            async fn create_activity(&self, a: &$crate::ActivityRecord, shifts: &[$crate::ShiftRecord]) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO activities ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    $crate::volunteers::ACTIVITY_COLUMNS
                ))
                .bind(a.id.to_string())
                .bind(&a.title)
                .bind(&a.description)
                .bind(a.region.as_str())
                .bind(a.grid.as_ref().map(|g| g.as_str()))
                .bind(&a.place)
                .bind($crate::sql::to_json(&a.required_skills)?)
                .bind(&a.organiser)
                .bind(&a.check_token)
                .bind(a.case.map(|c| c.to_string()))
                .bind($crate::model::micros(a.created_at))
                .execute(&mut *tx)
                .await?;
                for s in shifts {
                    sqlx::query("INSERT INTO activity_shifts (id, activity_id, starts_at, ends_at, capacity) VALUES ($1, $2, $3, $4, $5)")
                        .bind(s.id.to_string())
                        .bind(a.id.to_string())
                        .bind($crate::model::micros(s.starts_at))
                        .bind($crate::model::micros(s.ends_at))
                        .bind(i64::from(s.capacity))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn activity(&self, aid: &uuid::Uuid) -> Result<Option<$crate::ActivityRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM activities WHERE id = $1", $crate::volunteers::ACTIVITY_COLUMNS))
                    .bind(aid.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::volunteers::activity_from_row).transpose()
            }
            async fn activities(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                after: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::ActivityRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM activities a WHERE region_code LIKE $1
                       AND EXISTS (SELECT 1 FROM activity_shifts s WHERE s.activity_id = a.id AND s.ends_at > $2)
                     ORDER BY (SELECT MIN(starts_at) FROM activity_shifts s WHERE s.activity_id = a.id), id LIMIT $3",
                    $crate::volunteers::ACTIVITY_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind($crate::model::micros(after))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::activity_from_row).collect()
            }
            async fn shifts(&self, activity: &uuid::Uuid) -> Result<Vec<$crate::ShiftRecord>, $crate::StoreError> {
                let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT id, activity_id, starts_at, ends_at, capacity FROM activity_shifts WHERE activity_id = $1 ORDER BY starts_at, id",
                )
                .bind(activity.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::shift_from_row).collect()
            }
            async fn shift(&self, sid: &uuid::Uuid) -> Result<Option<$crate::ShiftRecord>, $crate::StoreError> {
                let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT id, activity_id, starts_at, ends_at, capacity FROM activity_shifts WHERE id = $1",
                )
                .bind(sid.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::volunteers::shift_from_row).transpose()
            }
            async fn sign_up(&self, s: &$crate::SignupRecord) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(&format!(
                    "INSERT INTO shift_signups ({}) VALUES ($1, $2, $3, $4, NULL, NULL, NULL, $5)
                     ON CONFLICT (shift_id, volunteer_id) DO UPDATE SET signed_up_at = $4, cancelled_at = NULL
                     WHERE shift_signups.cancelled_at IS NOT NULL AND shift_signups.checked_in_at IS NULL",
                    $crate::volunteers::SIGNUP_COLUMNS
                ))
                .bind(s.id.to_string())
                .bind(s.shift.to_string())
                .bind(s.volunteer.to_string())
                .bind($crate::model::micros(s.signed_up_at))
                .bind(false)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Conflict("already signed up for this shift".into()));
                }
                Ok(())
            }
            async fn cancel_signup(&self, shift: &uuid::Uuid, volunteer: &uuid::Uuid, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE shift_signups SET cancelled_at = $3
                     WHERE shift_id = $1 AND volunteer_id = $2 AND cancelled_at IS NULL AND checked_in_at IS NULL",
                )
                .bind(shift.to_string())
                .bind(volunteer.to_string())
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }
            async fn signups(&self, shift: &uuid::Uuid) -> Result<Vec<$crate::SignupRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM shift_signups WHERE shift_id = $1 ORDER BY signed_up_at, id",
                    $crate::volunteers::SIGNUP_COLUMNS
                ))
                .bind(shift.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::signup_from_row).collect()
            }
            async fn signups_of(&self, volunteer: &uuid::Uuid) -> Result<Vec<$crate::SignupRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM shift_signups WHERE volunteer_id = $1 ORDER BY signed_up_at DESC, id DESC",
                    $crate::volunteers::SIGNUP_COLUMNS
                ))
                .bind(volunteer.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::signup_from_row).collect()
            }
            async fn check_in(&self, shift: &uuid::Uuid, volunteer: &uuid::Uuid, at: jiff::Timestamp, manual: bool) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE shift_signups SET checked_in_at = $3, manual = (manual OR $4)
                     WHERE shift_id = $1 AND volunteer_id = $2 AND cancelled_at IS NULL AND checked_in_at IS NULL",
                )
                .bind(shift.to_string())
                .bind(volunteer.to_string())
                .bind($crate::model::micros(at))
                .bind(manual)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }
            async fn check_out(
                &self,
                shift: &uuid::Uuid,
                volunteer: &uuid::Uuid,
                at: jiff::Timestamp,
                manual: bool,
                hours: &$crate::HoursRecord,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE shift_signups SET checked_out_at = $3, manual = (manual OR $4)
                     WHERE shift_id = $1 AND volunteer_id = $2 AND checked_in_at IS NOT NULL AND checked_out_at IS NULL",
                )
                .bind(shift.to_string())
                .bind(volunteer.to_string())
                .bind($crate::model::micros(at))
                .bind(manual)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::insert_hours(&mut tx, hours).await?;
                tx.commit().await?;
                Ok(true)
            }
            async fn record_hours(&self, h: &$crate::HoursRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::insert_hours(&mut tx, h).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn decide_hours(
                &self,
                ids: &[uuid::Uuid],
                status: civicgrid_domain::volunteer::HoursStatus,
                by: &str,
                at: jiff::Timestamp,
            ) -> Result<Vec<uuid::Uuid>, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let mut decided = Vec::new();
                for hid in ids {
                    let region: Option<(String,)> = sqlx::query_as(
                        "UPDATE volunteer_hours SET status = $2, decided_by = $3, decided_at = $4
                         WHERE id = $1 AND status = 'pending' RETURNING region_code",
                    )
                    .bind(hid.to_string())
                    .bind(status.as_str())
                    .bind(by)
                    .bind($crate::model::micros(at))
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((region,)) = region {
                        decided.push(*hid);
                        sqlx::query($crate::sql::MARK_KPI)
                            .bind($crate::volunteers::HOURS_SOURCE)
                            .bind(hid.to_string())
                            .bind(region)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(decided)
            }
            async fn hours_entry(&self, hid: &uuid::Uuid) -> Result<Option<$crate::HoursRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM volunteer_hours WHERE id = $1", $crate::volunteers::HOURS_COLUMNS))
                    .bind(hid.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::volunteers::hours_from_row).transpose()
            }
            async fn hours_of(&self, volunteer: &uuid::Uuid) -> Result<Vec<$crate::HoursRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM volunteer_hours WHERE volunteer_id = $1 ORDER BY day, recorded_at, id",
                    $crate::volunteers::HOURS_COLUMNS
                ))
                .bind(volunteer.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::hours_from_row).collect()
            }
            async fn hours_in(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                status: Option<civicgrid_domain::volunteer::HoursStatus>,
                limit: u32,
            ) -> Result<Vec<$crate::HoursRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM volunteer_hours WHERE region_code LIKE $1 AND ($2 IS NULL OR status = $2)
                     ORDER BY day DESC, recorded_at DESC, id DESC LIMIT $3",
                    $crate::volunteers::HOURS_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind(status.map(|s| s.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::volunteers::hours_from_row).collect()
            }
        }
    };
}

pub(crate) fn shift_from_row(
    (sid, activity, starts_at, ends_at, capacity): (String, String, i64, i64, i64),
) -> Result<ShiftRecord, StoreError> {
    Ok(ShiftRecord {
        id: id("shift id", &sid)?,
        activity: id("activity id", &activity)?,
        starts_at: crate::model::from_micros(starts_at)?,
        ends_at: crate::model::from_micros(ends_at)?,
        capacity: u32::try_from(capacity)
            .map_err(|_| StoreError::Corrupt(format!("capacity {capacity}")))?,
    })
}

pub(crate) use volunteers_sql;

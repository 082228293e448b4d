//! The notification outbox (migration sqlite 0027 / postgres 0028): case events waiting to
//! become messages (kept by a trigger in the event's transaction), the messages themselves
//! (sealed; leased for delivery across instances; sent, dead after the last try, or discarded
//! by an administrator), templates changed from the shipped ones, reporters' unsubscribes and
//! staff members' channels.

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// A message to be delivered, as the notifier writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: Uuid,
    pub topic: String,
    /// `email` or `sms`.
    pub channel: String,
    /// `reporter`, or a staff account's name.
    pub recipient: String,
    /// The address, subject and body, sealed and bound to `id`.
    pub sealed: String,
    pub urgent: bool,
    /// When it may first go (later than now in quiet hours).
    pub not_before: Timestamp,
}

/// A message as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: Uuid,
    pub case_id: Uuid,
    pub seq: u64,
    pub topic: String,
    pub channel: String,
    pub recipient: String,
    pub sealed: String,
    pub urgent: bool,
    /// `pending`, `sent`, `dead` or `discarded`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub discarded_by: Option<String>,
    pub discard_reason: Option<String>,
}

/// A template changed from the shipped one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub topic: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub sms: String,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

/// How a staff member wants to be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffChannelsRecord {
    pub username: String,
    /// What `sealed` is bound to.
    pub id: Uuid,
    /// The e-mail address and phone number, sealed.
    pub sealed: String,
    pub email: bool,
    pub sms: bool,
    pub digest: bool,
    pub updated_at: Timestamp,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessageCounts {
    pub pending: u64,
    pub sent: u64,
    pub dead: u64,
    pub discarded: u64,
    /// Case events not yet turned into messages.
    pub waiting_events: u64,
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Case events waiting to be turned into messages, oldest first.
    async fn waiting_notification_events(&self, limit: u32) -> Result<Vec<CaseEvent>, StoreError>;
    /// Kept events of another source than cases (`meeting`: a convened meeting, `notice`: an
    /// urgent notice to grids) not yet turned into messages: (its id, the event's seq).
    async fn waiting_source_events(
        &self,
        source: &str,
        limit: u32,
    ) -> Result<Vec<(Uuid, u64)>, StoreError>;
    /// Stores an urgent notice to grids and keeps it for the notifier, in one transaction.
    async fn issue_grid_notice(&self, notice: &GridNoticeRecord) -> Result<(), StoreError>;
    async fn grid_notice(&self, id: &Uuid) -> Result<Option<GridNoticeRecord>, StoreError>;
    /// The newest notices first.
    async fn grid_notices(&self, limit: u32) -> Result<Vec<GridNoticeRecord>, StoreError>;
    /// Writes an event's messages and takes the event off the waiting list, in one commit.
    /// A message already written for the same (event, topic, channel, recipient) is kept as
    /// it is, so two instances expanding one event write each message once.
    async fn expand_notification_event(
        &self,
        event: (&Uuid, u64),
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Drops the waiting events recorded before `before` without writing their messages (a
    /// demo's or an import's history is not news to anyone); returns how many.
    async fn forget_notification_events(&self, before: Timestamp) -> Result<u64, StoreError>;
    /// Leases up to `limit` pending messages due at `now` that no live lease holds, until
    /// `until`; each lease counts as a try.
    async fn claim_messages(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<MessageRecord>, StoreError>;
    /// Records how a leased message's try ended; `false` (and no change) if `owner` no
    /// longer holds it.
    async fn finish_message(
        &self,
        id: &Uuid,
        owner: &str,
        at: Timestamp,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, StoreError>;
    /// Messages in a state (`dead` for the dead-letter list), newest first.
    async fn messages_in(&self, status: &str, limit: u32)
    -> Result<Vec<MessageRecord>, StoreError>;
    async fn message(&self, id: &Uuid) -> Result<Option<MessageRecord>, StoreError>;
    /// A case's messages, oldest first.
    async fn case_messages(&self, case: &Uuid) -> Result<Vec<MessageRecord>, StoreError>;
    async fn message_counts(&self) -> Result<MessageCounts, StoreError>;
    /// A dead message goes back to pending with its tries reset; `false` if it is not dead.
    async fn retry_message(&self, id: &Uuid, at: Timestamp) -> Result<bool, StoreError>;
    /// A dead message is discarded with a reason; `false` if it is not dead.
    async fn discard_message(
        &self,
        id: &Uuid,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
    async fn notification_templates(&self) -> Result<Vec<TemplateRecord>, StoreError>;
    async fn save_notification_template(&self, t: &TemplateRecord) -> Result<(), StoreError>;
    /// Goes back to the shipped template; `false` if none was changed.
    async fn reset_notification_template(
        &self,
        topic: &str,
        language: &str,
    ) -> Result<bool, StoreError>;
    /// The reporter of `case` wants no more messages (idempotent).
    async fn unsubscribe_reporter(&self, case: &Uuid, at: Timestamp) -> Result<(), StoreError>;
    async fn is_unsubscribed(&self, case: &Uuid) -> Result<bool, StoreError>;
    async fn staff_channels(
        &self,
        usernames: &[String],
    ) -> Result<Vec<StaffChannelsRecord>, StoreError>;
    async fn save_staff_channels(&self, c: &StaffChannelsRecord) -> Result<(), StoreError>;

    /// Keeps a new verification code unless `allow`, shown when codes went to the same
    /// number since `since`, refuses it (its `Err` is passed back: when one may be sent).
    /// One transaction, the number locked: two requests at once cannot both pass the limit.
    async fn issue_verification_code(
        &self,
        code: &VerificationCode,
        since: Timestamp,
        allow: &(dyn for<'s> Fn(&'s [Timestamp]) -> Result<(), Timestamp> + Send + Sync),
    ) -> Result<Result<(), Timestamp>, StoreError>;
    /// The newest code for (number, purpose, case), spent or not.
    async fn latest_verification_code(
        &self,
        number: &str,
        purpose: &str,
        case: &Uuid,
    ) -> Result<Option<VerificationCode>, StoreError>;
    /// Counts a guess at a code; the guesses so far, this one included.
    async fn guess_verification_code(&self, id: &Uuid) -> Result<u32, StoreError>;
    /// Spends a code; false if it was already spent.
    async fn spend_verification_code(&self, id: &Uuid, at: Timestamp) -> Result<bool, StoreError>;
}

/// An urgent notice (紧急通知) to the grid workers of some grids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridNoticeRecord {
    pub id: Uuid,
    pub title: String,
    pub text: String,
    /// Grid codes.
    pub grids: Vec<String>,
    /// The region containing them all, for who may read the notice.
    pub region: String,
    pub issued_by: String,
    pub issued_at: Timestamp,
}

type NoticeRow = (String, String, String, String, String, String, i64);

pub(crate) fn notice_from_row(r: NoticeRow) -> Result<GridNoticeRecord, StoreError> {
    Ok(GridNoticeRecord {
        id: r
            .0
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("notice id {}", r.0)))?,
        title: r.1,
        text: r.2,
        grids: serde_json::from_str(&r.3)
            .map_err(|e| StoreError::Corrupt(format!("notice grids: {e}")))?,
        region: r.4,
        issued_by: r.5,
        issued_at: crate::model::from_micros(r.6)?,
    })
}

/// A code texted to a resident. The number is kept only as a keyed digest (`number`), the
/// code only as a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationCode {
    pub id: Uuid,
    pub number: String,
    pub purpose: String,
    pub case_id: Uuid,
    pub code_digest: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub guesses: u32,
    pub spent_at: Option<Timestamp>,
}

pub(crate) type CodeRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

pub(crate) fn code_from_row(r: CodeRow) -> Result<VerificationCode, StoreError> {
    let id = |t: &str| {
        t.parse()
            .map_err(|_| StoreError::Corrupt(format!("verification code id {t}")))
    };
    Ok(VerificationCode {
        id: id(&r.0)?,
        number: r.1,
        purpose: r.2,
        case_id: id(&r.3)?,
        code_digest: r.4,
        created_at: crate::model::from_micros(r.5)?,
        expires_at: crate::model::from_micros(r.6)?,
        guesses: u32::try_from(r.7).unwrap_or(u32::MAX),
        spent_at: r.8.map(crate::model::from_micros).transpose()?,
    })
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, case_id, seq, topic, channel, recipient, sealed, urgent, status, attempts, next_attempt_at, created_at, done_at, last_error, discarded_by, discard_reason";

pub(crate) type MessageRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    bool,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn message_from_row(r: MessageRow) -> Result<MessageRecord, StoreError> {
    Ok(MessageRecord {
        id: crate::sql::parse("message id", &r.0)?,
        case_id: crate::sql::parse("case id", &r.1)?,
        seq: u64::try_from(r.2).map_err(crate::error::corrupt)?,
        topic: r.3,
        channel: r.4,
        recipient: r.5,
        sealed: r.6,
        urgent: r.7,
        status: r.8,
        attempts: u32::try_from(r.9).map_err(crate::error::corrupt)?,
        next_attempt_at: crate::model::from_micros(r.10)?,
        created_at: crate::model::from_micros(r.11)?,
        done_at: r.12.map(crate::model::from_micros).transpose()?,
        last_error: r.13,
        discarded_by: r.14,
        discard_reason: r.15,
    })
}

pub(crate) type ChannelsRow = (String, String, String, bool, bool, bool, i64);

pub(crate) fn channels_from_row(r: ChannelsRow) -> Result<StaffChannelsRecord, StoreError> {
    Ok(StaffChannelsRecord {
        username: r.0,
        id: crate::sql::parse("channels id", &r.1)?,
        sealed: r.2,
        email: r.3,
        sms: r.4,
        digest: r.5,
        updated_at: crate::model::from_micros(r.6)?,
    })
}

macro_rules! notifications_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::NotificationStore for $repo {
            async fn waiting_notification_events(&self, limit: u32) -> Result<Vec<$crate::CaseEvent>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, i64, String, Option<String>, String, String, i64, String)> = sqlx::query_as(
                    "SELECT e.case_id, e.seq, e.action, e.from_status, e.to_status, e.actor, e.at, e.payload
                       FROM notification_events n
                       JOIN case_events e ON e.case_id = n.case_id AND e.seq = n.seq
                      WHERE n.source = 'case'
                      ORDER BY n.at, n.case_id, n.seq LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, seq, a, f, t, who, at, p)| $crate::sql::event_from_row(c, seq, a, f, t, who, at, p))
                    .collect()
            }

            async fn waiting_source_events(&self, source: &str, limit: u32) -> Result<Vec<(uuid::Uuid, u64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT case_id, seq FROM notification_events WHERE source = $1 ORDER BY at, case_id, seq LIMIT $2",
                )
                .bind(source)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, seq)| {
                        let id = id.parse().map_err(|_| $crate::StoreError::Corrupt(format!("{source} event {id}")))?;
                        Ok((id, u64::try_from(seq).map_err($crate::error::corrupt)?))
                    })
                    .collect()
            }

            async fn issue_grid_notice(&self, n: &$crate::GridNoticeRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO grid_notices (id, title, text, grids, region_code, issued_by, issued_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(n.id.to_string())
                .bind(&n.title)
                .bind(&n.text)
                .bind($crate::sql::to_json(&n.grids)?)
                .bind(&n.region)
                .bind(&n.issued_by)
                .bind($crate::model::micros(n.issued_at))
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO notification_events (case_id, seq, at, source) VALUES ($1, 1, $2, 'notice')")
                    .bind(n.id.to_string())
                    .bind($crate::model::micros(n.issued_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn grid_notice(&self, id: &uuid::Uuid) -> Result<Option<$crate::GridNoticeRecord>, $crate::StoreError> {
                let row: Option<(String, String, String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT id, title, text, grids, region_code, issued_by, issued_at FROM grid_notices WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::notifications::notice_from_row).transpose()
            }

            async fn grid_notices(&self, limit: u32) -> Result<Vec<$crate::GridNoticeRecord>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT id, title, text, grids, region_code, issued_by, issued_at FROM grid_notices ORDER BY issued_at DESC, id DESC LIMIT $1",
                )
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::notifications::notice_from_row).collect()
            }

            async fn expand_notification_event(
                &self,
                event: (&uuid::Uuid, u64),
                messages: &[$crate::NewMessage],
                now: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let case_id = event.0.to_string();
                let seq = i64::try_from(event.1).map_err($crate::error::corrupt)?;
                let mut tx = self.begin().await?;
                for m in messages {
                    sqlx::query(
                        "INSERT INTO notification_messages
                           (id, case_id, seq, topic, channel, recipient, sealed, urgent, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT (case_id, seq, topic, channel, recipient) DO NOTHING",
                    )
                    .bind(m.id.to_string())
                    .bind(&case_id)
                    .bind(seq)
                    .bind(&m.topic)
                    .bind(&m.channel)
                    .bind(&m.recipient)
                    .bind(&m.sealed)
                    .bind(m.urgent)
                    .bind($crate::model::micros(m.not_before))
                    .bind($crate::model::micros(now))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("DELETE FROM notification_events WHERE case_id = $1 AND seq = $2")
                    .bind(&case_id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn forget_notification_events(&self, before: jiff::Timestamp) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM notification_events WHERE at < $1")
                    .bind($crate::model::micros(before))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn claim_messages(
                &self,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::MessageRecord>, $crate::StoreError> {
                // Most rounds find nothing: look before taking the write lock.
                let due: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM notification_messages
                      WHERE status = 'pending' AND next_attempt_at <= $1 AND leased_until <= $1 LIMIT 1",
                )
                .bind($crate::model::micros(now))
                .fetch_optional(&self.pool)
                .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                // As for webhook deliveries: PostgreSQL materialises the pick and skips rows
                // another instance is claiming; SQLite has one writer. A recipient's notices
                // held for the digest are claimed together, however many, so the digest is one
                // e-mail.
                let claim = if $backend == "postgres" {
                    "WITH first AS MATERIALIZED (
                       SELECT id, channel, recipient FROM notification_messages
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED),
                     rest AS MATERIALIZED (
                       SELECT d.id FROM notification_messages d
                        WHERE d.channel = 'digest' AND d.status = 'pending' AND d.next_attempt_at <= $2
                          AND d.leased_until <= $2
                          AND d.recipient IN (SELECT recipient FROM first WHERE channel = 'digest')
                        FOR UPDATE SKIP LOCKED),
                     picked AS (SELECT id FROM first UNION SELECT id FROM rest)
                     UPDATE notification_messages m SET leased_by = $1, leased_until = $3, attempts = m.attempts + 1
                       FROM picked p WHERE m.id = p.id
                     RETURNING m.id"
                } else {
                    "WITH first AS (
                       SELECT id, channel, recipient FROM notification_messages
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at, id LIMIT $4)
                     UPDATE notification_messages SET leased_by = $1, leased_until = $3, attempts = attempts + 1
                      WHERE (id IN (SELECT id FROM first)
                          OR (channel = 'digest' AND next_attempt_at <= $2
                              AND recipient IN (SELECT recipient FROM first WHERE channel = 'digest')))
                        AND status = 'pending' AND leased_until <= $2
                      RETURNING id"
                };
                let claimed: Vec<(String,)> = sqlx::query_as(claim)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                if claimed.is_empty() {
                    return Ok(Vec::new());
                }
                let rows: Vec<$crate::notifications::MessageRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM notification_messages
                      WHERE leased_by = $1 AND leased_until = $2 AND status = 'pending'
                      ORDER BY next_attempt_at, id",
                    $crate::notifications::MESSAGE_COLUMNS
                ))
                .bind(owner)
                .bind($crate::model::micros(until))
                .fetch_all(&self.pool)
                .await?;
                let wanted: std::collections::HashSet<String> = claimed.into_iter().map(|(id,)| id).collect();
                rows.into_iter()
                    .filter(|r| wanted.contains(&r.0))
                    .map($crate::notifications::message_from_row)
                    .collect()
            }

            async fn finish_message(
                &self,
                id: &uuid::Uuid,
                owner: &str,
                at: jiff::Timestamp,
                outcome: &$crate::DeliveryOutcome,
            ) -> Result<bool, $crate::StoreError> {
                let (status, next, error) = match outcome {
                    $crate::DeliveryOutcome::Delivered => ("sent", None, None),
                    $crate::DeliveryOutcome::Retry { at, error } => ("pending", Some($crate::model::micros(*at)), Some(error.as_str())),
                    $crate::DeliveryOutcome::Failed { error } => ("dead", None, Some(error.as_str())),
                };
                let done_at = (status != "pending").then(|| $crate::model::micros(at));
                let done = sqlx::query(
                    "UPDATE notification_messages
                        SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), done_at = $5,
                            last_error = COALESCE($6, last_error), leased_by = NULL, leased_until = 0
                      WHERE id = $1 AND leased_by = $2 AND status = 'pending'",
                )
                .bind(id.to_string())
                .bind(owner)
                .bind(status)
                .bind(next)
                .bind(done_at)
                .bind(error)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn messages_in(&self, status: &str, limit: u32) -> Result<Vec<$crate::MessageRecord>, $crate::StoreError> {
                let rows: Vec<$crate::notifications::MessageRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM notification_messages WHERE status = $1
                      ORDER BY COALESCE(done_at, created_at) DESC, id DESC LIMIT $2",
                    $crate::notifications::MESSAGE_COLUMNS
                ))
                .bind(status)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::notifications::message_from_row).collect()
            }

            async fn message(&self, id: &uuid::Uuid) -> Result<Option<$crate::MessageRecord>, $crate::StoreError> {
                let row: Option<$crate::notifications::MessageRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM notification_messages WHERE id = $1",
                    $crate::notifications::MESSAGE_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::notifications::message_from_row).transpose()
            }

            async fn case_messages(&self, case: &uuid::Uuid) -> Result<Vec<$crate::MessageRecord>, $crate::StoreError> {
                let rows: Vec<$crate::notifications::MessageRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM notification_messages WHERE case_id = $1 ORDER BY seq, created_at, id",
                    $crate::notifications::MESSAGE_COLUMNS
                ))
                .bind(case.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::notifications::message_from_row).collect()
            }

            async fn message_counts(&self) -> Result<$crate::MessageCounts, $crate::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM notification_messages GROUP BY status")
                        .fetch_all(&self.pool)
                        .await?;
                let (waiting,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notification_events")
                    .fetch_one(&self.pool)
                    .await?;
                let mut counts = $crate::MessageCounts {
                    waiting_events: u64::try_from(waiting).unwrap_or(0),
                    ..Default::default()
                };
                for (status, n) in rows {
                    let n = u64::try_from(n).unwrap_or(0);
                    match status.as_str() {
                        "pending" => counts.pending = n,
                        "sent" => counts.sent = n,
                        "dead" => counts.dead = n,
                        "discarded" => counts.discarded = n,
                        other => return Err($crate::StoreError::Corrupt(format!("message status {other}"))),
                    }
                }
                Ok(counts)
            }

            async fn retry_message(&self, id: &uuid::Uuid, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE notification_messages
                        SET status = 'pending', attempts = 0, next_attempt_at = $2, done_at = NULL,
                            leased_by = NULL, leased_until = 0
                      WHERE id = $1 AND status = 'dead'",
                )
                .bind(id.to_string())
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn discard_message(
                &self,
                id: &uuid::Uuid,
                by: &str,
                reason: &str,
                at: jiff::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE notification_messages
                        SET status = 'discarded', discarded_by = $2, discard_reason = $3, done_at = $4
                      WHERE id = $1 AND status = 'dead'",
                )
                .bind(id.to_string())
                .bind(by)
                .bind(reason)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn notification_templates(&self) -> Result<Vec<$crate::TemplateRecord>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT topic, language, subject, body, sms, updated_by, updated_at
                       FROM notification_templates ORDER BY topic, language",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::TemplateRecord {
                            topic: r.0,
                            language: r.1,
                            subject: r.2,
                            body: r.3,
                            sms: r.4,
                            updated_by: r.5,
                            updated_at: $crate::model::from_micros(r.6)?,
                        })
                    })
                    .collect()
            }

            async fn save_notification_template(&self, t: &$crate::TemplateRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO notification_templates (topic, language, subject, body, sms, updated_by, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (topic, language) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body,
                       sms = EXCLUDED.sms, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
                )
                .bind(&t.topic)
                .bind(&t.language)
                .bind(&t.subject)
                .bind(&t.body)
                .bind(&t.sms)
                .bind(&t.updated_by)
                .bind($crate::model::micros(t.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn reset_notification_template(&self, topic: &str, language: &str) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM notification_templates WHERE topic = $1 AND language = $2")
                    .bind(topic)
                    .bind(language)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn unsubscribe_reporter(&self, case: &uuid::Uuid, at: jiff::Timestamp) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO notification_unsubscribes (case_id, at) VALUES ($1, $2) ON CONFLICT (case_id) DO NOTHING")
                    .bind(case.to_string())
                    .bind($crate::model::micros(at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn is_unsubscribed(&self, case: &uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT at FROM notification_unsubscribes WHERE case_id = $1")
                    .bind(case.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn staff_channels(&self, usernames: &[String]) -> Result<Vec<$crate::StaffChannelsRecord>, $crate::StoreError> {
                let names = serde_json::to_string(usernames).map_err($crate::error::corrupt)?;
                let query = if $backend == "postgres" {
                    "SELECT username, id, sealed, email, sms, digest, updated_at FROM staff_channels
                      WHERE username IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY username"
                } else {
                    "SELECT username, id, sealed, email, sms, digest, updated_at FROM staff_channels
                      WHERE username IN (SELECT value FROM json_each($1)) ORDER BY username"
                };
                let rows: Vec<$crate::notifications::ChannelsRow> = sqlx::query_as(query)
                    .bind(names)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map($crate::notifications::channels_from_row).collect()
            }

            async fn save_staff_channels(&self, c: &$crate::StaffChannelsRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO staff_channels (username, id, sealed, email, sms, digest, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (username) DO UPDATE SET id = EXCLUDED.id, sealed = EXCLUDED.sealed, email = EXCLUDED.email,
                       sms = EXCLUDED.sms, digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at",
                )
                .bind(&c.username)
                .bind(c.id.to_string())
                .bind(&c.sealed)
                .bind(c.email)
                .bind(c.sms)
                .bind(c.digest)
                .bind($crate::model::micros(c.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn issue_verification_code(
                &self,
                code: &$crate::VerificationCode,
                since: jiff::Timestamp,
                allow: &(dyn for<'s> Fn(&'s [jiff::Timestamp]) -> Result<(), jiff::Timestamp> + Send + Sync),
            ) -> Result<Result<(), jiff::Timestamp>, $crate::StoreError> {
                let mut tx = self.begin().await?;
                if $backend == "postgres" {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                        .bind(&code.number)
                        .execute(&mut *tx)
                        .await?;
                }
                let sent: Vec<(i64,)> = sqlx::query_as(
                    "SELECT created_at FROM verification_codes WHERE number = $1 AND created_at >= $2",
                )
                .bind(&code.number)
                .bind($crate::model::micros(since))
                .fetch_all(&mut *tx)
                .await?;
                let sent = sent
                    .into_iter()
                    .map(|(t,)| $crate::model::from_micros(t))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Err(when) = allow(&sent) {
                    return Ok(Err(when));
                }
                sqlx::query(
                    "INSERT INTO verification_codes (id, number, purpose, case_id, code_digest, created_at, expires_at, guesses)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
                )
                .bind(code.id.to_string())
                .bind(&code.number)
                .bind(&code.purpose)
                .bind(code.case_id.to_string())
                .bind(&code.code_digest)
                .bind($crate::model::micros(code.created_at))
                .bind($crate::model::micros(code.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Ok(()))
            }

            async fn latest_verification_code(
                &self,
                number: &str,
                purpose: &str,
                case: &uuid::Uuid,
            ) -> Result<Option<$crate::VerificationCode>, $crate::StoreError> {
                let row: Option<$crate::notifications::CodeRow> = sqlx::query_as(
                    "SELECT id, number, purpose, case_id, code_digest, created_at, expires_at, guesses, spent_at
                     FROM verification_codes WHERE number = $1 AND purpose = $2 AND case_id = $3
                     ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(number)
                .bind(purpose)
                .bind(case.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::notifications::code_from_row).transpose()
            }

            async fn guess_verification_code(&self, id: &uuid::Uuid) -> Result<u32, $crate::StoreError> {
                let (guesses,): (i64,) = sqlx::query_as(
                    "UPDATE verification_codes SET guesses = guesses + 1 WHERE id = $1 RETURNING guesses",
                )
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await?;
                Ok(u32::try_from(guesses).unwrap_or(u32::MAX))
            }

            async fn spend_verification_code(&self, id: &uuid::Uuid, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE verification_codes SET spent_at = $2 WHERE id = $1 AND spent_at IS NULL",
                )
                .bind(id.to_string())
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use notifications_sql;

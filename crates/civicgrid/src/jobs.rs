//! Background work, shared by the capabilities: how this instance shares it with others on
//! the same database. Each job is a function of the clock and the store, safe to run again and
//! on several instances at once. Instances divide the work with leases: the deadline sweep
//! (`cases/jobs.rs`) takes one region at a time (`job_leases`), once per round, and a region
//! whose lease runs out (its instance died) is taken by another. Correctness does not rest on
//! the leases: every step is a case action with a version check, so a step another run already
//! took is refused as stale and skipped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};

use crate::App;
use crate::error::AppResult;

/// How often a job runs on a serving instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Once per round (`serve --sweep-every`), in registry order after the jobs before it.
    Round,
    /// On its own timer (webhook deliveries go out within seconds, not at the round's pace).
    Every(std::time::Duration),
    /// At most once a day; again the next round after a failure.
    Daily,
}

/// What a job run did, as a count for the log (0: nothing to do).
pub type JobRun<'a> = Pin<Box<dyn Future<Output = AppResult<u64>> + Send + 'a>>;

/// A background job of a capability: a function of the application, safe to run again and on
/// several instances at once.
pub struct Job {
    pub name: &'static str,
    pub cadence: Cadence,
    pub run: for<'a> fn(&'a App) -> JobRun<'a>,
}

/// Every capability's background jobs, in the order a round runs them (one line each): the
/// deadline sweep before the rollups, whose counts include the sweep's breaches.
pub fn registry() -> Vec<Job> {
    vec![
        crate::administration::jobs::PARTITIONS,
        crate::cases::jobs::DEADLINE_SWEEP,
        crate::households::jobs::COVERAGE,
        crate::wishes::jobs::ESCALATION,
        crate::consultation::jobs::DEADLINES,
        crate::consultation::jobs::RESULTS,
        crate::disputes::jobs::TIMERS,
        crate::supervision::jobs::CLOCKS,
        crate::assessment::jobs::ROLLUPS,
        crate::accounts::limits::FORGET_ENDED_WINDOWS,
        crate::webhooks::jobs::DELIVERIES,
        crate::notifications::jobs::NOTIFICATIONS,
        crate::upstream::jobs::UPSTREAM,
        crate::emergency::jobs::SITREP_REMINDERS,
        crate::search::jobs::SEARCH_INDEXER,
        crate::suggestion::jobs::RETRAIN,
    ]
}

/// The deadline sweep's name in `job_leases`.
pub const DEADLINE_JOB: &str = "deadlines";

/// How this instance shares background work with others on the same database.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Names this instance's leases (unique per process).
    pub instance: String,
    /// Each scope is swept once per round (rounds start at multiples of this, so every
    /// instance agrees on them); the serve loop's interval.
    pub round: SignedDuration,
    /// How long a lease holds without renewal: how soon another instance takes over the work
    /// of one that died.
    pub lease: SignedDuration,
    /// Fraction of a stage's time after which the deadline sweep raises a yellow alarm.
    pub warn_at: f64,
    pub stats: std::sync::Arc<JobStats>,
    /// Set at shutdown: a sweep claims no further scope, so that once it returns this
    /// instance holds no lease but the ones it releases.
    pub stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            round: SignedDuration::from_secs(60),
            lease: SignedDuration::from_secs(60),
            warn_at: 0.8,
            stats: Default::default(),
            stopping: Default::default(),
        }
    }
}

/// What this instance's jobs did since it started, for `/metrics` (Prometheus counters are
/// per instance; a dashboard sums them).
#[derive(Debug, Default)]
pub struct JobStats {
    pub sweeps: AtomicU64,
    pub sweep_failures: AtomicU64,
    pub yellow: AtomicU64,
    pub red: AtomicU64,
    pub escalated: AtomicU64,
    pub missed_whistles: AtomicU64,
    pub scopes: AtomicU64,
    /// When the last sweep ended well (micros since the epoch; 0: none yet).
    pub last_sweep_at: AtomicI64,
    /// Webhook deliveries this instance sent, retried later, and gave up.
    pub webhooks_delivered: AtomicU64,
    pub webhooks_retried: AtomicU64,
    pub webhooks_failed: AtomicU64,
}

impl JobStats {
    pub(crate) fn record(&self, r: &crate::cases::jobs::SweepReport, at: Timestamp) {
        let add = |c: &AtomicU64, n: usize| c.fetch_add(n as u64, Ordering::Relaxed);
        add(&self.sweeps, 1);
        add(&self.yellow, r.yellow);
        add(&self.red, r.red);
        add(&self.escalated, r.escalated);
        add(&self.missed_whistles, r.missed_whistles);
        add(&self.scopes, r.scopes);
        self.last_sweep_at
            .store(at.as_microsecond(), Ordering::Relaxed);
    }
}

/// The start of the round `now` falls in.
pub fn round_start(now: Timestamp, round: SignedDuration) -> Timestamp {
    let len = round.as_micros().max(1);
    let at = now.as_microsecond() as i128;
    let start = at - at.rem_euclid(len);
    i64::try_from(start)
        .ok()
        .and_then(|s| Timestamp::from_microsecond(s).ok())
        .unwrap_or(now)
}

//! Background work, shared by the capabilities: how this instance shares it with others on
//! the same database. Each job is a function of the clock and the store, safe to run again and
//! on several instances at once. Instances divide the work with leases: the deadline sweep
//! (`cases/jobs.rs`) takes one region at a time (`job_leases`), once per round, and a region
//! whose lease runs out (its instance died) is taken by another. Correctness does not rest on
//! the leases: every step is a case action with a version check, so a step another run already
//! took is refused as stale and skipped.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};

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

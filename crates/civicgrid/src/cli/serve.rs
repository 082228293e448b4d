//! `civicgrid serve`: the API, the pages and every capability's background jobs, until
//! Ctrl-C or SIGTERM.

use std::io::Write;
use std::sync::Arc;

use crate::App;
use crate::error::{AppError, AppResult};

pub(crate) fn check_warn_at(warn_at: f64) -> AppResult<()> {
    if (0.0..1.0).contains(&warn_at) {
        Ok(())
    } else {
        Err(AppError::Invalid(
            "--warn-at must be a fraction between 0 and 1".into(),
        ))
    }
}

pub(crate) fn job_settings(round_secs: u64, lease_secs: u64) -> Arc<crate::jobs::JobSettings> {
    let secs =
        |s: u64| jiff::SignedDuration::from_secs(i64::try_from(s.max(1)).unwrap_or(i64::MAX));
    Arc::new(crate::jobs::JobSettings {
        round: secs(round_secs),
        lease: secs(lease_secs),
        ..Default::default()
    })
}

/// Serves the API and runs the jobs until Ctrl-C or SIGTERM; then finishes the requests in
/// flight, stops the jobs and frees their leases for the other instances.
pub(crate) async fn serve(
    mut app: App,
    listen: &str,
    warn_at: f64,
    sweep_every: Option<u64>,
    out: &mut dyn Write,
) -> AppResult<()> {
    let io = |e: std::io::Error| AppError::Io {
        path: "standard output".into(),
        source: e,
    };

    check_warn_at(warn_at)?;
    app.jobs = Arc::new(crate::jobs::JobSettings {
        warn_at,
        ..(*app.jobs).clone()
    });
    // This year's and next year's case partitions (PostgreSQL), before the first intake. A
    // failure (rows of that year in the default partition) does not stop the service: such
    // cases go to the default partition, and the job loop tries again.
    if let Err(e) = app.repo.prepare_partitions(app.clock.now()).await {
        tracing::warn!(error = %e, "making case partitions failed");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| AppError::Io {
            path: format!("listen address {listen}"),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(listen.to_owned());
    // Links in messages point at the address served unless the deployment named its own.
    if app.notifier.public_url.ends_with(":0") || app.notifier.public_url.is_empty() {
        app.notifier = Arc::new(crate::notifications::NotifierSettings {
            public_url: format!("http://{bound}"),
            ..(*app.notifier).clone()
        });
    }
    writeln!(
        out,
        "civicgrid serving on http://{bound} ({})",
        app.repo.backend()
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    // Every capability's jobs (crate::jobs::registry): the round's jobs in one loop, in
    // order, and each job on its own timer in a loop of its own. At shutdown the job in flight
    // finishes (a statement cut off by an abort could still commit a lease claim after the
    // leases are released).
    let (stop_jobs, stopping) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    if let Some(sweep_every) = sweep_every {
        let round = std::time::Duration::from_secs(sweep_every.max(1));
        let registry = crate::jobs::registry();
        let (round_jobs, timed): (Vec<_>, Vec<_>) = registry
            .into_iter()
            .partition(|j| !matches!(j.cadence, crate::jobs::Cadence::Every(_)));
        loops.push((
            "round",
            tokio::spawn(run_round_jobs(
                app.clone(),
                round_jobs,
                round,
                stopping.clone(),
            )),
        ));
        for job in timed {
            if let crate::jobs::Cadence::Every(every) = job.cadence {
                loops.push((
                    job.name,
                    tokio::spawn(run_timed_job(app.clone(), job, every, stopping.clone())),
                ));
            }
        }
    }
    // The peer's address reaches the handlers for the abuse limits.
    let served = axum::serve(
        listener,
        crate::http::router(app.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    app.jobs
        .stopping
        .store(true, std::sync::atomic::Ordering::Release);
    let _ = stop_jobs.send(true);
    // Bounded: what is still running then is cut off, and its leases run out as a dead
    // instance's would.
    for (name, task) in loops {
        let abort = task.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(15), task)
            .await
            .is_err()
        {
            tracing::warn!(task = name, "still running at shutdown; stopped");
            abort.abort();
        }
    }
    match app.repo.release_leases(&app.jobs.instance).await {
        Ok(n) => tracing::info!(leases = n, "stopped; job leases released"),
        Err(e) => tracing::warn!(error = %e, "stopped; releasing the job leases failed"),
    }
    served.map_err(|source| AppError::Io {
        path: format!("server on {listen}"),
        source,
    })
}

/// Ctrl-C, or SIGTERM (what service managers and orchestrators send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The jobs that run once a round, in registry order; a daily one runs on the first round of
/// each day, and again the next round after a failure.
async fn run_round_jobs(
    app: App,
    jobs: Vec<crate::jobs::Job>,
    round: std::time::Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(round);
    let mut done_on: Vec<Option<jiff::civil::Date>> = vec![None; jobs.len()];
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopping.changed() => return,
        }
        for (job, done) in jobs.iter().zip(done_on.iter_mut()) {
            let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            if job.cadence == crate::jobs::Cadence::Daily && *done == Some(today) {
                continue;
            }
            match (job.run)(&app).await {
                Ok(n) => {
                    *done = Some(today);
                    if n > 0 {
                        tracing::debug!(job = job.name, n, "job round");
                    }
                }
                Err(e) => tracing::warn!(job = job.name, error = %e, "job failed"),
            }
        }
    }
}

/// A job on its own timer; the round in flight finishes at shutdown.
async fn run_timed_job(
    app: App,
    job: crate::jobs::Job,
    every: std::time::Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.changed() => return,
        }
        if let Err(e) = (job.run)(&app).await {
            tracing::warn!(job = job.name, error = %e, "job failed");
        }
    }
}

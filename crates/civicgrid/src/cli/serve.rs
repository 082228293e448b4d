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

/// How often a serving instance sends the webhook deliveries that are due.
const NOTIFY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves the API and runs the jobs until Ctrl-C or SIGTERM; then finishes the requests in
/// flight, stops the jobs and frees their leases for the other instances.
pub(crate) async fn serve(
    app: App,
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
    writeln!(
        out,
        "civicgrid serving on http://{bound} ({})",
        app.repo.backend()
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    // At shutdown the job round in flight finishes its scope (a statement cut off by an abort
    // could still commit a lease claim after the leases are released).
    let jobs = app.clone();
    let (stop_jobs, mut jobs_stopping) = tokio::sync::watch::channel(false);
    let job_loop = tokio::spawn(async move {
        let Some(sweep_every) = sweep_every else {
            return;
        };
        let mut every = tokio::time::interval(std::time::Duration::from_secs(sweep_every.max(1)));
        let mut partitions_checked = None;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = jobs_stopping.changed() => return,
            }
            match jobs.sweep_deadlines(warn_at).await {
                Ok(r) if r.yellow + r.red + r.escalated + r.missed_whistles > 0 => {
                    tracing::info!(?r, "deadline sweep")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
            }
            // Next year's partitions exist long before the year begins: checked once a day
            // (and again after a failure).
            let today = jobs.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            if partitions_checked != Some(today) {
                match jobs.repo.prepare_partitions(jobs.clock.now()).await {
                    Ok(_) => partitions_checked = Some(today),
                    Err(e) => tracing::warn!(error = %e, "making case partitions failed"),
                }
            }
            match jobs.forget_ended_limits().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "forgetting ended abuse-limit windows failed"),
            }
            // The sweep's breaches are events too: count them into the rollups after it.
            match jobs.refresh_kpis().await {
                Ok(n) if n > 0 => tracing::info!(cases = n, "assessment rollups refreshed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "assessment refresh failed"),
            }
        }
    });
    // Webhooks go out within seconds, not at the sweep's pace. At shutdown the round in flight
    // is finished (its sends time out within seconds), so no delivery is cut off mid-send and
    // sent again by another instance.
    let notifier = app.clone();
    let (stop_notifying, mut stopping) = tokio::sync::watch::channel(false);
    let notify_loop = tokio::spawn(async move {
        if sweep_every.is_none() {
            return;
        }
        let mut every = tokio::time::interval(NOTIFY_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stopping.changed() => return,
            }
            match notifier.deliver_notifications().await {
                Ok(r) if r != Default::default() => tracing::info!(?r, "webhook deliveries"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery round failed"),
            }
        }
    });
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
    let _ = stop_notifying.send(true);
    // Bounded: what is still running then is cut off, and its leases run out as a dead
    // instance's would.
    for (name, task) in [("job", job_loop), ("notify", notify_loop)] {
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

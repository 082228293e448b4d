//! `/metrics` in the Prometheus text format (version 0.0.4): requests and their latency per
//! route, what the jobs did, and gauges read from the store at the scrape (cases by state,
//! overdue cases, the KPI queue, how far the deadline rounds lag). Written by hand: a few
//! counters do not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::App;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Requests seen by one router: counts per (method, route, status), latency per (method, route).
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Latency>>,
}

impl HttpMetrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((method.to_owned(), route.to_owned())).or_default();
            h.count += 1;
            h.sum += seconds;
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.buckets[i] += 1;
                }
            }
        }
    }
}

/// Middleware: times every request and counts it under its route pattern (never the raw path,
/// which would make a series per case id).
pub async fn track(metrics: Arc<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // A reporter's request of the supervision channel leaves no trace: not even its time.
    if crate::supervision::is_reporter_route(&method, &route) {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.observe(&method, &route, status, seconds);
    tracing::info!(method, route, status, ms = seconds * 1000.0, "request");
    response
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The scrape.
pub async fn render(app: App, http: Arc<HttpMetrics>) -> Response {
    let now = app.clock.now();
    let gauges = match app.repo.operations_gauges(now).await {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the store does not answer");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    let mut out = String::new();

    family(
        &mut out,
        "civicgrid_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route pattern and status.",
    );
    if let Ok(r) = http.requests.lock() {
        for ((method, route, status), n) in r.iter() {
            let _ = writeln!(
                out,
                "civicgrid_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
    }
    family(
        &mut out,
        "civicgrid_http_request_duration_seconds",
        "histogram",
        "Time to answer HTTP requests, by method and route pattern.",
    );
    if let Ok(l) = http.latency.lock() {
        for ((method, route), h) in l.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", label(route));
            for (le, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "civicgrid_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "civicgrid_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 civicgrid_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 civicgrid_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
    }

    let stats = &app.jobs.stats;
    let counters = [
        (
            "civicgrid_deadline_sweeps_total",
            "Deadline sweeps this instance completed.",
            &stats.sweeps,
        ),
        (
            "civicgrid_deadline_sweep_failures_total",
            "Deadline sweeps that failed (the store did not answer).",
            &stats.sweep_failures,
        ),
        (
            "civicgrid_deadline_regions_swept_total",
            "Regions this instance leased and swept.",
            &stats.scopes,
        ),
        (
            "civicgrid_deadline_warnings_total",
            "Yellow warnings raised by this instance.",
            &stats.yellow,
        ),
        (
            "civicgrid_deadline_breaches_total",
            "Red breaches raised by this instance.",
            &stats.red,
        ),
        (
            "civicgrid_escalations_total",
            "Cases lifted a tier by this instance at a breach.",
            &stats.escalated,
        ),
        (
            "civicgrid_whistle_breaches_total",
            "Summoned departments recorded as not reporting in by their deadline.",
            &stats.missed_whistles,
        ),
        (
            "civicgrid_webhooks_delivered_total",
            "Webhook deliveries this instance sent and had answered with 2xx.",
            &stats.webhooks_delivered,
        ),
        (
            "civicgrid_webhooks_retried_total",
            "Webhook tries by this instance that failed and will be tried again.",
            &stats.webhooks_retried,
        ),
        (
            "civicgrid_webhooks_failed_total",
            "Webhook deliveries this instance gave up after their last try.",
            &stats.webhooks_failed,
        ),
    ];
    for (name, help, counter) in counters {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
    }
    let last = stats.last_sweep_at.load(Ordering::Relaxed);
    family(
        &mut out,
        "civicgrid_deadline_last_sweep_timestamp_seconds",
        "gauge",
        "When this instance last completed a deadline sweep (0: not yet).",
    );
    let _ = writeln!(
        out,
        "civicgrid_deadline_last_sweep_timestamp_seconds {}",
        last as f64 / 1e6
    );

    family(
        &mut out,
        "civicgrid_cases",
        "gauge",
        "Cases in the store, by state.",
    );
    for (status, n) in &gauges.cases_by_status {
        let _ = writeln!(out, "civicgrid_cases{{state=\"{}\"}} {n}", label(status));
    }
    family(
        &mut out,
        "civicgrid_cases_overdue",
        "gauge",
        "Open cases whose current stage is past its deadline.",
    );
    let _ = writeln!(out, "civicgrid_cases_overdue {}", gauges.overdue_open_cases);
    family(
        &mut out,
        "civicgrid_kpi_queue_cases",
        "gauge",
        "Cases whose new events the assessment job has not yet counted.",
    );
    let _ = writeln!(out, "civicgrid_kpi_queue_cases {}", gauges.kpi_queue);
    family(
        &mut out,
        "civicgrid_webhook_deliveries",
        "gauge",
        "Webhook deliveries waiting to be sent (pending) and given up (failed), across all instances.",
    );
    let _ = writeln!(
        out,
        "civicgrid_webhook_deliveries{{status=\"pending\"}} {}\ncivicgrid_webhook_deliveries{{status=\"failed\"}} {}",
        gauges.webhooks_pending, gauges.webhooks_failed
    );
    family(
        &mut out,
        "civicgrid_job_lag_seconds",
        "gauge",
        "Per job, time since its least recently finished region was last finished, across all instances.",
    );
    for (job, _, oldest) in &gauges.job_rounds {
        let lag = if *oldest <= 0 {
            // Never finished: count from the epoch would be meaningless; report it as -1.
            -1.0
        } else {
            (now.as_microsecond() - oldest) as f64 / 1e6
        };
        let _ = writeln!(
            out,
            "civicgrid_job_lag_seconds{{job=\"{}\"}} {lag}",
            label(job)
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

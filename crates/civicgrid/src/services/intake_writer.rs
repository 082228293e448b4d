//! Group commit for intake. Every report must be durable before it is answered, and on SQLite
//! each commit costs an fsync; so concurrent reports are queued to one writer that commits
//! whatever has queued up (up to `MAX_BATCH`) in a single transaction and then answers each.
//! A lone report is written at once; under load many share one fsync. If a batch fails (a
//! receipt-code collision, say), its reports are retried one by one so that each gets its own
//! answer.

use std::sync::Arc;

use civicgrid_domain::case::Case;
use civicgrid_store::{CaseEvent, Repository, StoreError};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 64;

type Job = (Case, CaseEvent, oneshot::Sender<Result<(), StoreError>>);

pub struct IntakeWriter {
    queue: mpsc::Sender<Job>,
}

impl IntakeWriter {
    /// Starts the writer tasks on the current runtime: one for SQLite, which has a single
    /// writer anyway; several for PostgreSQL, whose own WAL group commit rewards parallel
    /// transactions.
    pub fn start(repo: Arc<dyn Repository>) -> IntakeWriter {
        let (queue, jobs) = mpsc::channel(1024);
        let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
        let writers = if repo.backend() == "sqlite" { 1 } else { 4 };
        for _ in 0..writers {
            tokio::spawn(run(repo.clone(), jobs.clone()));
        }
        IntakeWriter { queue }
    }

    /// Stores the case and its first event; returns once they are durably committed.
    pub async fn write(&self, case: Case, event: CaseEvent) -> Result<(), StoreError> {
        let (ack, answer) = oneshot::channel();
        let gone = || StoreError::Invalid("the intake writer has stopped".into());
        self.queue
            .send((case, event, ack))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(repo: Arc<dyn Repository>, jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        // Take what has queued up, then let another writer take the next batch while this
        // one commits.
        let batch = {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let mut batch = batch;
        let items: Vec<(Case, CaseEvent)> = batch
            .iter()
            .map(|(c, e, _)| (c.clone(), e.clone()))
            .collect();
        match repo.create_cases(&items).await {
            Ok(()) => {
                for (_, _, ack) in batch {
                    let _ = ack.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some((_, _, ack)) = batch.pop() {
                    let _ = ack.send(Err(e));
                }
            }
            Err(_) => {
                for (case, event, ack) in batch {
                    let _ = ack.send(repo.create_case(&case, &event).await);
                }
            }
        }
    }
}

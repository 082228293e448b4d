//! Group commit for case writes. Every report and every action must be durable before it is
//! answered, and each commit costs an fsync (on SQLite, one writer at a time); so concurrent
//! writes — new cases and changes alike — are queued to a writer that commits whatever has
//! queued up (up to `MAX_BATCH`) in a single transaction and then answers each. A lone write
//! is committed at once; under load many share one fsync. A change whose case moved on fails
//! alone (stale version); if a batch fails as a whole (a receipt-code collision, say), its
//! writes are retried one by one so that each gets its own answer.

use std::sync::Arc;

use civicgrid_store::{CaseWrite, Repository, StoreError};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 64;

type Job = (CaseWrite, oneshot::Sender<Result<(), StoreError>>);

pub struct CaseWriter {
    queue: mpsc::Sender<Job>,
}

impl CaseWriter {
    /// Starts the writer tasks on the current runtime: one for SQLite, which has a single
    /// writer anyway; two for PostgreSQL, whose WAL flush overlaps with a second batch being
    /// written (four were slower in the load bench: smaller batches, more round trips).
    pub fn start(repo: Arc<dyn Repository>) -> CaseWriter {
        let (queue, jobs) = mpsc::channel(1024);
        let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
        let writers = if repo.backend() == "sqlite" { 1 } else { 2 };
        for _ in 0..writers {
            tokio::spawn(run(repo.clone(), jobs.clone()));
        }
        CaseWriter { queue }
    }

    /// Stores the write; returns once it is durably committed.
    pub async fn write(&self, write: CaseWrite) -> Result<(), StoreError> {
        let (ack, answer) = oneshot::channel();
        let gone = || StoreError::Invalid("the case writer has stopped".into());
        self.queue.send((write, ack)).await.map_err(|_| gone())?;
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
        let (writes, acks): (Vec<CaseWrite>, Vec<_>) = batch.into_iter().unzip();
        match repo.write_cases(&writes).await {
            Ok(answers) => {
                for (ack, answer) in acks.into_iter().zip(answers) {
                    let _ = ack.send(answer);
                }
            }
            Err(e) if writes.len() == 1 => {
                if let Some(ack) = acks.into_iter().next() {
                    let _ = ack.send(Err(e));
                }
            }
            Err(_) => {
                for (write, ack) in writes.into_iter().zip(acks) {
                    let answer = match repo.write_cases(std::slice::from_ref(&write)).await {
                        Ok(mut answers) => answers.pop().unwrap_or_else(|| {
                            Err(StoreError::Invalid("the store gave no answer".into()))
                        }),
                        Err(e) => Err(e),
                    };
                    let _ = ack.send(answer);
                }
            }
        }
    }
}

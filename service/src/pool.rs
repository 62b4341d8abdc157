//! The bounded pool of blocking verification workers.
//!
//! At most `workers` verifications run at once, each on tokio's blocking thread pool
//! (`spawn_blocking`), never on the async threads; at most `queue` more wait for a
//! worker. A request that finds the queue full is refused at once (503 with
//! `Retry-After`), before any work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

/// The pool.
#[derive(Debug)]
pub struct WorkerPool {
    workers: Arc<Semaphore>,
    admitted: AtomicUsize,
    running: AtomicUsize,
    capacity: usize,
}

/// A place in the pool (queued or running); released when dropped.
#[derive(Debug)]
pub struct Ticket {
    pool: Arc<WorkerPool>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.pool.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Running(Arc<WorkerPool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WorkerPool {
    /// `workers` concurrent verifications (≥ 1) and `queue` waiting ones.
    pub fn new(workers: usize, queue: usize) -> Arc<WorkerPool> {
        let workers = workers.max(1);
        Arc::new(WorkerPool {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            capacity: workers + queue,
        })
    }

    /// A place in the pool, or `None` when it is full.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        self.admitted
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.capacity).then_some(n + 1))
            .ok()
            .map(|_| Ticket { pool: self.clone() })
    }

    /// Verifications waiting for a worker.
    pub fn queued(&self) -> usize {
        self.admitted.load(Ordering::SeqCst).saturating_sub(self.running.load(Ordering::SeqCst))
    }

    /// Verifications running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Runs `work` on a blocking worker once one is free. The worker's slot is held by
    /// the work itself, so a request that goes away never lets more than `workers` run.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        ticket: Ticket,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let permit = self.workers.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.clone());
        tokio::task::spawn_blocking(move || {
            let _held = (ticket, permit, running);
            work()
        })
        .await
        .map_err(|e| format!("verification worker failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn admits_workers_plus_queue_and_frees_places() {
        let pool = WorkerPool::new(1, 1);
        let first = pool.admit().unwrap();
        let second = pool.admit().unwrap();
        assert!(pool.admit().is_none(), "full: one running and one waiting");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let p = pool.clone();
        let running = tokio::spawn(async move { p.run(first, move || rx.recv().unwrap()).await });
        while pool.running() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.queued(), 1);
        drop(second);
        assert_eq!(pool.queued(), 0);
        assert!(pool.admit().is_some());
        tx.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert_eq!((pool.running(), pool.queued()), (0, 0));
        assert!(pool.admit().is_some());
    }
}

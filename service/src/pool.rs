//! The bounded pool of verification workers.
//!
//! At most `workers` verifications run at once, each on one of `workers` dedicated
//! threads of this pool, never on the async threads; at most `queue` more wait for a
//! worker. A request that finds the queue full is refused at once (503 with
//! `Retry-After`), before any work.
//!
//! On Linux the worker threads run at a lower scheduling priority ([`DEFAULT_NICENESS`]
//! niceness steps below the service's by default), so that when verifications keep every
//! core busy the async threads get a core first and cheap requests (`POST
//! /v1/challenges`, reads) are answered in milliseconds. On a machine shared with other
//! work the niced workers also yield to that work (BENCHMARKS.md: ~4% throughput there).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

/// How much lower than the service's own the worker threads' priority is, in niceness
/// steps, unless told otherwise (0: the same).
pub const DEFAULT_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool.
#[derive(Debug)]
pub struct WorkerPool {
    workers: Arc<Semaphore>,
    admitted: AtomicUsize,
    running: AtomicUsize,
    capacity: usize,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// Lowers the calling thread's priority by `niceness` (Linux: niceness is per thread;
/// capped at 19, the lowest). Best effort: elsewhere, or if refused, the thread keeps its
/// priority.
fn lower_priority(niceness: i32) {
    #[cfg(target_os = "linux")]
    if niceness > 0 {
        let lowered = rustix::process::getpriority_process(None)
            .and_then(|own| rustix::process::setpriority_process(None, (own + niceness).min(19)));
        if let Err(e) = lowered {
            eprintln!("zkmargin-service: cannot lower the priority of a verification worker: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
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
    /// `workers` concurrent verifications (≥ 1) and `queue` waiting ones, the workers
    /// [`DEFAULT_NICENESS`] steps below the service's own priority.
    pub fn new(workers: usize, queue: usize) -> Arc<WorkerPool> {
        WorkerPool::with_niceness(workers, queue, DEFAULT_NICENESS)
    }

    /// The same with the workers `niceness` steps below the service's own priority. The
    /// worker threads end when the pool is dropped.
    pub fn with_niceness(workers: usize, queue: usize, niceness: i32) -> Arc<WorkerPool> {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("zkmargin-verify-{i}"))
                .spawn(move || {
                    lower_priority(niceness);
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start a verification worker thread");
        }
        Arc::new(WorkerPool {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            capacity: workers + queue,
            jobs: Mutex::new(tx),
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

    /// Runs `work` on a worker thread once one is free. The worker's slot is held by the
    /// work itself, so a request that goes away never lets more than `workers` run (and
    /// a job is handed to the threads only with a slot: it never waits behind another).
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        ticket: Ticket,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let permit = self.workers.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.clone());
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let held = (ticket, permit, running);
            let outcome = catch_unwind(AssertUnwindSafe(work));
            // The slot is free before the answer is: a caller sees its own run finished.
            drop(held);
            let _ = tx.send(outcome);
        });
        self.jobs.lock().map_err(|e| e.to_string())?.send(job).map_err(|_| "the verification workers are gone".to_string())?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err("verification worker failed: the verification panicked".into()),
            Err(_) => Err("verification worker failed: it dropped the work".into()),
        }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_run_at_the_given_niceness_and_survive_a_panic() {
        #[cfg(target_os = "linux")]
        let own = rustix::process::getpriority_process(None).unwrap();
        let pool = WorkerPool::with_niceness(1, 0, 3);
        let failed = pool.run(pool.admit().unwrap(), || panic!("boom")).await;
        assert!(failed.unwrap_err().contains("panicked"));
        let name = pool.run(pool.admit().unwrap(), || std::thread::current().name().map(str::to_string)).await.unwrap();
        assert_eq!(name.as_deref(), Some("zkmargin-verify-0"), "the same worker, still there");
        #[cfg(target_os = "linux")]
        {
            let nice = pool.run(pool.admit().unwrap(), || rustix::process::getpriority_process(None).unwrap()).await.unwrap();
            assert_eq!(nice, (own + 3).min(19));
            assert_eq!(rustix::process::getpriority_process(None).unwrap(), own, "the caller's thread is untouched");
        }
        assert_eq!((pool.running(), pool.queued()), (0, 0));
    }
}

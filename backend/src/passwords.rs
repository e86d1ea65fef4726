//! Staff password hashing: argon2id with a random salt, PHC string format,
//! and the bounded pool the server hashes on.
//!
//! One argon2 verification takes about 19 MiB and tens of milliseconds of a
//! core. The server runs them on [`HashPool`]: as many at once as there are
//! cores, never while holding a database connection, and with a bounded
//! queue, so a flood of bad logins waits its turn (or is told to come back)
//! while every other route keeps its connections and its cores.

use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub fn hash(password: &str) -> AppResult<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(AppError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// False for a wrong password and for a malformed stored hash alike.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a password nobody has, with the parameters of every real one:
/// verified when a username is unknown, so the answer costs as much as for
/// a real account.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash("no such account").unwrap_or_default())
}

/// Hashes waiting for a worker, per worker, before more are refused (503
/// with `Retry-After`) instead of queued.
const QUEUE_PER_WORKER: usize = 32;

/// Where the server hashes: `workers` hashes at once (the cores), on tokio's
/// blocking threads, never on the async executor.
pub struct HashPool {
    workers: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl HashPool {
    pub fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            workers: Semaphore::new(workers),
            waiting: AtomicUsize::new(0),
            max_waiting: workers * QUEUE_PER_WORKER,
        }
    }

    /// One worker per core of this machine.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub async fn verify(&self, password: String, stored: String) -> AppResult<bool> {
        self.run(move || verify(&password, &stored)).await
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash(&password)).await?
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::unavailable("password hashing queue full").with_retry_after(2));
        }
        let permit = self.workers.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = permit.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("correct hors", &h));
        assert!(!super::verify("correct horse", "not a hash"));
        // The dummy has the real parameters, so it costs the same.
        let real = PasswordHash::new(&h).unwrap();
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(real.algorithm, dummy.algorithm);
        assert_eq!(real.params, dummy.params);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_runs_no_more_than_its_workers_and_refuses_past_its_queue() {
        use std::sync::Arc;
        let pool = Arc::new(HashPool::new(1));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        // Held: the one worker is busy until released.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || rx.recv().is_ok()).await })
        };
        while pool.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (0..QUEUE_PER_WORKER)
            .map(|_| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        while pool.waiting.load(Ordering::SeqCst) < QUEUE_PER_WORKER {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| ()).await.unwrap_err();
        assert_eq!(refused.status.as_u16(), 503);
        assert_eq!(refused.retry_after, Some(2));
        tx.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        for q in queued {
            q.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}

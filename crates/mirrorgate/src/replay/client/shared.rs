//! One connection shared by every request in flight (HTTP/2, HTTP/3):
//! opened by the first request that finds none (or a closed one), the
//! others waiting for it. When opening fails, the requests that waited
//! for that attempt fail with its error instead of each trying in turn:
//! against a target that is down, one attempt per wave of requests, not
//! one per request, each after the other.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::SendError;

/// The shared connection `C` (a cheap handle, cloned per request).
pub(super) struct SharedConnection<C> {
    state: Mutex<State<C>>,
    /// Opening attempts ended so far (they run one at a time, under the
    /// lock, so the next one is number `ended + 1`).
    ended: AtomicU64,
}

struct State<C> {
    open: Option<C>,
    /// The last failed attempt's number and error.
    failure: Option<(u64, SendError)>,
}

impl<C: Clone> SharedConnection<C> {
    pub(super) fn new() -> Self {
        SharedConnection {
            state: Mutex::new(State {
                open: None,
                failure: None,
            }),
            ended: AtomicU64::new(0),
        }
    }

    /// The open connection if `alive`, else a new one from `open`.
    pub(super) async fn get<Fut>(
        &self,
        alive: impl Fn(&C) -> bool,
        open: impl FnOnce() -> Fut,
    ) -> Result<C, SendError>
    where
        Fut: Future<Output = Result<C, SendError>>,
    {
        // An attempt that ends after this is one this request waited for.
        let ended_before = self.ended.load(Ordering::SeqCst);
        let mut state = self.state.lock().await;
        if let Some(open) = state.open.as_ref().filter(|c| alive(c)) {
            return Ok(open.clone());
        }
        if let Some((attempt, error)) = &state.failure {
            if *attempt > ended_before {
                return Err(error.clone());
            }
        }
        state.open = None;
        let result = open().await;
        let attempt = self.ended.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok(connection) => {
                state.open = Some(connection.clone());
                state.failure = None;
                Ok(connection)
            }
            Err(error) => {
                state.failure = Some((attempt, error.clone()));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::replay::client::ErrorKind;

    #[tokio::test(start_paused = true)]
    async fn waiters_share_a_failed_attempt_and_the_next_wave_tries_again() {
        let shared = Arc::new(SharedConnection::<u32>::new());
        let tries = Arc::new(AtomicUsize::new(0));
        let wave = || {
            (0..5)
                .map(|_| {
                    let (shared, tries) = (shared.clone(), tries.clone());
                    tokio::spawn(async move {
                        shared
                            .get(
                                |_| true,
                                || async {
                                    tries.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(Duration::from_secs(10)).await;
                                    Err::<u32, _>(SendError::new(ErrorKind::Connect, "down"))
                                },
                            )
                            .await
                    })
                })
                .collect::<Vec<_>>()
        };
        for task in wave() {
            assert_eq!(task.await.unwrap().unwrap_err().kind, ErrorKind::Connect);
        }
        assert_eq!(tries.load(Ordering::SeqCst), 1, "one attempt for the wave");
        for task in wave() {
            assert!(task.await.unwrap().is_err());
        }
        assert_eq!(tries.load(Ordering::SeqCst), 2, "a later wave tries again");

        let opened = shared.get(|_| true, || async { Ok(7) }).await.unwrap();
        assert_eq!(opened, 7);
        let reused = shared
            .get(|_| true, || async { panic!("not reopened") })
            .await;
        assert_eq!(reused.unwrap(), 7);
        let reopened = shared.get(|c| *c != 7, || async { Ok(8) }).await;
        assert_eq!(reopened.unwrap(), 8, "a dead connection is replaced");
    }
}

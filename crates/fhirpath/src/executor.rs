//! Drive the engine's futures on the calling thread.
//!
//! The engine is `async` for the sake of model and terminology providers that may do IO;
//! Tend's model is embedded and no provider does IO, so a future only returns `Pending`
//! when the engine's own interpreter yields cooperatively (and wakes itself at once).
//! Parking the thread until woken is therefore enough, and keeps tokio out of the
//! store's writer thread.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
}

/// Poll `future` to completion, parking the thread while it waits (for engine futures that
/// do no IO: this crate's, and the SQL-on-FHIR evaluator's in crate `views`).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(value) => return value,
                Poll::Pending => std::thread::park(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_waking_futures_complete() {
        let mut polls = 0;
        let value = block_on(std::future::poll_fn(|cx| {
            polls += 1;
            if polls < 3 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        }));
        assert_eq!(value, 3);
    }

    #[test]
    fn wakes_from_other_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let helper = std::thread::spawn(move || rx.recv().unwrap().wake());
        let mut sent = Some(tx);
        block_on(std::future::poll_fn(|cx| match sent.take() {
            Some(tx) => {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
            None => Poll::Ready(()),
        }));
        helper.join().unwrap();
    }
}

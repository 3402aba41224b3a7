//! The bound on a client's calls in flight, which can be lowered or raised while calls run.

use std::sync::Mutex;

use tokio::sync::Semaphore;

/// The bound on calls in flight, changeable while calls run. Lowering takes the free permits
/// away at once and the rest as calls finish (a permit handed back while some are owed is
/// forgotten), so the new bound holds from the next call on, not after the queue drains.
#[derive(Debug)]
pub(crate) struct InFlight {
    permits: Semaphore,
    /// (the bound, permits still to be taken away as calls finish).
    state: Mutex<(usize, usize)>,
}

/// A call's place in flight; handing it back repays a lowered bound first.
pub(crate) struct Place<'a> {
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
    owner: &'a InFlight,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.owner.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(permit) = self.permit.take()
            && state.1 > 0
        {
            state.1 -= 1;
            permit.forget();
        }
    }
}

impl InFlight {
    pub(crate) fn new(max: usize) -> Self {
        Self { permits: Semaphore::new(max), state: Mutex::new((max, 0)) }
    }

    pub(crate) async fn enter(&self) -> Result<Place<'_>, tokio::sync::AcquireError> {
        Ok(Place { permit: Some(self.permits.acquire().await?), owner: self })
    }

    pub(crate) fn max(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    pub(crate) fn set_max(&self, max: usize) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (current, owed) = *state;
        if max >= current {
            let mut grow = max - current;
            // Cancel debt before adding permits.
            let cancel = grow.min(owed);
            state.1 -= cancel;
            grow -= cancel;
            self.permits.add_permits(grow);
        } else {
            let shrink = current - max;
            let taken = self.permits.forget_permits(shrink);
            state.1 += shrink - taken;
        }
        state.0 = max;
    }
}

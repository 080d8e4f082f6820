//! Counting compute dispatches (kernel launches) on the wgpu device. On a real GPU a training
//! step costs about one API round trip per dispatch before any math, so the count is the
//! hardware-independent figure to cut (`shige bench --device wgpu` prints it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cubecl::logging::{LaunchObservation, LaunchObserver};

#[derive(Default)]
struct Counter {
    total: AtomicUsize,
    /// Launches by kernel name, when asked for (`DispatchCount::by_kernel`).
    names: Option<std::sync::Mutex<std::collections::BTreeMap<&'static str, usize>>>,
}

impl LaunchObserver for Counter {
    fn launched(&self, kernel: &'static str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if let Some(names) = &self.names {
            *names.lock().expect("not poisoned").entry(kernel).or_default() += 1;
        }
    }
}

/// Counts every kernel launched (by any CubeCL client) while it lives.
pub struct DispatchCount {
    counter: Arc<Counter>,
    _observing: LaunchObservation,
}

impl DispatchCount {
    pub fn start() -> Self {
        Self::observe(Counter::default())
    }

    /// Also counts launches by kernel name (see `by_kernel`).
    pub fn start_by_kernel() -> Self {
        Self::observe(Counter { names: Some(Default::default()), ..Default::default() })
    }

    fn observe(counter: Counter) -> Self {
        let counter = Arc::new(counter);
        DispatchCount { _observing: LaunchObservation::new(counter.clone()), counter }
    }

    /// Kernels launched since `start`.
    pub fn count(&self) -> usize {
        self.counter.total.load(Ordering::Relaxed)
    }

    /// Launches by kernel name, most first (empty unless started with `start_by_kernel`).
    pub fn by_kernel(&self) -> Vec<(&'static str, usize)> {
        let mut all: Vec<_> = self.counter.names.as_ref().map(|n| n.lock().expect("not poisoned").clone().into_iter().collect()).unwrap_or_default();
        all.sort_by(|a, b| b.1.cmp(&a.1));
        all
    }
}

//! Linear memory of every instance together: per-instance limits alone let a rule set of many rules (or an old
//! and a new rule set during a swap) hold more than the Lambda has, so each instance's growth is also drawn from
//! one process-wide budget and given back when the instance goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The bytes all instances of an [`super::Engine`] may hold between them.
#[derive(Debug)]
pub struct MemoryBudget {
    total: usize,
    held: AtomicUsize,
}

/// What one instance holds of the budget; given back when the instance (its store) is dropped.
#[derive(Debug)]
pub(crate) struct Share {
    budget: Arc<MemoryBudget>,
    held: usize,
}

impl MemoryBudget {
    pub fn new(total: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget { total, held: AtomicUsize::new(0) })
    }

    /// Bytes held by live instances now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub(crate) fn share(self: &Arc<MemoryBudget>) -> Share {
        Share { budget: self.clone(), held: 0 }
    }
}

impl Share {
    /// Takes `bytes` more from the budget, or nothing if that would pass its total.
    pub(crate) fn grow(&mut self, bytes: usize) -> bool {
        let budget = &self.budget;
        let taken = budget.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(bytes).filter(|&after| after <= budget.total)
        });
        if taken.is_ok() {
            self.held += bytes;
        }
        taken.is_ok()
    }

    pub(crate) fn total(&self) -> usize {
        self.budget.total
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_draw_from_one_total_and_give_it_back() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.share();
        let mut b = budget.share();
        assert!(a.grow(60));
        assert!(!b.grow(41), "60 + 41 is over 100");
        assert!(b.grow(40));
        assert_eq!(budget.held(), 100);
        drop(a);
        assert_eq!(budget.held(), 40);
        assert!(b.grow(60));
        drop(b);
        assert_eq!(budget.held(), 0);
    }
}

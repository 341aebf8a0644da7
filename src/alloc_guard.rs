//! A global allocator that keeps element counts read off the wire from turning into giant
//! allocations while a request is decoded.
//!
//! kafka-protocol decodes an array with `Vec::with_capacity(count)` before it knows whether the
//! bytes for `count` elements are there. A four-byte body that claims 2^31 elements would make the
//! system allocator refuse (or, under strict overcommit, fail) a ~150 GB request, and Rust aborts
//! the process on allocation failure: no panic, nothing to catch.
//!
//! Defence: while a decode runs, [`with_decode_budget`] sets a per-thread budget derived from the
//! input length. Every element on the wire takes at least one byte and no decoded element is larger
//! than [`MAX_ELEMENT_SIZE`] bytes, so a legitimate decode never writes more than
//! `input_len * MAX_ELEMENT_SIZE` bytes into one vector. An allocation larger than that can only
//! come from a lying count, and the decode is bound to fail on missing bytes before it fills it.
//! Such a request is served by reserving the address space with `PROT_NONE` (never charged against
//! commit, so it succeeds under every overcommit policy) and making only the budgeted prefix
//! readable and writable. The vector is dropped when the decode fails and the mapping is released.
//! Outside a decode scope the allocator is the system allocator, untouched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Upper bound on `size_of` of any element type the decoders put in a vector.
pub const MAX_ELEMENT_SIZE: usize = 1024;
/// Allocations at or below this size never take the guarded path.
const SLACK: usize = 1 << 20;
const SLOTS: usize = 256;

thread_local! {
    static BUDGET: Cell<usize> = const { Cell::new(0) };
}

static LIVE: AtomicUsize = AtomicUsize::new(0);
static RESERVED_PTR: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static RESERVED_COMMITTED: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static RESERVATIONS_MADE: AtomicUsize = AtomicUsize::new(0);

/// The process-wide allocator; installed by `lib.rs`.
pub struct GuardedAlloc;

struct BudgetScope(usize);

impl Drop for BudgetScope {
    fn drop(&mut self) {
        let prev = self.0;
        let _ = BUDGET.try_with(|b| b.set(prev));
    }
}

/// Runs `f` (a decode of `input_len` bytes) with oversized allocations routed to reservations.
pub fn with_decode_budget<R>(input_len: usize, f: impl FnOnce() -> R) -> R {
    let limit = input_len
        .saturating_mul(MAX_ELEMENT_SIZE)
        .saturating_add(SLACK);
    let prev = BUDGET.with(|b| b.replace(limit));
    let _scope = BudgetScope(prev);
    f()
}

/// How many oversized allocations were turned into reservations since start (for tests and logs).
pub fn reservations_made() -> usize {
    RESERVATIONS_MADE.load(Ordering::Relaxed)
}

fn budget() -> usize {
    BUDGET.try_with(|b| b.get()).unwrap_or(0)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

unsafe fn reserve(layout: Layout, budget: usize) -> *mut u8 {
    let page = page_size();
    if layout.align() > page {
        return std::ptr::null_mut();
    }
    let size = layout.size();
    let ptr = libc::mmap(
        std::ptr::null_mut(),
        size,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    );
    if ptr == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let committed = budget.div_ceil(page).saturating_mul(page).min(size);
    if libc::mprotect(ptr, committed, libc::PROT_READ | libc::PROT_WRITE) != 0 {
        libc::munmap(ptr, size);
        return std::ptr::null_mut();
    }
    for i in 0..SLOTS {
        if RESERVED_PTR[i]
            .compare_exchange(0, ptr as usize, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            RESERVED_COMMITTED[i].store(committed, Ordering::Release);
            LIVE.fetch_add(1, Ordering::AcqRel);
            RESERVATIONS_MADE.fetch_add(1, Ordering::Relaxed);
            return ptr as *mut u8;
        }
    }
    libc::munmap(ptr, size);
    std::ptr::null_mut()
}

/// If `ptr` is one of our reservations, forgets it and returns its committed length.
fn take_reservation(ptr: *mut u8) -> Option<usize> {
    if LIVE.load(Ordering::Acquire) == 0 {
        return None;
    }
    for i in 0..SLOTS {
        if RESERVED_PTR[i].load(Ordering::Acquire) == ptr as usize {
            let committed = RESERVED_COMMITTED[i].load(Ordering::Acquire);
            RESERVED_PTR[i].store(0, Ordering::Release);
            LIVE.fetch_sub(1, Ordering::AcqRel);
            return Some(committed);
        }
    }
    None
}

unsafe impl GlobalAlloc for GuardedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > SLACK {
            let b = budget();
            if b != 0 && layout.size() > b {
                let p = reserve(layout, b);
                if !p.is_null() {
                    return p;
                }
            }
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > SLACK {
            let b = budget();
            if b != 0 && layout.size() > b {
                // Fresh anonymous mappings are already zeroed.
                let p = reserve(layout, b);
                if !p.is_null() {
                    return p;
                }
            }
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() > SLACK && take_reservation(ptr).is_some() {
            libc::munmap(ptr as *mut libc::c_void, layout.size());
            return;
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() > SLACK {
            if let Some(committed) = take_reservation(ptr) {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let fresh = self.alloc(new_layout);
                if !fresh.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, fresh, committed.min(new_size));
                }
                libc::munmap(ptr as *mut libc::c_void, layout.size());
                return fresh;
            }
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lying_count_is_reserved_not_committed() {
        let before = reservations_made();
        let v: Vec<[u8; 128]> = with_decode_budget(4, || Vec::with_capacity(1 << 31));
        assert!(v.capacity() >= 1 << 31);
        assert!(reservations_made() > before);
        drop(v);
    }

    #[test]
    fn budgeted_prefix_is_writable() {
        let mut v: Vec<u64> = with_decode_budget(16, || Vec::with_capacity(1 << 30));
        for i in 0..16 {
            v.push(i);
        }
        assert_eq!(v.iter().sum::<u64>(), 120);
    }
}

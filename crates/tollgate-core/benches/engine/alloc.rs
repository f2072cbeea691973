//! A global allocator that counts live heap bytes and allocation calls while asked to, for
//! bytes-per-key figures (and, in the server's bench, allocations per decision).
//!
//! The one module of the workspace with `unsafe`: it forwards every call to the system
//! allocator unchanged and only adds to or subtracts from a counter. Counting is off while
//! timing, so the peers' allocations cost them only an uncontended flag load.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

pub(crate) struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicIsize = AtomicIsize::new(0);

fn count(bytes: usize, sign: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(sign * bytes as isize, Ordering::Relaxed);
        if sign > 0 {
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments, so the contract of
// `GlobalAlloc` is `System`'s; the counter never affects what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            count(layout.size(), 1);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(layout.size(), 1);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(pointer, layout) };
        count(layout.size(), -1);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            count(new_size, 1);
            count(layout.size(), -1);
        }
        moved
    }
}

/// Heap bytes allocated (and not freed) while `work` runs, and what it returned.
#[allow(dead_code, reason = "the server's bench counts calls only")]
pub(crate) fn measure<T>(work: impl FnOnce() -> T) -> (isize, T) {
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let value = work();
    COUNTING.store(false, Ordering::SeqCst);
    (LIVE.load(Ordering::SeqCst), value)
}

/// Allocations (and reallocations) made while `work` runs, and what it returned.
#[allow(dead_code, reason = "the engine's bench counts bytes only")]
pub(crate) fn calls<T>(work: impl FnOnce() -> T) -> (isize, T) {
    CALLS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let value = work();
    COUNTING.store(false, Ordering::SeqCst);
    (CALLS.load(Ordering::SeqCst), value)
}

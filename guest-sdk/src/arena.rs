//! The module's allocator: a bump arena that starts over whenever nothing in it is alive.
//!
//! Why: a rule module's memory lives for one call. The host allocates the event's strings in the module
//! (`cabi_realloc`), the rule parses and writes its records, and after the call returns the host has the module
//! free all of it. A general-purpose allocator (the standard library's dlmalloc) spends about 450 instructions per
//! allocation and free on bins and headers for memory that is all given back together; here an allocation is a
//! pointer bump and a free is a count, and when the count reaches zero the arena starts over at its beginning.
//!
//! Memory that outlives a call (a rule's parameters parsed once and kept, a cache) keeps its chunk from starting
//! over. That chunk then fills up and is set aside, still holding what is alive in it, and a new chunk takes its
//! place; a set-aside chunk goes back to the general allocator when its last allocation is freed. At most
//! [`SLOTS`] chunks exist; with all of them taken, and for anything larger than [`LARGE`], allocations go to the
//! general allocator, so a module that keeps memory in unusual ways is no worse off than without the arena, and
//! holds at most `SLOTS × CHUNK` bytes more.
//!
//! Installed as the global allocator by the SDK in wasm builds (feature `arena`, on by default; turn it off to
//! install another allocator). Natively it is only built for its tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// One chunk: a wasm page, which holds a one-call event with room to spare (~1.5 KB envelope, its strings and
/// records); a batch of 64 fills about two.
const CHUNK: usize = 64 * 1024;
/// Chunks at most, current one included.
const SLOTS: usize = 4;
/// Allocations above this, or aligned to more than [`ALIGN`], go to the general allocator, so that a fresh chunk
/// always has room for the one that did not fit in the last.
const LARGE: usize = CHUNK / 4;
const ALIGN: usize = 16;

const CHUNK_LAYOUT: Layout = match Layout::from_size_align(CHUNK, ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("chunk layout"),
};

#[derive(Clone, Copy)]
struct Chunk {
    /// 0 for no chunk (`end` is then 0 too, so no address is inside it).
    start: usize,
    end: usize,
    /// Allocations in this chunk not yet freed.
    live: usize,
}

impl Chunk {
    const NONE: Chunk = Chunk { start: 0, end: 0, live: 0 };

    fn holds(&self, address: usize) -> bool {
        self.start <= address && address < self.end
    }
}

struct State {
    /// Where the next allocation in `current` starts.
    cursor: usize,
    /// The chunk allocations are made in.
    current: Chunk,
    /// Chunks that filled up with something in them still alive.
    aside: [Chunk; SLOTS - 1],
}

pub(crate) struct Arena(UnsafeCell<State>);

// SAFETY: a wasm module without the threads proposal has one thread; the arena is only installed there.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for Arena {}

impl Arena {
    pub(crate) const fn new() -> Arena {
        Arena(UnsafeCell::new(State { cursor: 0, current: Chunk::NONE, aside: [Chunk::NONE; SLOTS - 1] }))
    }
}

/// An allocation in the current chunk, if it fits.
#[inline(always)]
fn bump(state: &mut State, layout: Layout) -> Option<*mut u8> {
    let address = state.cursor.checked_add(layout.align() - 1)? & !(layout.align() - 1);
    // `max(1)`: a zero-sized allocation at the very end would be outside the chunk by `holds`.
    let end = address.checked_add(layout.size().max(1))?;
    if end > state.current.end {
        return None;
    }
    state.current.live += 1;
    state.cursor = address + layout.size();
    Some(address as *mut u8)
}

/// The current chunk is full (or there is none yet): set it aside and start a new one, or, with no room to set it
/// aside, leave the allocation to the general allocator.
#[cold]
unsafe fn alloc_in_new_chunk(state: &mut State, layout: Layout) -> *mut u8 {
    if state.current.start != 0 {
        let Some(slot) = state.aside.iter_mut().find(|chunk| chunk.start == 0) else {
            return unsafe { System.alloc(layout) };
        };
        *slot = state.current;
        state.current = Chunk::NONE;
    }
    let start = unsafe { System.alloc(CHUNK_LAYOUT) } as usize;
    if start == 0 {
        return unsafe { System.alloc(layout) };
    }
    state.current = Chunk { start, end: start + CHUNK, live: 0 };
    state.cursor = start;
    // A fresh chunk has room: larger or more aligned allocations never come here.
    bump(state, layout).unwrap_or(ptr::null_mut())
}

/// Frees an allocation in a chunk set aside; the chunk goes back to the general allocator with its last one.
/// Returns whether the allocation was in one.
#[cold]
unsafe fn dealloc_aside(state: &mut State, address: usize) -> bool {
    let Some(chunk) = state.aside.iter_mut().find(|chunk| chunk.holds(address)) else {
        return false;
    };
    chunk.live -= 1;
    if chunk.live == 0 {
        let start = chunk.start as *mut u8;
        *chunk = Chunk::NONE;
        unsafe { System.dealloc(start, CHUNK_LAYOUT) };
    }
    true
}

unsafe impl GlobalAlloc for Arena {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LARGE || layout.align() > ALIGN {
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: one thread, and no call in here re-enters the arena.
        let state = unsafe { &mut *self.0.get() };
        match bump(state, layout) {
            Some(pointer) => pointer,
            None => unsafe { alloc_in_new_chunk(state, layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        let state = unsafe { &mut *self.0.get() };
        let address = pointer as usize;
        if state.current.holds(address) {
            state.current.live -= 1;
            if state.current.live == 0 {
                state.cursor = state.current.start;
            } else if address + layout.size() == state.cursor {
                // The last allocation: its room is taken again (a temporary in a loop, freed before the next).
                state.cursor = address;
            }
        } else if !unsafe { dealloc_aside(state, address) } {
            unsafe { System.dealloc(pointer, layout) };
        }
    }

    #[inline]
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let state = unsafe { &mut *self.0.get() };
        let address = pointer as usize;
        let current = state.current.holds(address);
        if !current && !state.aside.iter().any(|chunk| chunk.holds(address)) {
            return unsafe { System.realloc(pointer, layout, new_size) };
        }
        // The chunk's last allocation (a record being written, a list being filled) grows or shrinks where it is.
        if current
            && address + layout.size() == state.cursor
            && new_size <= LARGE
            && address + new_size.max(1) <= state.current.end
        {
            state.cursor = address + new_size;
            return pointer;
        }
        if new_size <= layout.size() {
            return pointer;
        }
        // SAFETY: `new_size` comes from the caller, who keeps it within `isize` for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both allocations are at least `layout.size()` bytes and distinct: the old one is still live.
            unsafe {
                ptr::copy_nonoverlapping(pointer, moved, layout.size());
                self.dealloc(pointer, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    fn state(arena: &Arena) -> &State {
        unsafe { &*arena.0.get() }
    }

    fn chunks_in_use(arena: &Arena) -> usize {
        let state = state(arena);
        std::iter::once(&state.current).chain(&state.aside).filter(|c| c.start != 0).count()
    }

    fn in_arena(arena: &Arena, pointer: *mut u8) -> bool {
        let state = state(arena);
        std::iter::once(&state.current).chain(&state.aside).any(|c| c.holds(pointer as usize))
    }

    #[test]
    fn starts_over_when_everything_is_freed() {
        let arena = Arena::new();
        unsafe {
            let a = arena.alloc(layout(100, 8));
            let b = arena.alloc(layout(7, 1));
            let c = arena.alloc(layout(16, 16));
            assert_eq!(b as usize, a as usize + 100);
            assert_eq!(c as usize % 16, 0);
            assert!(c as usize >= b as usize + 7);
            arena.dealloc(b, layout(7, 1));
            arena.dealloc(a, layout(100, 8));
            let d = arena.alloc(layout(8, 8));
            assert!(d as usize > c as usize, "something is alive: no start over");
            arena.dealloc(c, layout(16, 16));
            arena.dealloc(d, layout(8, 8));
            assert_eq!(arena.alloc(layout(32, 8)), a, "nothing alive: the next allocation is the first address again");
        }
        assert_eq!(chunks_in_use(&arena), 1);
    }

    #[test]
    fn a_temporary_freed_before_the_next_leaves_its_room() {
        let arena = Arena::new();
        unsafe {
            let kept = arena.alloc(layout(24, 8)); // alive throughout, as a call's event is
            let first = arena.alloc(layout(40, 8));
            arena.dealloc(first, layout(40, 8));
            for n in 0..100_000 {
                let temporary = arena.alloc(layout(40, 8));
                assert_eq!(temporary, first, "turn {n}");
                arena.dealloc(temporary, layout(40, 8));
            }
            arena.dealloc(kept, layout(24, 8));
        }
        assert_eq!(chunks_in_use(&arena), 1);
    }

    #[test]
    fn the_last_allocation_grows_in_place_and_others_move_with_their_bytes() {
        let arena = Arena::new();
        unsafe {
            let a = arena.alloc(layout(4, 1));
            ptr::copy_nonoverlapping(b"weft".as_ptr(), a, 4);
            let grown = arena.realloc(a, layout(4, 1), 600);
            assert_eq!(grown, a);
            let b = arena.alloc(layout(1, 1));
            let moved = arena.realloc(a, layout(600, 1), 1200);
            assert_ne!(moved, a);
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"weft");
            assert_eq!(state(&arena).current.live, 2, "the old place was freed");
            assert_eq!(arena.realloc(moved, layout(1200, 1), 10), moved);
            arena.dealloc(b, layout(1, 1));
            arena.dealloc(moved, layout(10, 1));
            assert_eq!(state(&arena).cursor, state(&arena).current.start);
        }
    }

    #[test]
    fn memory_kept_across_calls_costs_one_chunk_not_the_arena() {
        let arena = Arena::new();
        unsafe {
            let kept = arena.alloc(layout(64, 8)); // e.g. parameters parsed once and kept
            let first = state(&arena).current.start;
            // Calls that each allocate 10 KB and free it: the first chunk fills, is set aside, and a second one
            // starts over after every call.
            let mut starts = Vec::new();
            for _ in 0..100 {
                let call: Vec<_> = (0..10).map(|_| arena.alloc(layout(1000, 8))).collect();
                starts.push(call[0] as usize);
                call.into_iter().for_each(|p| arena.dealloc(p, layout(1000, 8)));
            }
            assert_ne!(state(&arena).current.start, first);
            assert_eq!(chunks_in_use(&arena), 2);
            let second = state(&arena).current.start;
            assert!(starts[50..].iter().all(|s| *s == second), "the second chunk starts over after every call");
            arena.dealloc(kept, layout(64, 8));
            assert_eq!(chunks_in_use(&arena), 1, "the set-aside chunk went back when its last allocation did");
        }
    }

    #[test]
    fn large_allocations_and_a_full_arena_use_the_general_allocator() {
        let arena = Arena::new();
        unsafe {
            let big = arena.alloc(layout(LARGE + 1, 8));
            assert!(!in_arena(&arena, big));
            arena.dealloc(big, layout(LARGE + 1, 8));
            // Nothing is freed: every chunk fills, then the general allocator takes over.
            let pieces: Vec<_> = (0..SLOTS * CHUNK / LARGE + 8).map(|_| arena.alloc(layout(LARGE, 8))).collect();
            assert_eq!(chunks_in_use(&arena), SLOTS);
            assert!(pieces.iter().any(|p| !in_arena(&arena, *p)));
            pieces.into_iter().for_each(|p| arena.dealloc(p, layout(LARGE, 8)));
            assert_eq!(chunks_in_use(&arena), 1);
            assert_eq!(state(&arena).current.live, 0);
        }
    }

    /// Random allocations, frees and reallocations against what each allocation must hold: every live allocation
    /// is filled with its own byte and checked before it is freed, so an overlap or a bad copy fails here.
    #[test]
    fn random_use_never_overlaps_and_ends_with_one_empty_chunk() {
        let arena = Arena::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let check = |(p, l, fill): &(*mut u8, Layout, u8)| {
            let bytes = unsafe { std::slice::from_raw_parts(*p, l.size()) };
            assert!(bytes.iter().all(|b| b == fill), "allocation of {} bytes overwritten", l.size());
            assert_eq!(*p as usize % l.align(), 0);
        };
        for step in 0..200_000u32 {
            let size = match rng.u8(..) {
                0..=200 => rng.usize(1..200),
                201..=250 => rng.usize(200..5000),
                _ => rng.usize(5000..40_000),
            };
            match rng.u8(..4) {
                0 | 1 if live.len() < 300 => {
                    let l = layout(size, 1 << rng.u32(0..6));
                    let p = unsafe { arena.alloc(l) };
                    let fill = step as u8;
                    unsafe { ptr::write_bytes(p, fill, size) };
                    live.push((p, l, fill));
                }
                2 if !live.is_empty() => {
                    let entry = live.swap_remove(rng.usize(..live.len()));
                    check(&entry);
                    unsafe { arena.dealloc(entry.0, entry.1) };
                }
                _ if !live.is_empty() => {
                    let i = rng.usize(..live.len());
                    check(&live[i]);
                    let (p, l, fill) = live[i];
                    let moved = unsafe { arena.realloc(p, l, size) };
                    let kept = unsafe { std::slice::from_raw_parts(moved, size.min(l.size())) };
                    assert!(kept.iter().all(|b| *b == fill), "reallocation lost bytes");
                    let l = layout(size, l.align());
                    unsafe { ptr::write_bytes(moved, fill, size) };
                    live[i] = (moved, l, fill);
                }
                _ => {}
            }
            if rng.u16(..5000) == 0 {
                // The end of a call: everything is freed.
                live.drain(..).for_each(|entry| {
                    check(&entry);
                    unsafe { arena.dealloc(entry.0, entry.1) }
                });
                assert_eq!(chunks_in_use(&arena), 1);
                assert_eq!(state(&arena).cursor, state(&arena).current.start);
            }
        }
    }
}

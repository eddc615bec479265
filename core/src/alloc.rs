//! A global allocator for restyle's own processes (the `restyle` CLI and
//! `restyle-augment`) that keeps freed large blocks for reuse.
//!
//! Why: every op allocates its output, and a feature map of megabytes is,
//! with glibc, a fresh `mmap` whose pages fault in (zeroed by the kernel)
//! on first touch and are unmapped on free, with TLB shootdowns to the
//! other cores. A Gatys step at 256 px spent about 15 % of its time in the
//! kernel's page-fault and unmap paths (perf), and glibc's own cache stops
//! at 32 MB blocks. Networks run the same shapes every step, image and
//! frame, so a block kept by its exact layout is asked for again.
//!
//! Blocks of at least [`MIN_BLOCK`] bytes are kept, up to [`SLOTS`] blocks
//! and a byte cap in all (the oldest given back to the system first): [`CAP`]
//! until `main` sets the machine's with [`RetainingAllocator::set_cap`]
//! ([`cap_for`]: an eighth of the physical memory, at most 4 GiB: a
//! training step's activations outgrow 1 GiB).
//! Everything else, and every block handed out, is the system allocator's,
//! so `realloc` and `dealloc` of any pointer stay valid for it. Libraries
//! (the C ABI, the Python module, the plug-ins) leave the host process's
//! allocator alone: this is the choice of a process's `main`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Smaller blocks are left to the system allocator (its bins reuse them).
pub const MIN_BLOCK: usize = 1 << 20;
/// At most this many bytes kept until [`RetainingAllocator::set_cap`].
pub const CAP: usize = 1 << 30;
/// At most this many blocks kept.
pub const SLOTS: usize = 256;

/// The cap for a machine with `physical` bytes of memory (unknown: [`CAP`]).
pub fn cap_for(physical: Option<u64>) -> usize {
    physical.map_or(CAP, |p| (p / 8).min(4 << 30) as usize)
}

#[derive(Clone, Copy)]
struct Block {
    addr: usize,
    size: usize,
    align: usize,
}

struct Cache {
    /// Oldest first.
    blocks: [Block; SLOTS],
    len: usize,
    bytes: usize,
}

/// The allocator; `#[global_allocator] static A: RetainingAllocator = RetainingAllocator::new();`.
pub struct RetainingAllocator {
    /// A spin lock, not a `Mutex`: a lock inside the allocator must never
    /// allocate (some platforms' mutexes box themselves on first use), and
    /// large allocations are rare enough that it is never contended long.
    locked: AtomicBool,
    cap: AtomicUsize,
    cache: UnsafeCell<Cache>,
}

// SAFETY: `cache` is only touched inside `with_cache`, which holds `locked`.
unsafe impl Sync for RetainingAllocator {}

impl RetainingAllocator {
    pub const fn new() -> Self {
        RetainingAllocator {
            locked: AtomicBool::new(false),
            cap: AtomicUsize::new(CAP),
            cache: UnsafeCell::new(Cache {
                blocks: [Block { addr: 0, size: 0, align: 0 }; SLOTS],
                len: 0,
                bytes: 0,
            }),
        }
    }

    /// Keeps at most `bytes` (blocks kept beyond it go back on the next free).
    pub fn set_cap(&self, bytes: usize) {
        self.cap.store(bytes, Ordering::Relaxed);
    }

    fn with_cache<R>(&self, f: impl FnOnce(&mut Cache) -> R) -> R {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference to the cache.
        let r = f(unsafe { &mut *self.cache.get() });
        self.locked.store(false, Ordering::Release);
        r
    }

    /// A kept block of exactly this layout, if any.
    fn take(&self, l: Layout) -> Option<*mut u8> {
        self.with_cache(|c| {
            let len = c.len;
            // Newest first: the block freed last is the warmest in cache.
            let i = (0..len).rev().find(|&i| c.blocks[i].size == l.size() && c.blocks[i].align == l.align())?;
            let b = c.blocks[i];
            c.blocks.copy_within(i + 1..len, i);
            c.len -= 1;
            c.bytes -= b.size;
            Some(b.addr as *mut u8)
        })
    }

    /// Keeps `p` (a system block of layout `l`), giving the oldest kept
    /// blocks back to the system to make room.
    ///
    /// # Safety
    /// `p` must be a live block of layout `l` from [`System`] that the
    /// caller gives up.
    unsafe fn keep(&self, p: *mut u8, l: Layout) -> bool {
        let cap = self.cap.load(Ordering::Relaxed);
        if l.size() > cap {
            return false;
        }
        self.with_cache(|c| {
            while c.len == SLOTS || c.bytes + l.size() > cap {
                let old = c.blocks[0];
                let len = c.len;
                c.blocks.copy_within(1..len, 0);
                c.len -= 1;
                c.bytes -= old.size;
                // SAFETY: every kept block came from System with exactly this
                // layout (checked when it was kept) and is owned by the cache alone.
                unsafe { System.dealloc(old.addr as *mut u8, Layout::from_size_align_unchecked(old.size, old.align)) };
            }
            let len = c.len;
            c.blocks[len] = Block {
                addr: p as usize,
                size: l.size(),
                align: l.align(),
            };
            c.len += 1;
            c.bytes += l.size();
            true
        })
    }
}

impl Default for RetainingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every pointer returned is a System block of the requested layout
// (either fresh from System or a kept block of exactly that size and
// alignment, which nobody else holds once taken from the cache), so the
// GlobalAlloc contract holds as it does for System; the cache is behind a
// spin lock that never allocates.
unsafe impl GlobalAlloc for RetainingAllocator {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() >= MIN_BLOCK {
            if let Some(p) = self.take(l) {
                return p;
            }
        }
        // SAFETY: forwarded with the caller's guarantees (non-zero size).
        unsafe { System.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() >= MIN_BLOCK {
            if let Some(p) = self.take(l) {
                // SAFETY: `p` is a block of `l.size()` writable bytes that we own.
                unsafe { std::ptr::write_bytes(p, 0, l.size()) };
                return p;
            }
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller gives up `p`, a block of layout `l` that this
        // allocator handed out, i.e. a System block of that layout.
        if l.size() >= MIN_BLOCK && unsafe { self.keep(p, l) } {
            return;
        }
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `p` is a System block of layout `l` (see the impl's note),
        // so System may resize it (mremap for large blocks, no copy).
        unsafe { System.realloc(p, l, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_reused_zeroed_and_bounded() {
        let a = RetainingAllocator::new();
        let l = Layout::from_size_align(3 << 20, 64).unwrap();
        unsafe {
            let p = a.alloc(l);
            assert!(!p.is_null());
            p.write_bytes(7, l.size());
            a.dealloc(p, l);
            // Same layout: the same block, zeroed when asked.
            let q = a.alloc_zeroed(l);
            assert_eq!(p, q);
            assert!(std::slice::from_raw_parts(q, l.size()).iter().all(|&b| b == 0));
            // Another size or alignment: not that block.
            a.dealloc(q, l);
            let other = Layout::from_size_align(3 << 20, 128).unwrap();
            let r = a.alloc(other);
            assert_ne!(r, q);
            a.dealloc(r, other);
            // Small blocks are not kept.
            let small = Layout::from_size_align(4096, 8).unwrap();
            let s = a.alloc(small);
            a.dealloc(s, small);
            assert_eq!(a.with_cache(|c| c.len), 2);
            // More than SLOTS blocks: the oldest go back; bytes stay under CAP.
            let many: Vec<_> = (0..SLOTS + 5)
                .map(|i| (a.alloc(Layout::from_size_align((1 << 20) + i * 4096, 8).unwrap()), i))
                .collect();
            for (p, i) in many {
                a.dealloc(p, Layout::from_size_align((1 << 20) + i * 4096, 8).unwrap());
            }
            let (len, bytes) = a.with_cache(|c| (c.len, c.bytes));
            assert_eq!(len, SLOTS);
            assert!(bytes <= CAP);
            // Growing a kept-size block keeps its bytes.
            let g = a.alloc(l);
            g.write_bytes(9, l.size());
            let g2 = a.realloc(g, l, 5 << 20);
            assert_eq!(*g2.add(l.size() - 1), 9);
            a.dealloc(g2, Layout::from_size_align(5 << 20, 64).unwrap());
        }
    }
}

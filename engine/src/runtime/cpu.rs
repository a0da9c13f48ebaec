//! CPU time, per thread and for the whole process: what a subtask's
//! thread spent on a core, apart from the time it waited for the disk or
//! for a core (which DS2's useful time, a wall-clock span, includes), and
//! what the rest of the process (RocksDB's compactions and flushes, the
//! metrics endpoint) took beside the subtasks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill; both clocks
    // exist on every Linux the engine runs on.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU nanoseconds the calling thread has used since it started.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU nanoseconds every thread of the process has used since it started.
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// How often a busy thread publishes its CPU time: a clock read is a
/// system call, so not after every batch; a window of a few seconds sees
/// the figure at most this much late.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// A thread's CPU time, published into a counter other threads read.
pub(crate) struct ThreadCpu {
    last: Instant,
}

impl ThreadCpu {
    /// Starts publishing for the calling thread.
    pub(crate) fn new(into: &AtomicU64) -> ThreadCpu {
        into.store(thread_cpu_ns(), Relaxed);
        ThreadCpu { last: Instant::now() }
    }

    /// Publishes the thread's CPU time into `into` if the last did so long
    /// enough ago (`force`: now, as a thread that ends does).
    pub(crate) fn publish(&mut self, into: &AtomicU64, force: bool) {
        if force || self.last.elapsed() >= SAMPLE_EVERY {
            into.store(thread_cpu_ns(), Relaxed);
            self.last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_uses_cpu_and_a_sleeping_one_does_not() {
        let spin = std::thread::spawn(|| {
            let start = (thread_cpu_ns(), Instant::now());
            let mut x = 0u64;
            while start.1.elapsed() < Duration::from_millis(50) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            (thread_cpu_ns() - start.0, start.1.elapsed())
        });
        let sleep = std::thread::spawn(|| {
            let before = thread_cpu_ns();
            std::thread::sleep(Duration::from_millis(50));
            thread_cpu_ns() - before
        });
        let (spun, wall) = spin.join().unwrap();
        let slept = sleep.join().unwrap();
        // Spinning for 50 ms of wall time: on a core most of it (a busy
        // host may take some away), and never more than the wall time.
        assert!(spun >= 10_000_000 && spun <= wall.as_nanos() as u64 + 1_000_000, "spun {spun} ns in {wall:?}");
        assert!(slept < 5_000_000, "slept, yet used {slept} ns");
        assert!(process_cpu_ns() >= spun);
    }
}

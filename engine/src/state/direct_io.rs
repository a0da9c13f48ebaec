//! Checks that a state directory can do what the measurements rely on:
//! direct I/O (O_DIRECT), on a real disk.
//!
//! Without direct I/O the OS page cache hides block-cache misses, and a
//! tmpfs accepts O_DIRECT but reads at memory speed; either way every miss
//! ratio memscale measures would be meaningless.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::StateError;

/// `statfs` magic of tmpfs (and of ramfs, which behaves the same).
const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

fn dir_error(dir: &Path, reason: impl Into<String>) -> StateError {
    StateError::Directory { dir: dir.to_path_buf(), reason: reason.into() }
}

/// Refuses memory-backed file systems and file systems without O_DIRECT.
pub fn check_direct_io(dir: &Path) -> Result<(), StateError> {
    std::fs::create_dir_all(dir).map_err(|e| dir_error(dir, format!("cannot create the state directory: {e}")))?;
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| dir_error(dir, "path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a plain C struct
    // that statfs fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(dir_error(dir, format!("statfs failed: {}", std::io::Error::last_os_error())));
    }
    let magic = st.f_type as i64;
    if magic == TMPFS_MAGIC || magic == RAMFS_MAGIC {
        return Err(dir_error(
            dir,
            "is on tmpfs (memory): direct reads would run at memory speed and hide every block-cache miss; \
             put the state directory on a disk (--state-dir)",
        ));
    }
    let probe = dir.join(format!(".memscale-odirect-{}", std::process::id()));
    let cp = CString::new(probe.as_os_str().as_bytes()).map_err(|_| dir_error(dir, "path contains a NUL byte"))?;
    // SAFETY: plain open(2) with a valid path.
    let fd = unsafe { libc::open(cp.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_DIRECT | libc::O_TRUNC, 0o600) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(dir_error(dir, format!("does not support O_DIRECT ({e}); RocksDB's direct I/O needs it")));
    }
    // O_DIRECT wants a buffer, offset and length aligned to the block size.
    let mut buf = vec![0u8; 2 * 4096];
    let offset = buf.as_ptr().align_offset(4096);
    let aligned = &mut buf[offset..offset + 4096];
    // SAFETY: `aligned` is 4096 valid bytes at a 4096-aligned address.
    let written = unsafe { libc::write(fd, aligned.as_ptr() as *const libc::c_void, 4096) };
    let err = std::io::Error::last_os_error();
    // SAFETY: fd is open.
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&probe);
    if written != 4096 {
        return Err(dir_error(dir, format!("an aligned O_DIRECT write failed ({err})")));
    }
    Ok(())
}

/// What a probe of the disk's O_DIRECT reads found.
#[derive(Clone, Copy, Debug)]
pub struct ReadProbe {
    /// Sequential bandwidth in 1 MiB reads, bytes per microsecond.
    pub bytes_per_us: f64,
    /// Mean latency of a random 4 KiB read, microseconds.
    pub latency_us: f64,
}

/// Random 4 KiB reads the latency probe makes.
const LATENCY_READS: usize = 1000;

/// Probes the disk under `dir` with O_DIRECT: writes `bytes` (rounded up to
/// MiB) to a scratch file, reads it back in 1 MiB requests, then reads
/// 4 KiB at random aligned offsets, and removes it. A fresh file may still
/// sit in the host's cache, so both figures are bounds (the bandwidth from
/// above, the latency from below) that a model refines with the run's own
/// timed reads.
pub fn read_probe(dir: &Path, bytes: usize) -> Result<ReadProbe, StateError> {
    const CHUNK: usize = 1 << 20;
    let chunks = bytes.div_ceil(CHUNK).max(1);
    let probe = dir.join(format!(".memscale-bandwidth-{}", std::process::id()));
    let cp = CString::new(probe.as_os_str().as_bytes()).map_err(|_| dir_error(dir, "path contains a NUL byte"))?;
    let mut buf = vec![7u8; CHUNK + 4096];
    let offset = buf.as_ptr().align_offset(4096);
    let aligned = &mut buf[offset..offset + CHUNK];
    let io_err = |what: &str| dir_error(dir, format!("{what}: {}", std::io::Error::last_os_error()));
    // SAFETY: plain open(2) with a valid path.
    let fd = unsafe { libc::open(cp.as_ptr(), libc::O_CREAT | libc::O_RDWR | libc::O_DIRECT | libc::O_TRUNC, 0o600) };
    if fd < 0 {
        return Err(io_err("cannot open a scratch file with O_DIRECT"));
    }
    let result = (|| {
        for _ in 0..chunks {
            // SAFETY: `aligned` is CHUNK valid bytes at a 4096-aligned address.
            if unsafe { libc::write(fd, aligned.as_ptr() as *const libc::c_void, CHUNK) } != CHUNK as isize {
                return Err(io_err("writing the scratch file"));
            }
        }
        let start = std::time::Instant::now();
        for i in 0..chunks {
            let at = (i * CHUNK) as libc::off_t;
            // SAFETY: as above; reading into our own buffer.
            if unsafe { libc::pread(fd, aligned.as_mut_ptr() as *mut libc::c_void, CHUNK, at) } != CHUNK as isize {
                return Err(io_err("reading the scratch file"));
            }
        }
        let bytes_per_us = (chunks * CHUNK) as f64 / (start.elapsed().as_secs_f64() * 1e6).max(1e-9);
        let pages = (chunks * CHUNK / 4096) as u64;
        let mut at = 12345u64;
        let start = std::time::Instant::now();
        for _ in 0..LATENCY_READS {
            at = at.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let offset = ((at >> 33) % pages * 4096) as libc::off_t;
            // SAFETY: as above; 4096 bytes into the aligned buffer.
            if unsafe { libc::pread(fd, aligned.as_mut_ptr() as *mut libc::c_void, 4096, offset) } != 4096 {
                return Err(io_err("reading the scratch file"));
            }
        }
        let latency_us = start.elapsed().as_secs_f64() * 1e6 / LATENCY_READS as f64;
        Ok(ReadProbe { bytes_per_us, latency_us })
    })();
    // SAFETY: fd is open.
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&probe);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_passes_and_tmpfs_is_refused() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        check_direct_io(dir.path()).unwrap();
        let p = read_probe(dir.path(), 8 << 20).unwrap();
        assert!(p.bytes_per_us > 1.0, "a disk reads more than 1 MB/s: {p:?}");
        assert!(p.latency_us > 0.1 && p.latency_us < 100_000.0, "{p:?}");
        let shm = Path::new("/dev/shm");
        if shm.exists() {
            let err = check_direct_io(&shm.join(format!("memscale-test-{}", std::process::id()))).unwrap_err();
            let _ = std::fs::remove_dir(shm.join(format!("memscale-test-{}", std::process::id())));
            assert!(err.to_string().contains("tmpfs"), "{err}");
        }
    }
}

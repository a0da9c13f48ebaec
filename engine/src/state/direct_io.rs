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

/// A writable directory on tmpfs, from the mount table (/dev/shm where it
/// is, else any tmpfs mount that takes a new directory): what the tests of
/// the tmpfs refusal need. `None` on a machine without one.
pub fn find_tmpfs() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let mut candidates: Vec<std::path::PathBuf> = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (point, fstype) = (f.nth(1)?, f.next()?);
            (fstype == "tmpfs").then(|| std::path::PathBuf::from(point))
        })
        .collect();
    candidates.sort_by_key(|p| p != Path::new("/dev/shm"));
    candidates.into_iter().find(|p| {
        let probe = p.join(format!(".memscale-probe-{}", std::process::id()));
        let ok = std::fs::create_dir(&probe).is_ok();
        let _ = std::fs::remove_dir(&probe);
        ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_passes_and_tmpfs_is_refused() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        check_direct_io(dir.path()).unwrap();
        let tmpfs = find_tmpfs().expect("no writable tmpfs mount here: the tmpfs refusal cannot be tested");
        let probe = tmpfs.join(format!("memscale-test-{}", std::process::id()));
        let err = check_direct_io(&probe).unwrap_err();
        let _ = std::fs::remove_dir(&probe);
        assert!(err.to_string().contains("tmpfs"), "{err}");
    }
}

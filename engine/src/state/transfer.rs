//! Moving key groups between stores: what one subtask's store exports and
//! another's imports when a rescale hands key groups over.
//!
//! Keys carry their key group as a prefix, so a run of key groups is one
//! contiguous key range in every state. RocksDB exports it as one SST file
//! per state (a bounded scan into `SstFileWriter`) that the target ingests
//! by moving the file; any other store exports the entries themselves.

use std::hash::{DefaultHasher, Hasher};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use super::{StateError, StateId, StateStore};

/// Key groups taken out of one store, ready for another.
pub struct Exported {
    /// The key groups, ascending.
    pub groups: Vec<u16>,
    /// Entries moved.
    pub keys: u64,
    /// Key and value bytes moved.
    pub bytes: u64,
    /// The entries.
    pub data: ExportedData,
}

/// How the entries travel.
pub enum ExportedData {
    /// (state, key group, key without prefix, value).
    Entries(Vec<(StateId, u16, Vec<u8>, Vec<u8>)>),
    /// One SST file per state (keys with their prefix), to be ingested.
    SstFiles(Vec<(StateId, PathBuf)>),
}

/// Contiguous runs of ascending key groups: `[1, 2, 3, 7]` → `1..=3, 7..=7`.
pub fn runs(groups: &[u16]) -> Vec<RangeInclusive<u16>> {
    let mut out: Vec<RangeInclusive<u16>> = Vec::new();
    for &g in groups {
        match out.last_mut() {
            Some(r) if *r.end() as u32 + 1 == g as u32 => *r = *r.start()..=g,
            _ => out.push(g..=g),
        }
    }
    out
}

/// The entries of `groups` in every state, read with [`StateStore::scan`]:
/// the export of a store with no faster way.
pub fn export_by_scan<S: StateStore + ?Sized>(store: &mut S, groups: &[u16]) -> Result<Exported, StateError> {
    let mut entries = Vec::new();
    let mut bytes = 0u64;
    for s in 0..store.state_count() {
        let state = StateId(s as u16);
        for &kg in groups {
            store.scan(state, kg, b"", &mut |k, v| {
                bytes += (k.len() + v.len()) as u64;
                entries.push((state, kg, k.to_vec(), v.to_vec()));
                true
            })?;
        }
    }
    Ok(Exported { groups: groups.to_vec(), keys: entries.len() as u64, bytes, data: ExportedData::Entries(entries) })
}

/// Writes exported entries with [`StateStore::put`].
pub fn import_by_put<S: StateStore + ?Sized>(store: &mut S, data: Exported) -> Result<(), StateError> {
    match data.data {
        ExportedData::Entries(entries) => {
            for (state, kg, k, v) in entries {
                store.put(state, kg, &k, &v)?;
            }
            Ok(())
        }
        ExportedData::SstFiles(files) => Err(StateError::Transfer(format!(
            "this store cannot ingest SST files ({} given): both sides of a move must use one backend",
            files.len()
        ))),
    }
}

/// A checksum of each key group's entries (every state, keys and values in
/// key order): equal before and after a move when nothing was lost,
/// added or changed.
pub fn checksums<S: StateStore + ?Sized>(store: &mut S, groups: &[u16]) -> Result<Vec<(u16, u64)>, StateError> {
    let mut out = Vec::with_capacity(groups.len());
    for &kg in groups {
        // SipHash with fixed keys: the same bytes give the same sum in any
        // subtask.
        let mut h = DefaultHasher::new();
        let mut n = 0u64;
        for s in 0..store.state_count() {
            h.write_u16(s as u16);
            store.scan(StateId(s as u16), kg, b"", &mut |k, v| {
                n += 1;
                h.write_usize(k.len());
                h.write(k);
                h.write_usize(v.len());
                h.write(v);
                true
            })?;
        }
        h.write_u64(n);
        out.push((kg, h.finish()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    #[test]
    fn runs_split_where_groups_skip() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![1..=3, 7..=7, 9..=10]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn memory_moves_keep_every_entry() {
        let mut from = MemoryStore::new(2);
        let mut to = MemoryStore::new(2);
        for kg in 0..8u16 {
            for k in 0..10u32 {
                from.put(StateId((k % 2) as u16), kg, &k.to_be_bytes(), &[kg as u8; 3]).unwrap();
            }
        }
        let before = checksums(&mut from, &[2, 3, 5]).unwrap();
        let out = from.export_key_groups(&[2, 3, 5], std::path::Path::new(".")).unwrap();
        assert_eq!((out.keys, out.bytes), (30, 30 * 7));
        to.import_key_groups(out).unwrap();
        assert_eq!(checksums(&mut to, &[2, 3, 5]).unwrap(), before);
        assert_ne!(checksums(&mut to, &[4]).unwrap(), checksums(&mut from, &[4]).unwrap(), "group 4 did not move");
    }
}

//! State in ordered in-memory maps: the reference implementation that
//! operator tests run on.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::{StateError, StateId, StateStore};

/// One state's entries, ordered by (key group, key) as RocksDB orders
/// prefixed keys.
type Entries = BTreeMap<(u16, Vec<u8>), Vec<u8>>;

/// In-memory keyed state.
#[derive(Debug, Default)]
pub struct MemoryStore {
    states: Vec<Entries>,
    /// Per state, the `before` of the last pass that dropped expired
    /// entries.
    expired: Vec<u64>,
}

/// Expired entries are dropped in passes over the whole state, at most
/// once per this much advance of `before` (ms), so that a watermark moving
/// in small steps does not cost a pass each.
const EXPIRY_PASS_EVERY: u64 = 1_000;

impl MemoryStore {
    /// A store with `n_states` empty states.
    pub fn new(n_states: usize) -> MemoryStore {
        MemoryStore { states: (0..n_states).map(|_| BTreeMap::new()).collect(), expired: vec![0; n_states] }
    }

    fn state(&mut self, s: StateId) -> Result<&mut Entries, StateError> {
        self.states.get_mut(s.0 as usize).ok_or(StateError::UnknownState(s.0))
    }
}

impl StateStore for MemoryStore {
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        value.clear();
        match self.state(state)?.get(&(kg, key.to_vec())) {
            Some(v) => {
                value.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.state(state)?.insert((kg, key.to_vec()), value.to_vec());
        Ok(())
    }

    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        self.state(state)?.entry((kg, key.to_vec())).or_default().extend_from_slice(operand);
        Ok(())
    }

    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError> {
        let entries = self.state(state)?;
        let doomed: Vec<(u16, Vec<u8>)> = entries
            .range((kg, prefix.to_vec())..)
            .take_while(|((g, k), _)| *g == kg && k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            entries.remove(&k);
        }
        Ok(())
    }

    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError> {
        self.state(state)?.remove(&(kg, key.to_vec()));
        Ok(())
    }

    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        for ((g, k), v) in self.state(state)?.range((kg, prefix.to_vec())..) {
            if *g != kg || !k.starts_with(prefix) || !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn state_count(&self) -> usize {
        self.states.len()
    }

    fn delete_key_groups(&mut self, groups: RangeInclusive<u16>) -> Result<(), StateError> {
        for s in &mut self.states {
            s.retain(|(g, _), _| !groups.contains(g));
        }
        Ok(())
    }

    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        let last = self.expired.get_mut(state.0 as usize).ok_or(StateError::UnknownState(state.0))?;
        if before >= last.saturating_add(EXPIRY_PASS_EVERY) {
            *last = before;
            self.states[state.0 as usize].retain(|(_, k), _| crate::row::suffix_time(k).is_none_or(|t| t >= before));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conforms() {
        super::super::conformance::check(&mut super::MemoryStore::new(2));
    }

    #[test]
    fn expires() {
        super::super::conformance::check_expiry(&mut super::MemoryStore::new(2), &|_| {});
    }
}

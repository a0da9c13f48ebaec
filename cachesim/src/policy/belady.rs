//! Belady's MIN: evict the cached object whose next request is farthest in
//! the future (objects never requested again first).
//!
//! With variable sizes this is the classic heuristic, not the (NP-hard)
//! byte-optimal policy; like libCacheSim's `Belady`, every miss is admitted.

use std::collections::BinaryHeap;

use super::{Access, Cache, Needs};

#[derive(Clone, Copy, Default)]
struct Node {
    size: u32,
    next: u32,
    cached: bool,
}

/// Belady's MIN.
pub struct Belady {
    nodes: Vec<Node>,
    // (next access, object); stale entries are skipped when popped.
    heap: BinaryHeap<(u32, u32)>,
    used: u64,
    capacity: u64,
}

impl Belady {
    /// An empty cache.
    pub fn new(capacity: u64, n_objects: usize) -> Belady {
        Belady { nodes: vec![Node::default(); n_objects], heap: BinaryHeap::new(), used: 0, capacity }
    }
}

impl Cache for Belady {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let n = &mut self.nodes[i as usize];
        if n.cached {
            n.next = a.next;
            self.heap.push((a.next, i));
            return true;
        }
        let size = a.size as u64;
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            let Some((next, v)) = self.heap.pop() else {
                break;
            };
            let victim = &mut self.nodes[v as usize];
            if victim.cached && victim.next == next {
                victim.cached = false;
                self.used -= victim.size as u64;
            }
        }
        self.nodes[i as usize] = Node { size: a.size, next: a.next, cached: true };
        self.used += size;
        self.heap.push((a.next, i));
        // Keep the heap from growing without bound on long traces.
        if self.heap.len() > 4 * self.nodes.len().max(1024) {
            let nodes = &self.nodes;
            self.heap.retain(|&(next, v)| nodes[v as usize].cached && nodes[v as usize].next == next);
        }
        false
    }

    fn used(&self) -> u64 {
        self.used
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn needs(&self) -> Needs {
        Needs { next_access: true, key: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::dense::NEVER;

    #[test]
    fn never_again_goes_first() {
        let mut c = Belady::new(2, 3);
        let acc = |obj, next| Access { obj, size: 1, next, key: 0, high_priority: false, no_insert: false };
        assert!(!c.access(&acc(0, 3)));
        assert!(!c.access(&acc(1, NEVER)));
        assert!(!c.access(&acc(2, 4)));
        assert!(c.access(&acc(0, NEVER)));
        assert!(c.access(&acc(2, NEVER)));
    }
}

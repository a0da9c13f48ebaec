//! LRU and FIFO: one queue, differing only in whether a hit moves the
//! object to the head.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    cached: bool,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// A single-queue cache: insert at the head, evict at the tail; with
/// `PROMOTE`, a hit moves the object to the head (LRU), without it a hit
/// changes nothing (FIFO).
pub struct Queue<const PROMOTE: bool> {
    nodes: Vec<Node>,
    list: List,
    used: u64,
    capacity: u64,
}

/// Least recently used.
pub type Lru = Queue<true>;

impl<const PROMOTE: bool> Queue<PROMOTE> {
    /// An empty cache of `capacity` for objects `0..n_objects`.
    pub fn new(capacity: u64, n_objects: usize) -> Queue<PROMOTE> {
        Queue { nodes: vec![Node::default(); n_objects], list: List::default(), used: 0, capacity }
    }
}

impl<const PROMOTE: bool> Cache for Queue<PROMOTE> {
    per_object_nodes!();

    #[inline]
    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        if self.nodes[i as usize].cached {
            if PROMOTE {
                self.list.move_to_front(&mut self.nodes, i);
            }
            return true;
        }
        if a.no_insert {
            return false;
        }
        let size = a.size as u64;
        if size > self.capacity {
            return false;
        }
        while self.used + size > self.capacity {
            let victim = self.list.tail;
            self.list.remove(&mut self.nodes, victim);
            let v = &mut self.nodes[victim as usize];
            v.cached = false;
            self.used -= v.size as u64;
        }
        let n = &mut self.nodes[i as usize];
        n.cached = true;
        n.size = a.size;
        self.used += size;
        self.list.push_front(&mut self.nodes, i);
        false
    }

    fn used(&self) -> u64 {
        self.used
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}

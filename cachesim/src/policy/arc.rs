//! ARC (Megiddo and Modha, FAST'03) with byte sizes, as libCacheSim's `ARC`.
//!
//! T1 holds objects seen once recently, T2 objects seen at least twice; B1
//! and B2 are their ghosts (ids and sizes only). A hit in B1 grows the
//! target size `p` of T1, a hit in B2 shrinks it. Sizes are bytes, so `p`
//! moves by the ghost-size ratio (at least 1), and ghosts are trimmed when
//! T1+B1 would exceed the cache or everything would exceed twice the cache,
//! exactly where libCacheSim trims them. Ghost entries do not count against
//! the capacity.

use super::list::{Link, Linked, List};
use super::{Access, Cache};

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Where {
    #[default]
    Absent,
    T1,
    T2,
    B1,
    B2,
}

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    size: u32,
    at: Where,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

/// ARC.
pub struct Arc {
    nodes: Vec<Node>,
    t1: List,
    t2: List,
    b1: List,
    b2: List,
    t1_bytes: i64,
    t2_bytes: i64,
    b1_bytes: i64,
    b2_bytes: i64,
    p: f64,
    capacity: u64,
    n_req: u64,
    // libCacheSim keeps these across requests and resets them only on some
    // paths; we keep them the same way so edge cases match too.
    in_b1: bool,
    in_b2: bool,
    ghost_hit_req: u64,
}

impl Arc {
    /// An empty cache.
    pub fn new(capacity: u64, n_objects: usize) -> Arc {
        Arc {
            nodes: vec![Node::default(); n_objects],
            t1: List::default(),
            t2: List::default(),
            b1: List::default(),
            b2: List::default(),
            t1_bytes: 0,
            t2_bytes: 0,
            b1_bytes: 0,
            b2_bytes: 0,
            p: 0.0,
            capacity,
            n_req: 0,
            in_b1: false,
            in_b2: false,
            ghost_hit_req: u64::MAX,
        }
    }

    fn ghost_hit_now(&self) -> bool {
        self.ghost_hit_req == self.n_req && (self.in_b1 || self.in_b2)
    }

    /// ARC's REPLACE: demote the tail of T1 or T2 to its ghost list.
    fn replace(&mut self) {
        let t1 = self.t1_bytes as f64;
        let from_t1 = (self.t1_bytes > 0 && (t1 > self.p || (t1 == self.p && self.in_b2))) || self.t2_bytes == 0;
        if from_t1 {
            let v = self.t1.tail;
            self.t1.remove(&mut self.nodes, v);
            let sz = self.nodes[v as usize].size as i64;
            self.t1_bytes -= sz;
            self.b1_bytes += sz;
            self.nodes[v as usize].at = Where::B1;
            self.b1.push_front(&mut self.nodes, v);
        } else {
            let v = self.t2.tail;
            self.t2.remove(&mut self.nodes, v);
            let sz = self.nodes[v as usize].size as i64;
            self.t2_bytes -= sz;
            self.b2_bytes += sz;
            self.nodes[v as usize].at = Where::B2;
            self.b2.push_front(&mut self.nodes, v);
        }
    }

    fn drop_ghost_tail(&mut self, b1: bool) {
        let (list, bytes) = if b1 { (&mut self.b1, &mut self.b1_bytes) } else { (&mut self.b2, &mut self.b2_bytes) };
        let v = list.tail;
        list.remove(&mut self.nodes, v);
        *bytes -= self.nodes[v as usize].size as i64;
        self.nodes[v as usize].at = Where::Absent;
    }

    fn evict(&mut self, incoming: i64) {
        if self.ghost_hit_now() {
            return self.replace();
        }
        let c = self.capacity as i64;
        if self.t1_bytes + self.b1_bytes + incoming > c {
            if self.b1_bytes > 0 {
                self.drop_ghost_tail(true);
                self.replace();
            } else {
                let v = self.t1.tail;
                self.t1.remove(&mut self.nodes, v);
                self.t1_bytes -= self.nodes[v as usize].size as i64;
                self.nodes[v as usize].at = Where::Absent;
            }
        } else {
            if self.t1_bytes + self.b1_bytes + self.t2_bytes + self.b2_bytes >= 2 * c && self.b2_bytes > 0 {
                self.drop_ghost_tail(false);
            }
            self.replace();
        }
    }
}

impl Cache for Arc {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        self.n_req += 1;
        let i = a.obj;
        let node = self.nodes[i as usize];
        match node.at {
            Where::T1 => {
                self.in_b1 = false;
                self.in_b2 = false;
                self.t1.remove(&mut self.nodes, i);
                self.t2.push_front(&mut self.nodes, i);
                self.nodes[i as usize].at = Where::T2;
                self.t1_bytes -= node.size as i64;
                self.t2_bytes += node.size as i64;
                return true;
            }
            Where::T2 => {
                self.in_b1 = false;
                self.in_b2 = false;
                self.t2.move_to_front(&mut self.nodes, i);
                return true;
            }
            Where::B1 => {
                self.in_b1 = true;
                self.in_b2 = false;
                self.ghost_hit_req = self.n_req;
                let delta = (self.b2_bytes as f64 / self.b1_bytes as f64).max(1.0);
                self.p = (self.p + delta).min(self.capacity as f64);
                self.b1_bytes -= node.size as i64;
                self.b1.remove(&mut self.nodes, i);
                self.nodes[i as usize].at = Where::Absent;
            }
            Where::B2 => {
                self.in_b1 = false;
                self.in_b2 = true;
                self.ghost_hit_req = self.n_req;
                let delta = (self.b1_bytes as f64 / self.b2_bytes as f64).max(1.0);
                self.p = (self.p - delta).max(0.0);
                self.b2_bytes -= node.size as i64;
                self.b2.remove(&mut self.nodes, i);
                self.nodes[i as usize].at = Where::Absent;
            }
            Where::Absent => {}
        }
        let size = a.size as i64;
        if a.size as u64 > self.capacity {
            return false;
        }
        while self.t1_bytes + self.t2_bytes + size > self.capacity as i64 {
            self.evict(size);
        }
        self.nodes[i as usize].size = a.size;
        if self.ghost_hit_now() {
            self.nodes[i as usize].at = Where::T2;
            self.t2.push_front(&mut self.nodes, i);
            self.t2_bytes += size;
            self.in_b1 = false;
            self.in_b2 = false;
            self.ghost_hit_req = u64::MAX;
        } else {
            self.nodes[i as usize].at = Where::T1;
            self.t1.push_front(&mut self.nodes, i);
            self.t1_bytes += size;
        }
        false
    }

    fn used(&self) -> u64 {
        (self.t1_bytes + self.t2_bytes) as u64
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}

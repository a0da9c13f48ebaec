//! Intrusive doubly linked lists over per-object node arrays.
//!
//! Nodes live in one `Vec` indexed by dense object id; a list is a head, a
//! tail and a length. Several lists (ARC's four, S3-FIFO's three) can thread
//! through one node array because an object is in at most one of them.
//!
//! Orientation follows libCacheSim: `head` is the newest entry, `tail` the
//! oldest; a node's `prev` points toward the head.

/// No node.
pub const NIL: u32 = u32::MAX;

/// Neighbour indices of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Toward the head (newer).
    pub prev: u32,
    /// Toward the tail (older).
    pub next: u32,
}

impl Default for Link {
    fn default() -> Link {
        Link { prev: NIL, next: NIL }
    }
}

/// A node type that carries a [`Link`].
pub trait Linked {
    /// The node's link.
    fn link(&mut self) -> &mut Link;
}

/// A list threaded through a node array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct List {
    /// Newest node or [`NIL`].
    pub head: u32,
    /// Oldest node or [`NIL`].
    pub tail: u32,
    /// Number of nodes.
    pub len: u32,
}

impl Default for List {
    fn default() -> List {
        List { head: NIL, tail: NIL, len: 0 }
    }
}

impl List {
    /// Inserts `i` as the newest node.
    #[inline]
    pub fn push_front<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        let old = self.head;
        *nodes[i as usize].link() = Link { prev: NIL, next: old };
        if old != NIL {
            nodes[old as usize].link().prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
        self.len += 1;
    }

    /// Unlinks `i`, which must be in this list.
    #[inline]
    pub fn remove<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        let Link { prev, next } = *nodes[i as usize].link();
        if prev != NIL {
            nodes[prev as usize].link().next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            nodes[next as usize].link().prev = prev;
        } else {
            self.tail = prev;
        }
        *nodes[i as usize].link() = Link::default();
        self.len -= 1;
    }

    /// Moves `i`, which must be in this list, to the head.
    #[inline]
    pub fn move_to_front<N: Linked>(&mut self, nodes: &mut [N], i: u32) {
        if self.head != i {
            self.remove(nodes, i);
            self.push_front(nodes, i);
        }
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts `i` right after (older than) `at`, or at the head when `at`
    /// is [`NIL`].
    #[inline]
    pub fn insert_after<N: Linked>(&mut self, nodes: &mut [N], at: u32, i: u32) {
        if at == NIL {
            return self.push_front(nodes, i);
        }
        let next = nodes[at as usize].link().next;
        *nodes[i as usize].link() = Link { prev: at, next };
        nodes[at as usize].link().next = i;
        if next != NIL {
            nodes[next as usize].link().prev = i;
        } else {
            self.tail = i;
        }
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Clone)]
    struct N(Link);
    impl Linked for N {
        fn link(&mut self) -> &mut Link {
            &mut self.0
        }
    }

    fn order(l: &List, nodes: &mut [N]) -> Vec<u32> {
        let mut v = vec![];
        let mut i = l.head;
        while i != NIL {
            v.push(i);
            i = nodes[i as usize].link().next;
        }
        v
    }

    #[test]
    fn push_remove_move() {
        let mut nodes = vec![N::default(); 5];
        let mut l = List::default();
        for i in 0..4 {
            l.push_front(&mut nodes, i);
        }
        assert_eq!(order(&l, &mut nodes), vec![3, 2, 1, 0]);
        l.move_to_front(&mut nodes, 0);
        assert_eq!(order(&l, &mut nodes), vec![0, 3, 2, 1]);
        l.remove(&mut nodes, 2);
        assert_eq!(order(&l, &mut nodes), vec![0, 3, 1]);
        l.insert_after(&mut nodes, 3, 4);
        assert_eq!(order(&l, &mut nodes), vec![0, 3, 4, 1]);
        l.insert_after(&mut nodes, 1, 2);
        assert_eq!((l.tail, l.len), (2, 5));
        assert_eq!(order(&l, &mut nodes), vec![0, 3, 4, 1, 2]);
    }
}

//! First in, first out.

/// FIFO: a hit changes nothing; eviction takes the oldest insertion.
pub type Fifo = super::lru::Queue<false>;

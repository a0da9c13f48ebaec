//! The request type every trace reader produces and every simulator consumes.

use serde::Serialize;

/// What a request does to the object it names.
///
/// Block traces only ever read (`Get`); key-level state traces carry the
/// full set of state operations an operator performs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[repr(u8)]
pub enum Op {
    /// A point read.
    #[default]
    Get = 0,
    /// A write of a whole value.
    Put = 1,
    /// A removal.
    Delete = 2,
    /// A read-modify-write merged by the store.
    Merge = 3,
    /// The start of a range scan.
    Seek = 4,
    /// One step of a range scan.
    Next = 5,
}

impl Op {
    /// Every operation, in code order.
    pub const ALL: [Op; 6] = [Op::Get, Op::Put, Op::Delete, Op::Merge, Op::Seek, Op::Next];

    /// The operation with this code, if any.
    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.get(code as usize).copied()
    }

    /// Lower-case name used in reports and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::Merge => "merge",
            Op::Seek => "seek",
            Op::Next => "next",
        }
    }

    /// Parses a name as written by [`Op::name`] (case-insensitive).
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name().eq_ignore_ascii_case(s))
    }
}

/// The kind of a RocksDB block, with RocksDB's trace codes.
///
/// Index, filter and the other metadata blocks are inserted into RocksDB's
/// block cache with high priority; data blocks with low priority. The
/// RocksDB LRUCache model uses this to pick the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum BlockKind {
    /// Not a block (key-level or generic traces).
    #[default]
    None,
    /// Index block (trace code 7).
    Index,
    /// Filter block (8).
    Filter,
    /// Data block (9).
    Data,
    /// Compression dictionary (10).
    Dictionary,
    /// Range-deletion block (11).
    RangeDeletion,
    /// Any other code RocksDB may add.
    Other(u8),
}

impl BlockKind {
    /// Maps a RocksDB `TraceType` code to a block kind.
    pub fn from_rocksdb_code(code: u8) -> BlockKind {
        match code {
            7 => BlockKind::Index,
            8 => BlockKind::Filter,
            9 => BlockKind::Data,
            10 => BlockKind::Dictionary,
            11 => BlockKind::RangeDeletion,
            c => BlockKind::Other(c),
        }
    }

    /// RocksDB inserts every block but data blocks with high priority.
    pub fn is_high_priority(self) -> bool {
        !matches!(self, BlockKind::Data | BlockKind::None)
    }

    /// Lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::None => "none",
            BlockKind::Index => "index",
            BlockKind::Filter => "filter",
            BlockKind::Data => "data",
            BlockKind::Dictionary => "dictionary",
            BlockKind::RangeDeletion => "range-deletion",
            BlockKind::Other(_) => "other",
        }
    }
}

/// Optional labels a request may carry.
///
/// `stream` is the operator id of a key-level trace or the column-family id
/// of a block trace; it is what per-operator breakdowns group by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    /// Operator id (key traces) or column family id (block traces).
    pub stream: u32,
    /// Parallel subtask of the operator.
    pub subtask: u16,
    /// Flink key group of the key.
    pub key_group: u16,
    /// Block type, for block traces.
    pub block: BlockKind,
    /// RocksDB's caller code (Get, compaction, ...), for block traces.
    pub caller: u8,
    /// Whether the traced system itself recorded a hit, if it did.
    pub recorded_hit: Option<bool>,
    /// The lookup must not insert on a miss (RocksDB's `fill_cache=false`:
    /// compaction reads).
    pub no_insert: bool,
    /// A lookup the traced system made for itself (RocksDB's compaction,
    /// flush and table-open prefetch), not for a user read: it changes the
    /// cache but is not what the cache serves.
    pub background: bool,
}

/// One request of a trace.
///
/// Plain data, `Copy`: readers fill one in place per call so that reading a
/// binary trace does not allocate per request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Timestamp in the trace's own unit (seconds for oracleGeneral,
    /// microseconds for RocksDB and memscale traces).
    pub time: u64,
    /// Object identity (a 64-bit hash for keys and block keys).
    pub id: u64,
    /// Object size in bytes.
    pub size: u32,
    /// What the request does.
    pub op: Op,
    /// Index of the next request to the same object, when the trace
    /// carries it (oracleGeneral); `None` otherwise or when never.
    pub next_access: Option<u64>,
    /// Labels.
    pub tags: Tags,
}

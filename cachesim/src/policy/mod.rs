//! Cache policies behind one [`Cache`] trait.
//!
//! A policy sees one [`Access`] at a time and answers hit or miss, updating
//! its state as the real cache would. Capacity is in bytes of object size,
//! or in objects when the simulator passes every size as 1. An object larger
//! than the whole cache is never admitted (libCacheSim's semantics), and an
//! object's size is fixed while it stays cached: a hit on a resized object
//! keeps the cached size, as libCacheSim does.
//!
//! Per-object state lives in arrays indexed by the dense object id of a
//! [`crate::trace::dense::DenseTrace`] (or of a streamed trace, numbered as
//! its objects appear), so a request costs no hash lookup.

/// [`Cache::grow`] and [`Cache::prefetch`] for a policy whose per-object
/// state is one array `self.nodes` indexed by dense object id (all of
/// them): the array grows with default (absent) nodes.
macro_rules! per_object_nodes {
    () => {
        fn grow(&mut self, n_objects: usize) {
            if self.nodes.len() < n_objects {
                self.nodes.resize(n_objects, Default::default());
            }
        }

        #[inline]
        fn prefetch(&self, obj: u32) {
            crate::trace::ids::prefetch(self.nodes.as_ptr().wrapping_add(obj as usize));
        }
    };
}

pub mod arc;
pub mod belady;
pub mod clock;
pub mod fifo;
pub mod lfu;
pub mod list;
pub mod lru;
pub mod rocksdb_lru;
pub mod s3fifo;
pub mod sieve;
pub mod twoq;

use std::fmt;

use crate::error::ConfigError;
use crate::trace::dense::NEVER;

/// One request as a policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Dense object id.
    pub obj: u32,
    /// Size (bytes, or 1 in object units).
    pub size: u32,
    /// Index of the next request to this object, or [`NEVER`]; filled only
    /// for policies that ask for it ([`Needs::next_access`]).
    pub next: u32,
    /// The object's original id; filled only for policies that ask
    /// ([`Needs::key`]).
    pub key: u64,
    /// Whether the object is inserted with high priority (RocksDB index and
    /// filter blocks).
    pub high_priority: bool,
    /// A miss must not insert (RocksDB's compaction reads); honoured by LRU,
    /// FIFO and the RocksDB LRUCache model, the policies RocksDB traces are
    /// replayed through.
    pub no_insert: bool,
}

impl Access {
    /// An access with only id and size.
    pub fn new(obj: u32, size: u32) -> Access {
        Access { obj, size, next: NEVER, key: obj as u64, high_priority: false, no_insert: false }
    }
}

/// What a policy needs filled in beyond id and size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// [`Access::next`] (Belady).
    pub next_access: bool,
    /// [`Access::key`] and [`Access::high_priority`] (RocksDB LRUCache).
    pub key: bool,
}

/// A cache policy.
pub trait Cache: Send {
    /// Serves one request: `true` on a hit. On a miss the object is admitted
    /// if it fits in the cache at all.
    fn access(&mut self, a: &Access) -> bool;

    /// Bytes (or objects) currently cached.
    fn used(&self) -> u64;

    /// Capacity in the same unit.
    fn capacity(&self) -> u64;

    /// Makes room for objects `0..n_objects`: a streamed trace numbers its
    /// objects as it meets them, so the count grows after the cache is built.
    fn grow(&mut self, n_objects: usize);

    /// A hint that `obj` is accessed soon: bring its state into the CPU's
    /// cache (the simulator calls it a few requests ahead).
    fn prefetch(&self, _obj: u32) {}

    /// What the simulator must fill into each [`Access`].
    fn needs(&self) -> Needs {
        Needs::default()
    }
}

/// A policy name with its parameters, as written on the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// Least recently used.
    Lru,
    /// First in, first out.
    Fifo,
    /// CLOCK with an n-bit counter (libCacheSim's `n-bit-counter`, 1 by default).
    Clock {
        /// Counter bits.
        bits: u8,
    },
    /// Adaptive replacement cache.
    Arc,
    /// 2Q with libCacheSim's defaults: Ain 25%, Aout 50% of the size.
    TwoQ {
        /// Ain share of the cache.
        ain: f64,
        /// Aout (ghost) size as a share of the cache.
        aout: f64,
    },
    /// S3-FIFO: small FIFO 10%, ghost 90%, promotion after 2 hits.
    S3Fifo {
        /// Small queue share.
        small: f64,
        /// Ghost size as a share of the cache.
        ghost: f64,
        /// Accesses in the small queue that promote to main.
        threshold: u8,
    },
    /// SIEVE.
    Sieve,
    /// Least frequently used (ties: the oldest of the least frequent).
    Lfu,
    /// Belady's MIN from next-access times.
    Belady,
    /// RocksDB's LRUCache.
    RocksDbLru(rocksdb_lru::RocksDbLruConfig),
}

/// Every policy name accepted by [`PolicySpec::parse`].
pub const POLICY_NAMES: &[&str] =
    &["lru", "fifo", "clock", "arc", "2q", "s3fifo", "sieve", "lfu", "belady", "rocksdb-lru"];

impl PolicySpec {
    /// Parses `name` or `name:key=value,key=value`.
    pub fn parse(s: &str) -> Result<PolicySpec, ConfigError> {
        let (name, params) = match s.split_once(':') {
            Some((n, p)) => (n.trim(), p.trim()),
            None => (s.trim(), ""),
        };
        let mut kv: Vec<(String, String)> = Vec::new();
        for part in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                ConfigError::new(format!("--policy {s}"), format!("parameter `{part}` is not key=value"))
            })?;
            kv.push((k.trim().to_ascii_lowercase().replace('-', "_"), v.trim().to_string()));
        }
        let opt = format!("--policy {s}");
        let take_f64 =
            |kv: &[(String, String)], key: &str, default: f64, lo: f64, hi: f64| -> Result<f64, ConfigError> {
                match kv.iter().find(|(k, _)| k == key) {
                    None => Ok(default),
                    Some((_, v)) => {
                        v.parse::<f64>().ok().filter(|x| *x >= lo && *x <= hi).ok_or_else(|| {
                            ConfigError::new(&opt, format!("{key}={v}: expected a number in [{lo}, {hi}]"))
                        })
                    }
                }
            };
        let allow = |known: &[&str]| -> Result<(), ConfigError> {
            match kv.iter().find(|(k, _)| !known.contains(&k.as_str())) {
                None => Ok(()),
                Some((k, _)) if known.is_empty() => {
                    Err(ConfigError::new(&opt, format!("`{name}` takes no parameters (got `{k}`)")))
                }
                Some((k, _)) => {
                    Err(ConfigError::new(&opt, format!("unknown parameter `{k}`; `{name}` takes {}", known.join(", "))))
                }
            }
        };
        let spec = match name.to_ascii_lowercase().as_str() {
            "lru" => {
                allow(&[])?;
                PolicySpec::Lru
            }
            "fifo" => {
                allow(&[])?;
                PolicySpec::Fifo
            }
            "clock" => {
                allow(&["bits"])?;
                PolicySpec::Clock { bits: take_f64(&kv, "bits", 1.0, 1.0, 8.0)? as u8 }
            }
            "arc" => {
                allow(&[])?;
                PolicySpec::Arc
            }
            "2q" | "twoq" => {
                allow(&["ain", "aout"])?;
                PolicySpec::TwoQ {
                    ain: take_f64(&kv, "ain", 0.25, 0.0, 1.0)?,
                    aout: take_f64(&kv, "aout", 0.5, 0.0, 10.0)?,
                }
            }
            "s3fifo" | "s3-fifo" => {
                allow(&["small", "ghost", "threshold"])?;
                PolicySpec::S3Fifo {
                    small: take_f64(&kv, "small", 0.10, 0.0, 1.0)?,
                    ghost: take_f64(&kv, "ghost", 0.90, 0.0, 10.0)?,
                    threshold: take_f64(&kv, "threshold", 2.0, 1.0, 255.0)? as u8,
                }
            }
            "sieve" => {
                allow(&[])?;
                PolicySpec::Sieve
            }
            "lfu" => {
                allow(&[])?;
                PolicySpec::Lfu
            }
            "belady" | "opt" | "min" => {
                allow(&[])?;
                PolicySpec::Belady
            }
            "rocksdb-lru" | "rocksdb_lru" | "rocksdb" => {
                allow(&["shard_bits", "high_pri", "low_pri", "strict", "metadata", "seed"])?;
                let shard_bits = match kv.iter().find(|(k, _)| k == "shard_bits") {
                    None => None,
                    Some((_, v)) if v == "auto" || v == "-1" => None,
                    Some(_) => Some(take_f64(&kv, "shard_bits", 0.0, 0.0, 19.0)? as u8),
                };
                let strict = match kv.iter().find(|(k, _)| k == "strict") {
                    None => false,
                    Some((_, v)) => v
                        .parse::<bool>()
                        .map_err(|_| ConfigError::new(&opt, format!("strict={v}: expected true or false")))?,
                };
                let seed = match kv.iter().find(|(k, _)| k == "seed") {
                    None => rocksdb_lru::DEFAULT_SEED,
                    Some((_, v)) => v.parse::<u32>().map_err(|_| {
                        ConfigError::new(&opt, format!("seed={v}: expected an unsigned 32-bit integer"))
                    })?,
                };
                PolicySpec::RocksDbLru(rocksdb_lru::RocksDbLruConfig {
                    shard_bits,
                    high_pri_ratio: take_f64(&kv, "high_pri", 0.5, 0.0, 1.0)?,
                    low_pri_ratio: match take_f64(&kv, "low_pri", 0.0, 0.0, 1.0)? {
                        0.0 => 0.0,
                        x => {
                            return Err(ConfigError::new(
                                &opt,
                                format!(
                                    "low_pri={x}: only 0, RocksDB's default, is modelled (a low-priority pool \
                                     brings a third, bottom pool the model does not have)"
                                ),
                            ))
                        }
                    },
                    strict_capacity_limit: strict,
                    metadata_charge: take_f64(&kv, "metadata", 0.0, 0.0, 1e6)? as u32,
                    seed,
                })
            }
            other => {
                return Err(ConfigError::new(
                    "--policy",
                    format!("unknown policy `{other}`; expected one of {}", POLICY_NAMES.join(", ")),
                ))
            }
        };
        Ok(spec)
    }

    /// Parses a comma-separated list. Parameters after `name:` continue
    /// until the next token without `=`, so
    /// `lru,rocksdb-lru:shard_bits=3,high_pri=0.5,arc` is three policies.
    pub fn parse_list(s: &str) -> Result<Vec<PolicySpec>, ConfigError> {
        let mut groups: Vec<String> = Vec::new();
        for token in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match groups.last_mut() {
                Some(last) if token.contains('=') && !token.contains(':') && last.contains(':') => {
                    last.push(',');
                    last.push_str(token);
                }
                _ => groups.push(token.to_string()),
            }
        }
        if groups.is_empty() {
            return Err(ConfigError::new("--policy", "no policy given"));
        }
        groups.iter().map(|g| PolicySpec::parse(g)).collect()
    }

    /// Builds a cache of `capacity` for a trace with `n_objects` objects.
    pub fn build(&self, capacity: u64, n_objects: usize) -> Box<dyn Cache> {
        match self {
            PolicySpec::Lru => Box::new(lru::Lru::new(capacity, n_objects)),
            PolicySpec::Fifo => Box::new(fifo::Fifo::new(capacity, n_objects)),
            PolicySpec::Clock { bits } => Box::new(clock::Clock::new(capacity, n_objects, *bits)),
            PolicySpec::Arc => Box::new(arc::Arc::new(capacity, n_objects)),
            PolicySpec::TwoQ { ain, aout } => Box::new(twoq::TwoQ::new(capacity, n_objects, *ain, *aout)),
            PolicySpec::S3Fifo { small, ghost, threshold } => {
                Box::new(s3fifo::S3Fifo::new(capacity, n_objects, *small, *ghost, *threshold))
            }
            PolicySpec::Sieve => Box::new(sieve::Sieve::new(capacity, n_objects)),
            PolicySpec::Lfu => Box::new(lfu::Lfu::new(capacity, n_objects)),
            PolicySpec::Belady => Box::new(belady::Belady::new(capacity, n_objects)),
            PolicySpec::RocksDbLru(cfg) => Box::new(rocksdb_lru::RocksDbLru::new(capacity, n_objects, cfg)),
        }
    }
}

impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySpec::Lru => f.write_str("lru"),
            PolicySpec::Fifo => f.write_str("fifo"),
            PolicySpec::Clock { bits: 1 } => f.write_str("clock"),
            PolicySpec::Clock { bits } => write!(f, "clock:bits={bits}"),
            PolicySpec::Arc => f.write_str("arc"),
            PolicySpec::TwoQ { ain, aout } if *ain == 0.25 && *aout == 0.5 => f.write_str("2q"),
            PolicySpec::TwoQ { ain, aout } => write!(f, "2q:ain={ain},aout={aout}"),
            PolicySpec::S3Fifo { small, ghost, threshold } if *small == 0.1 && *ghost == 0.9 && *threshold == 2 => {
                f.write_str("s3fifo")
            }
            PolicySpec::S3Fifo { small, ghost, threshold } => {
                write!(f, "s3fifo:small={small},ghost={ghost},threshold={threshold}")
            }
            PolicySpec::Sieve => f.write_str("sieve"),
            PolicySpec::Lfu => f.write_str("lfu"),
            PolicySpec::Belady => f.write_str("belady"),
            PolicySpec::RocksDbLru(c) => write!(f, "rocksdb-lru{}", c.describe()),
        }
    }
}

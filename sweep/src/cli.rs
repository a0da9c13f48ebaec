//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// memscale: memory-aware profiling and cache modeling for stateful stream
/// processing.
///
/// Run Nexmark queries on a dataflow engine with RocksDB state (`run`),
/// profile their memory and predict the block cache's behaviour at every
/// size (`profile`), check the predictions against measurements (`sweep`),
/// rescale a running query by a policy and compare policies (`autoscale`,
/// `compare`); read cache traces, simulate cache policies at many sizes, and compute
/// miss-ratio curves (`trace`, `sim`, `mrc`). Sizes are written like `64MiB`, lists like
/// `128MiB,256MiB`, and ranges like `128MiB..1GiB:8` (8 evenly spaced sizes,
/// both ends included). Without a TRACE, `sim` and `mrc` run on a built-in
/// synthetic workload (Zipf 0.9, 2 M requests over 200 k objects of
/// 512 B-16 KiB).
#[derive(Parser, Debug)]
#[command(name = "memscale", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Simulate cache policies at many sizes (in parallel) and report misses.
    Sim(SimArgs),
    /// Compute a miss-ratio curve: exact LRU, SHARDS, AET or MiniSim.
    Mrc(MrcArgs),
    /// Inspect, convert and generate traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Measure simulator and MRC throughput (requests/s, one core).
    Bench(BenchArgs),
    /// Run a Nexmark query on the engine (RocksDB state with direct I/O) and
    /// report throughput, latency and per-operator cache behaviour.
    ///
    /// With no option, runs q20 over 1,000,000 events at parallelism 1 with
    /// a 64 MiB block cache per operator, serving metrics on
    /// 127.0.0.1:9249/metrics and writing summary.json and metrics
    /// snapshots into out/run.
    ///
    /// Operators can be rescaled and resized while the query runs: scripted
    /// with --rescale and --resize, or through the control endpoint
    /// (--control-addr, JSON over HTTP: GET /job, GET /operators,
    /// PUT /operators/OP/parallelism {"parallelism": 4, "strategy":
    /// "progressive"}, PUT /operators/OP/memory {"cache": "256MiB"}).
    /// Sources keep the parallelism they start with, and so do q10's file
    /// writers (their in-progress files are theirs to finish).
    Run(RunArgs),
    /// Profile a query's memory: run it once with block-level and key-level
    /// traces, model every stateful operator's block cache at every size,
    /// and write an HTML report with CSV and JSON beside it.
    ///
    /// With no option, profiles a job whose memory matters: q19 at the
    /// large-state preset, 24,000 events/s for 45 s, a 16 MiB cache, into
    /// out/profile (about a minute).
    Profile(ProfileArgs),
    /// Sweep memory configurations: run a query at every cache size (and
    /// write-buffer size), measure, and set the measurements beside the
    /// predictions of one profiling run. Resumable.
    ///
    /// Measured hit ratios are those of user reads, as RocksDB records each
    /// lookup in its block-cache trace (compaction's lookups bypass the
    /// cache and are left out); throughput is the rate the sources sustain.
    /// Set --rate below every configuration's capacity for the closest
    /// predictions: RocksDB's flushes and compactions then follow the same
    /// timeline in every run.
    ///
    /// With no option, sweeps the job `profile` runs without one (q19 at
    /// the large-state preset, for 45 s), at 20,000 events/s, at 4, 8, 16,
    /// 32, 64 and 128 MiB, into out/sweep (about six minutes): the hit
    /// ratio falls from 0.90 to 0.81 over those sizes, and below about
    /// 16 MiB the job falls behind; the sweep shows how closely one
    /// profiling run predicted both.
    Sweep(SweepArgs),
    /// Run a query under an autoscaler that rescales it live: parallelism
    /// (key groups migrate while the job runs) and block-cache size (in
    /// place).
    ///
    /// The sources emit at --rate; every --interval the controller observes
    /// the last window (DS2's true processing and output rates, busy and
    /// backpressure shares, the block-cache hit ratio of the operators' own
    /// reads, state-read latency p90, end-to-end latency) and asks the
    /// policy for a plan:
    ///
    /// ds2: DS2 (OSDI'18) as its reference implementation does it:
    /// parallelism from true rates, in one step; it never sizes memory.
    ///
    /// justin: Justin (DAIS'25) as its code does it: DS2 first; an operator
    /// DS2 would rescale whose hit ratio is below the minimum or whose
    /// state-read p90 is above the threshold gets one memory level more
    /// (base x 2^level) instead, while that keeps paying off.
    ///
    /// flink: Flink's Kubernetes-operator autoscaler: busy-time rates,
    /// target utilization 0.7 +- 0.3, parallelism aligned to divisors of
    /// the max parallelism, scale-downs delayed and capped; never memory.
    ///
    /// mrc: memscale's: each operator's cheapest (parallelism, cache) that
    /// sustains its target input, from its miss-ratio curve (a profile of
    /// the query, run first unless --profile names one) and costs measured
    /// on the live job, in one step; recalibrates when the measured rate misses
    /// its prediction by more than 15% in two windows in a row.
    ///
    /// Writes timeline.csv (per second and operator), decisions.jsonl (one
    /// line per interval: inputs, plan, reasons, applied or not),
    /// changes.json and report.html into --out. Sources keep their
    /// parallelism.
    Autoscale(AutoscaleArgs),
    /// Compare scaling policies on the same job: each runs from the same
    /// start configuration on the same events at the same target, one after
    /// another (`--repeat` rounds, policies in turn), and an oracle, the
    /// cheapest fixed (parallelism, cache) on a grid that sustains the
    /// target, found by runs in order of cost.
    ///
    /// Writes summary.csv (policy,rescales,converge_s,core_s,gib_s,cost,
    /// violation_s,final), summary.json, each run's directory (timeline,
    /// decisions, report) and report.html. Resumable: started again on the
    /// same --out with the same options, it runs only what is missing.
    Compare(CompareArgs),
    /// Nexmark's events as memscale generates them, for other engines.
    #[command(subcommand)]
    Nexmark(NexmarkCommand),
    /// A standalone Flink cluster on this machine, Nexmark queries on it,
    /// for `memscale autoscale --flink`.
    ///
    /// Flink comes from the `apache-flink` PyPI package (scripts/setup.sh
    /// installs it into .venv-flink; or set FLINK_HOME); a JDK 17 (java,
    /// javac, jar) must be on PATH.
    #[command(
        subcommand,
        after_help = "A session:\n  memscale flink up\n  memscale flink submit --query q20 --preset large-state --rate 20000\n  \
                      memscale autoscale --flink http://127.0.0.1:8081 --job JOB --rate 40000 --policy ds2 --duration 5m\n  \
                      memscale flink down"
    )]
    Flink(FlinkCommand),
}

/// `memscale flink ...`.
#[derive(Subcommand, Debug)]
pub enum FlinkCommand {
    /// Start a cluster on 127.0.0.1: one job manager, one task manager with
    /// --slots slots; the adaptive scheduler (parallelism changes without
    /// resubmission), RocksDB state with incremental checkpoints every
    /// --checkpoint-interval, RocksDB block-cache metrics and keyed-state
    /// latency tracking on. Its configuration, logs, checkpoints and
    /// savepoints go under --dir.
    Up(FlinkUpArgs),
    /// Stop the cluster started from --dir (and its jobs).
    Down(FlinkDirArgs),
    /// The cluster's slots and jobs, with each job's vertices and their
    /// parallelism.
    Status(FlinkUrlArgs),
    /// Run a Nexmark query as Flink SQL over a rate-limited Nexmark source
    /// with memscale's event mix and key distributions (a small Java job,
    /// compiled with javac against Flink's own jars on first use), into a
    /// blackhole sink; prints the job's id.
    ///
    /// RocksDB memory is per slot in Flink (--memory-per-slot: block cache
    /// and write buffers of every stateful operator in the slot; the block
    /// cache gets 5/6 of it), not per operator as on memscale's engine.
    Submit(FlinkSubmitArgs),
    /// Cancel a job.
    Cancel(FlinkJobArgs),
}

/// Where the cluster is.
#[derive(Args, Debug, Clone)]
pub struct FlinkUrlArgs {
    /// REST address of the cluster.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub url: String,
}

/// The cluster's folder and Flink's.
#[derive(Args, Debug, Clone)]
pub struct FlinkDirArgs {
    /// The cluster's folder (conf/, log/, checkpoints/, savepoints/, jobs/).
    #[arg(long, default_value = "out/flink")]
    pub dir: PathBuf,
    /// Flink's folder (default: $FLINK_HOME, else the pyflink package of
    /// .venv-flink, else the one python3 imports).
    #[arg(long, value_name = "DIR")]
    pub flink_home: Option<PathBuf>,
}

/// Options of `memscale flink up`.
#[derive(Args, Debug, Clone)]
pub struct FlinkUpArgs {
    #[command(flatten)]
    pub dir: FlinkDirArgs,
    /// REST port.
    #[arg(long, default_value_t = 8081)]
    pub rest_port: u16,
    /// Job manager RPC port.
    #[arg(long, default_value_t = 6123)]
    pub rpc_port: u16,
    /// Task slots: the most subtasks any vertex can have.
    #[arg(long, default_value_t = 8)]
    pub slots: u32,
    /// Task manager process memory.
    #[arg(long, default_value = "4GiB")]
    pub taskmanager_memory: String,
    /// Checkpoint interval (a rescale restarts from the latest checkpoint).
    #[arg(long, default_value = "5s")]
    pub checkpoint_interval: String,
}

/// Options of `memscale flink submit`.
#[derive(Args, Debug, Clone)]
pub struct FlinkSubmitArgs {
    #[command(flatten)]
    pub url: FlinkUrlArgs,
    #[command(flatten)]
    pub dir: FlinkDirArgs,
    /// Nexmark query (every one memscale runs, q0-q5 and q7-q22, with its
    /// Flink SQL in flink/sql/).
    #[arg(long, default_value = "q20")]
    pub query: String,
    /// Nexmark parameter preset: default or large-state (as `run`'s).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Events per second the source emits at most (and the spacing of
    /// event times).
    #[arg(long)]
    pub rate: u64,
    /// Events in all (default: unbounded).
    #[arg(long)]
    pub events: Option<u64>,
    /// Parallelism of every vertex but the source's (1).
    #[arg(long, default_value_t = 1)]
    pub parallelism: u32,
    /// RocksDB memory per slot (block cache and write buffers).
    #[arg(long, default_value = "32MiB")]
    pub memory_per_slot: String,
    /// Maximum parallelism (key groups).
    #[arg(long, default_value_t = 128)]
    pub max_parallelism: u32,
    /// Event time of the first event, ms since the epoch (default: now).
    #[arg(long)]
    pub base_time: Option<u64>,
}

/// A job on the cluster.
#[derive(Args, Debug, Clone)]
pub struct FlinkJobArgs {
    #[command(flatten)]
    pub url: FlinkUrlArgs,
    /// The job's id (memscale flink status lists them).
    #[arg(long)]
    pub job: String,
}

/// Trace format names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect from the content (and the file name for oracleGeneral).
    Auto,
    /// libCacheSim oracleGeneral: 24-byte records.
    Oracle,
    /// CSV; columns set with --csv-columns.
    Csv,
    /// RocksDB block-cache trace (db_bench -block_cache_trace_file).
    Rocksdb,
    /// memscale key-access trace.
    Memscale,
}

/// Cache size units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UnitArg {
    /// Sizes are bytes of object size.
    Bytes,
    /// Sizes count objects; object sizes are ignored.
    Objects,
}

/// Index and filter layout of SST files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FilterLayoutArg {
    /// Cut into blocks of about 4 KiB under a small pinned top-level index,
    /// as Flink's `state.backend.rocksdb.memory.partitioned-index-filters`:
    /// a cache miss on them reads one partition.
    Partitioned,
    /// One index and one filter block per file (RocksDB's and Flink's
    /// default): a miss reads the whole file's filter (0.5 MB for a 64 MiB
    /// file), and a small cache, split into shards of 512 KiB, thrashes on
    /// them.
    Whole,
}

/// Which requests count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OpsArg {
    /// Every request.
    All,
    /// Reads only (get, seek, next), as a read cache sees them.
    Reads,
}

/// Options shared by commands that read a trace.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Trace file (zstd-compressed files are read transparently). Omit to use
    /// the built-in synthetic workload.
    pub trace: Option<PathBuf>,
    /// Trace format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// CSV layout as key=value pairs: header=true|false, delimiter=C,
    /// time|id|size|op|stream=INDEX|NAME. Example: header=false,time=0,id=1,size=2
    #[arg(long, default_value = "")]
    pub csv_columns: String,
    /// Which requests count as cache accesses.
    #[arg(long, value_enum, default_value_t = OpsArg::All)]
    pub ops: OpsArg,
}

/// Options shared by commands that report per size.
#[derive(Args, Debug, Clone)]
pub struct SizeArgs {
    /// Cache sizes: 64MiB, a list 128MiB,256MiB, or a range 128MiB..1GiB:8.
    /// Without a unit, a plain number (bytes, or objects with --unit objects).
    #[arg(long, default_value = "64MiB..512MiB:8")]
    pub sizes: String,
    /// What a size counts.
    #[arg(long, value_enum, default_value_t = UnitArg::Bytes)]
    pub unit: UnitArg,
    /// Do not count the first N requests (they still warm the cache).
    #[arg(long, value_name = "N", conflicts_with = "warmup_time")]
    pub warmup: Option<u64>,
    /// Do not count requests in the first T units of trace time.
    #[arg(long, value_name = "T")]
    pub warmup_time: Option<u64>,
}

/// Where results go.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write results as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Plot miss ratio against size (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// `memscale sim`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  memscale sim trace.oracleGeneral.bin --policy lru,arc,s3fifo --sizes 128MiB..1GiB:8 --csv out.csv\n  memscale sim block.trace --policy 'rocksdb-lru:shard_bits=3,high_pri=0.5,lru' --sizes 8MiB,64MiB\n\nCSV columns: policy,cache_size,requests,misses,miss_ratio,bytes_requested,byte_misses,byte_miss_ratio"
)]
pub struct SimArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Policies, comma-separated: lru, fifo, clock, arc, 2q, s3fifo, sieve,
    /// lfu, belady, rocksdb-lru. Parameters follow a colon:
    /// rocksdb-lru:shard_bits=3,high_pri=0.5 ; clock:bits=2 ; 2q:ain=0.25,aout=0.5 ;
    /// s3fifo:small=0.1,ghost=0.9,threshold=2.
    #[arg(long, default_value = "lru,fifo,clock,arc,2q,s3fifo,sieve,lfu,belady")]
    pub policy: String,
    /// Count only user reads (gets, iterators) of a RocksDB block trace:
    /// compaction, flush and table-open lookups still pass through the cache
    /// (compaction's never insert) but are left out of the counts, as the
    /// hit ratio a user's reads see. Without it every lookup counts, as in
    /// RocksDB's statistics.
    #[arg(long)]
    pub user_reads: bool,
    #[command(flatten)]
    pub sizes: SizeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// MRC algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AlgoArg {
    /// Exact LRU stack distances, O(N log M).
    Exact,
    /// SHARDS: spatially sampled LRU stack distances (--rate, --max-samples).
    Shards,
    /// AET: from reuse times, O(N).
    Aet,
    /// MiniSim: any --policy simulated on a sample at sizes scaled by --rate.
    Minisim,
}

/// `memscale mrc`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  memscale mrc trace.bin --algo exact --sizes 128MiB..1GiB:8 --csv mrc.csv --plot mrc.svg\n  memscale mrc trace.bin --algo shards --rate 0.01 --sizes 1GiB..16GiB:16\n  memscale mrc trace.bin --algo minisim --policy arc --rate 0.01\n\nCSV columns: algo,cache_size,miss_ratio,byte_miss_ratio"
)]
pub struct MrcArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Algorithm (several may be given, comma-separated, to compare them).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "exact")]
    pub algo: Vec<AlgoArg>,
    /// Sampling rate for shards and minisim, in (0, 1].
    #[arg(long, default_value_t = 0.01)]
    pub rate: f64,
    /// SHARDS fixed-size mode: track at most N objects (the rate starts at --rate and falls).
    #[arg(long, value_name = "N")]
    pub max_samples: Option<usize>,
    /// Policy for minisim (any `sim` policy name).
    #[arg(long, default_value = "lru")]
    pub policy: String,
    /// Also print the full exact step curve (every distance where it steps).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub sizes: SizeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `memscale nexmark ...`.
#[derive(Subcommand, Debug)]
pub enum NexmarkCommand {
    /// Write the events a run would read as CSV, one folder per table
    /// (`person/`, `auction/`, `bid/`, each with `part-0.csv`, no header),
    /// and `schema.sql`, Flink SQL tables over those folders: so that
    /// Flink (or any engine) can run a query on the very events memscale's
    /// queries read. Timestamps are UTC, `yyyy-MM-dd HH:mm:ss.SSS`.
    #[command(after_help = "Example:\n  memscale nexmark export --events 50000 --preset large-state -o out/events")]
    Export(NexmarkExportArgs),
}

/// Options of `memscale nexmark export`.
#[derive(Args, Debug, Clone)]
pub struct NexmarkExportArgs {
    /// Events to write (over all tables: about 2% people, 6% auctions,
    /// 92% bids).
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Nexmark parameter preset: default or large-state (as `run`'s).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Event time of the first event, ms since the epoch (as `run`'s).
    #[arg(long, default_value_t = engine::nexmark::DEFAULT_BASE_TIME_MS)]
    pub base_time: u64,
    /// Directory to write into (created; files already there are replaced).
    #[arg(short, long, default_value = "out/events")]
    pub out: PathBuf,
}

/// `memscale trace ...`.
#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Requests, objects, working set, sizes, time span, per-operator breakdown.
    Info {
        #[command(flatten)]
        input: InputArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Convert a trace to another format.
    Convert {
        #[command(flatten)]
        input: InputArgs,
        /// Output file.
        #[arg(long, short)]
        output: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        to: OutFormatArg,
    },
    /// Generate a synthetic trace.
    Gen(GenArgs),
}

/// Formats memscale can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormatArg {
    /// libCacheSim oracleGeneral (next-access times filled in).
    Oracle,
    /// CSV with header time,id,size,op,stream.
    Csv,
    /// memscale key-access trace.
    Memscale,
}

/// Popularity distributions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DistArg {
    /// Zipf with exponent --alpha.
    Zipf,
    /// Uniform.
    Uniform,
}

/// `memscale trace gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormatArg::Oracle)]
    pub to: OutFormatArg,
    /// Requests.
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: u64,
    /// Distinct objects of the random part.
    #[arg(long, default_value_t = 100_000)]
    pub objects: u64,
    /// Popularity distribution.
    #[arg(long, value_enum, default_value_t = DistArg::Zipf)]
    pub dist: DistArg,
    /// Zipf exponent.
    #[arg(long, default_value_t = 0.9)]
    pub alpha: f64,
    /// Smallest object size (e.g. 512, 4KiB).
    #[arg(long, default_value = "512")]
    pub min_size: String,
    /// Largest object size.
    #[arg(long, default_value = "16KiB")]
    pub max_size: String,
    /// Share of requests that are sequential scans of fresh objects, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    pub scan_fraction: f64,
    /// Objects per scan.
    #[arg(long, default_value_t = 1000)]
    pub scan_length: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `memscale bench`.
#[derive(Args, Debug)]
#[command(
    after_help = "scripts/bench_vs_libcachesim.sh runs this beside the libcachesim package on the same trace and prints the ratios."
)]
pub struct BenchArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Policies to time.
    #[arg(long, default_value = "lru,fifo,clock,arc,2q,s3fifo,sieve,lfu")]
    pub policy: String,
    /// Cache size for the policy runs.
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// SHARDS rate.
    #[arg(long, default_value_t = 0.01)]
    pub rate: f64,
    /// Also compute accuracy (MAE) of SHARDS, AET and MiniSim (ARC, S3-FIFO)
    /// against exact curves at --mae-sizes.
    #[arg(long)]
    pub accuracy: bool,
    /// Sizes for the accuracy comparison.
    #[arg(long, default_value = "64MiB..4GiB:20")]
    pub mae_sizes: String,
    /// Write the figures as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Where keyed state lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// RocksDB with direct I/O (what a Flink job with the RocksDB backend
    /// does).
    Rocksdb,
    /// In-memory maps (no cache, no disk).
    Memory,
}

/// What to run and how: shared by `run`, `profile` and `sweep`.
#[derive(Args, Debug, Clone)]
pub struct JobArgs {
    /// Nexmark query: q0 to q22 but q6 (which Flink does not run either)
    /// [default: q20]. q10 writes its CSV files under --out/bid, partitioned
    /// by day and minute. `profile` and `sweep` without --query run a job
    /// whose memory matters: q19 (top 10 bids per auction) at the
    /// large-state preset, 24,000 events/s for 45 s, with a 16 MiB cache
    /// (each of those unless given; `sweep` runs it at 20,000 events/s and
    /// its own sizes).
    #[arg(long)]
    pub query: Option<String>,
    /// Events to generate (over all source subtasks). Default 1,000,000
    /// unless --duration is given.
    #[arg(long, conflicts_with = "duration")]
    pub events: Option<u64>,
    /// Run for this long, then drain (e.g. 30s, 2m, 1500ms).
    #[arg(long)]
    pub duration: Option<String>,
    /// Events per second over all sources (also spaces event timestamps).
    /// Default: as fast as the job goes, timestamps 10,000 events/s apart.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Parallelism: one number for every operator, or per operator as
    /// op=P pairs, or both: `2`, `join=3`, `2,join=3`.
    #[arg(long, default_value = "1")]
    pub parallelism: String,
    /// Block cache per stateful operator (shared by its subtasks): `64MiB`,
    /// `join=128MiB`, or `32MiB,join=128MiB` [default: 64MiB]. In `sweep`,
    /// the sizes to run at, as `--sizes` takes them.
    #[arg(long)]
    pub cache: Option<String>,
    /// RocksDB write buffer (memtable) size per state.
    #[arg(long, default_value = "8MiB")]
    pub write_buffer: String,
    /// State backend.
    #[arg(long, value_enum, default_value_t = StateArg::Rocksdb)]
    pub state: StateArg,
    /// Nexmark parameter preset: default (100 in-flight auctions, 1000
    /// active people) or large-state (100,000 of each) [default: default].
    #[arg(long)]
    pub preset: Option<String>,
    /// Auctions open at a time (overrides the preset).
    #[arg(long)]
    pub in_flight_auctions: Option<usize>,
    /// People active at a time (overrides the preset).
    #[arg(long)]
    pub active_people: Option<usize>,
    /// One in N bids goes to a hot auction (overrides the preset; Nexmark: 2).
    #[arg(long, value_name = "N")]
    pub hot_auction_ratio: Option<usize>,
    /// One in N bids comes from a hot bidder (Nexmark: 4).
    #[arg(long, value_name = "N")]
    pub hot_bidder_ratio: Option<usize>,
    /// One in N auctions comes from a hot seller (Nexmark: 4).
    #[arg(long, value_name = "N")]
    pub hot_seller_ratio: Option<usize>,
    /// Event time of the first event, ms since the epoch (pinned so runs
    /// repeat exactly).
    #[arg(long, default_value_t = engine::nexmark::DEFAULT_BASE_TIME_MS)]
    pub base_time: u64,
    /// Maximum parallelism (number of key groups).
    #[arg(long, default_value_t = 128)]
    pub max_parallelism: u32,
    /// Record every state access into this key trace (memscale format; a
    /// `.zst` name compresses).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Sample the key trace spatially at this rate (SHARDS rule), 0 < R <= 1.
    #[arg(long, default_value_t = 1.0, requires = "trace")]
    pub trace_sample: f64,
    /// Record RocksDB's own block-cache trace of every subtask's DB into
    /// this directory (`<operator>.<subtask>.trace`).
    #[arg(long, value_name = "DIR")]
    pub block_trace: Option<PathBuf>,
    /// Keep one block in N in the block trace (RocksDB's sampling: a kept
    /// block keeps its whole history).
    #[arg(long, default_value_t = 1, requires = "block_trace")]
    pub block_trace_sampling: u64,
    /// State directory (default: OUT/state). Must be on a disk that supports
    /// O_DIRECT (not tmpfs).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the state directory after the run.
    #[arg(long)]
    pub keep_state: bool,
    /// Buffered I/O instead of direct I/O (the page cache then hides
    /// block-cache misses; for experiments only).
    #[arg(long)]
    pub buffered_io: bool,
    /// How each SST file's index and bloom filter are laid out in the block
    /// cache.
    #[arg(long, value_enum, default_value_t = FilterLayoutArg::Partitioned)]
    pub filters: FilterLayoutArg,
    /// Count each operator's own block-cache hits and misses (RocksDB's
    /// PerfContext on its subtasks' threads: compaction's lookups left
    /// out) into `user_hits`/`user_misses` of the summary. Costs about 3%
    /// of throughput on lookup-heavy queries (q5, q7); `autoscale` always
    /// counts, since its live hit ratio is this one.
    #[arg(long)]
    pub count_user_reads: bool,
}

/// Options of `memscale run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Run directory: summary.json, metrics.csv, metrics.jsonl.
    #[arg(long, default_value = "out/run")]
    pub out: PathBuf,
    /// Prometheus endpoint address, or `off`.
    #[arg(long, default_value = "127.0.0.1:9249")]
    pub metrics_addr: String,
    /// Interval of the metrics snapshots written to the run directory.
    #[arg(long, default_value = "1s")]
    pub snapshot_interval: String,
    /// Write the query's result rows (final result, after retractions) as
    /// CSV.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Scripted rescales, TIME:OPERATOR=PARALLELISM,...: `20s:join=4,40s:join=2`
    /// gives `join` 4 subtasks 20 s into the run and 2 at 40 s. Key groups
    /// move to their new owners while the job runs; no row is lost or
    /// duplicated. Sources keep their parallelism, and so do q10's file
    /// writers.
    #[arg(long, value_name = "SCHEDULE")]
    pub rescale: Option<String>,
    /// Scripted memory changes, TIME:OPERATOR=CACHE[/WRITE_BUFFERS],...:
    /// `30s:join=256MiB` sets the operator's block cache (shared by its
    /// subtasks) in place; `30s:join=256MiB/64MiB` also its write-buffer
    /// budget, `30s:join=/64MiB` only that.
    #[arg(long, value_name = "SCHEDULE")]
    pub resize: Option<String>,
    /// How rescales move key groups: `progressive` (Megaphone's fluid
    /// migration: a few key groups at a time while the rest flow; only rows
    /// of a group in transit wait) or `stop-the-world` (the sources pause
    /// behind a barrier, everything in flight drains, every group moves at
    /// once: what Flink's restart from a checkpoint does).
    #[arg(long, value_enum, default_value = "progressive")]
    pub strategy: StrategyArg,
    /// Key groups per step of a progressive rescale: fewer hold fewer rows
    /// for less time, more finish sooner (docs/BENCHMARKS.md measures 1, 2,
    /// 4 and 8). Under backpressure a step that waited over 100 ms for its
    /// markers doubles the next one.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub migration_batch: usize,
    /// Order of a progressive rescale's key groups: `key-group` (ascending)
    /// or `hot-first` (most state accesses first).
    #[arg(long, value_enum, default_value = "key-group")]
    pub order: OrderArg,
    /// Control endpoint address (loopback unless you name another), or
    /// `off`.
    #[arg(long, default_value = "127.0.0.1:9250")]
    pub control_addr: String,
}

/// Options of `memscale autoscale`.
#[derive(Args, Debug, Clone)]
pub struct AutoscaleArgs {
    /// Nexmark query (see `memscale run --help`).
    #[arg(long, default_value = "q20")]
    pub query: String,
    /// Nexmark parameter preset: default or large-state.
    #[arg(long, default_value = "large-state")]
    pub preset: String,
    /// The target: events per second over all sources. The sources emit at
    /// this rate; a job that falls behind builds a backlog it must catch up.
    #[arg(long)]
    pub rate: u64,
    /// Scaling policy.
    #[arg(long, value_enum, default_value_t = PolicyArg::Ds2)]
    pub policy: PolicyArg,
    /// How the target moves: `constant` (--rate throughout), `step` (half
    /// of it for the first third of --duration, then all), `sine` (0.6 up
    /// to 1.0 times --rate and back, every half --duration).
    #[arg(long, value_enum, default_value_t = ScenarioArg::Constant)]
    pub scenario: ScenarioArg,
    /// How long to run (then the sources stop and the job drains).
    #[arg(long, default_value = "5m")]
    pub duration: String,
    /// Start parallelism: one number for every operator, or op=P pairs
    /// (`1`, `2,join=1`).
    #[arg(long, default_value = "1")]
    pub start_parallelism: String,
    /// Start block cache per stateful operator (`32MiB`, `join=16MiB`).
    #[arg(long, default_value = "32MiB")]
    pub start_cache: String,
    /// RocksDB write buffer (memtable) size per state.
    #[arg(long, default_value = "8MiB")]
    pub write_buffer: String,
    /// Output directory: timeline.csv, decisions.jsonl, changes.json,
    /// summary.json, report.html.
    #[arg(long, default_value = "out/autoscale")]
    pub out: PathBuf,
    /// Prometheus endpoint address, or `off`.
    #[arg(long, default_value = "127.0.0.1:9249")]
    pub metrics_addr: String,
    /// Policy interval: the window each decision looks at.
    #[arg(long, default_value = "10s")]
    pub interval: String,
    /// Whole windows ignored after a change (caches fill, moved state
    /// settles); a window that spans a change is never used.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub warmup: u32,
    /// Act on a plan only once it has been proposed this many times in a
    /// row (DS2's activation time).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub activation: u32,
    /// Time after a change before the next may start.
    #[arg(long, default_value = "0s")]
    pub cooldown: String,
    /// At most this many subtasks (cores) over all operators.
    #[arg(long, value_name = "N")]
    pub max_cores: Option<u32>,
    /// At most this much block cache over all operators (e.g. 2GiB).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// How rescales move key groups: progressive or stop-the-world.
    #[arg(long, value_enum, default_value = "progressive")]
    pub strategy: StrategyArg,
    /// ds2, justin: over-provision every operator by this share (DS2's
    /// scaling factor; reference default 0).
    #[arg(long, default_value_t = 0.0, help_heading = "DS2")]
    pub scaling_factor: f64,
    /// ds2: when no operator scales up while the sources run more than this
    /// factor below the target, scale every operator by that factor (the
    /// reference's final adjustment; off by default).
    #[arg(long, value_name = "RATIO", help_heading = "DS2")]
    pub target_rate_ratio: Option<f64>,
    /// justin: which defaults: `code` (as Justin's code ships: hit ratio
    /// 0.7, state-read p90 0.1 ms, two memory levels) or `paper` (its
    /// paper and experiment files: 0.8, 1 ms, three levels).
    #[arg(long, value_enum, default_value_t = JustinDefaultsArg::Code, help_heading = "Justin")]
    pub justin_defaults: JustinDefaultsArg,
    /// justin: memory at level 0 (level L gets base x 2^L) [default: the
    /// start cache].
    #[arg(long, value_name = "SIZE", help_heading = "Justin")]
    pub justin_base: Option<String>,
    /// justin: override the minimum hit ratio.
    #[arg(long, help_heading = "Justin")]
    pub justin_hit_min: Option<f64>,
    /// justin: override the state-read p90 threshold, microseconds.
    #[arg(long, value_name = "US", help_heading = "Justin")]
    pub justin_latency_us: Option<f64>,
    /// flink: target utilization (Flink: 0.7; it acts outside +-0.3).
    #[arg(long, default_value_t = 0.7, help_heading = "Flink")]
    pub flink_utilization: f64,
    /// flink: a scale-down waits this long (Flink: 1h, cut for runs of
    /// minutes) and takes the largest parallelism recommended meanwhile.
    #[arg(long, default_value = "60s", help_heading = "Flink")]
    pub flink_scale_down_delay: String,
    /// mrc: price of a core-hour. Default: Google Cloud N2 on-demand,
    /// us-central1, USD 0.031611 per vCPU-hour.
    #[arg(long, default_value_t = autoscaler::policy::mrc::CORE_HOUR_PRICE, allow_negative_numbers = true, help_heading = "MRC")]
    pub core_price: f64,
    /// mrc: price of a GiB-hour of memory. Default: the same price list,
    /// USD 0.004237 per GiB-hour (a core costs as much as 7.5 GiB).
    #[arg(long, default_value_t = autoscaler::policy::mrc::GIB_HOUR_PRICE, allow_negative_numbers = true, help_heading = "MRC")]
    pub gib_price: f64,
    /// mrc: plan for the target at this share of capacity (headroom).
    #[arg(long, default_value_t = 0.9, help_heading = "MRC")]
    pub headroom: f64,
    /// mrc: plan a growing state for its size this far ahead (its growth
    /// projected: on the engine its mean since the job started, on Flink
    /// over the last window): a step sized for
    /// the state of now falls short as it grows, and every further step is
    /// a change. Memory is cheap beside cores at the default prices, so a
    /// longer horizon costs little (on q9, 120 s kept the join at one
    /// subtask where 30 s scaled it out).
    #[arg(long, default_value = "120s", help_heading = "MRC")]
    pub horizon: String,
    /// mrc: the profile directory (profile.json of `memscale profile` on
    /// the same query and preset) whose curves are the model. Without it, a
    /// profile is run first into OUT/profile.
    #[arg(long, value_name = "DIR", help_heading = "MRC")]
    pub profile: Option<PathBuf>,
    /// mrc: cores the job's operators share, which cap what more subtasks
    /// give: on the engine, what the other operators' threads and the
    /// process's background work (RocksDB's flushes and compactions) take
    /// of them at the target, from their measured CPU time, is not the
    /// operator's [default: this machine's cores; 0: a core per subtask, as
    /// in a cluster].
    #[arg(long, value_name = "N", help_heading = "MRC")]
    pub cores: Option<f64>,
    /// mrc: events of the profiling run made without --profile.
    #[arg(long, default_value_t = 400_000, help_heading = "MRC")]
    pub profile_events: u64,
    /// Maximum parallelism (number of key groups).
    #[arg(long, default_value_t = 128)]
    pub max_parallelism: u32,
    /// State directory (default: OUT/state); a disk with O_DIRECT.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Drive a Flink job instead of the engine: its cluster's REST address
    /// (with --job). Parallelism changes go through Flink's adaptive
    /// scheduler; memory changes stop the job with a savepoint and resubmit
    /// it with the new RocksDB memory per slot (so only jobs submitted with
    /// `memscale flink submit` can change memory). Flink shares a slot's
    /// RocksDB memory among its stateful operators: memscale credits each
    /// of k stateful operators with 1/k of a slot's block cache per
    /// subtask, and sizes slots so that every operator gets at least what
    /// the plan asks; a rescale keeps each subtask's share unless the plan
    /// asks more per subtask. --query, --preset and the --start options are
    /// the job's own; `mrc` needs --profile (a memscale profile of the
    /// query). A change that fails (a savepoint, a resubmission) ends the
    /// run with its error; the job runs on as it was.
    #[arg(long, value_name = "URL", requires = "job", help_heading = "Flink job")]
    pub flink: Option<String>,
    /// The Flink job's id (memscale flink status lists them).
    #[arg(long, value_name = "ID", requires = "flink", help_heading = "Flink job")]
    pub job: Option<String>,
    /// The Flink cluster's folder, where `memscale flink submit` keeps what
    /// a resubmission needs.
    #[arg(long, value_name = "DIR", default_value = "out/flink", help_heading = "Flink job")]
    pub flink_dir: PathBuf,
}

/// Options of `memscale compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Nexmark query.
    #[arg(long, default_value = "q19")]
    pub query: String,
    /// Nexmark parameter preset.
    #[arg(long, default_value = "large-state")]
    pub preset: String,
    /// The target, events/s over all sources.
    #[arg(long)]
    pub target_rate: u64,
    /// Policies to compare, in the order they run.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "ds2,justin,flink,mrc")]
    pub policies: Vec<PolicyArg>,
    /// How the target moves: `constant` (R throughout), `step` (R/2 for
    /// the first third, then R), `sine` (0.6 R up to R and back every half
    /// run); R is --target-rate, the peak.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Constant)]
    pub scenario: ScenarioArg,
    /// Length of each run.
    #[arg(long, default_value = "2m")]
    pub duration: String,
    /// Rounds: each runs every policy once, in turn.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Start parallelism of every run.
    #[arg(long, default_value = "1")]
    pub start_parallelism: String,
    /// Start block cache of every run.
    #[arg(long, default_value = "8MiB")]
    pub start_cache: String,
    /// Policy interval.
    #[arg(long, default_value = "10s")]
    pub interval: String,
    /// Whole windows ignored after a change and after the start.
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,
    /// Price of a core-hour (see `memscale autoscale --help`).
    #[arg(long, default_value_t = autoscaler::policy::mrc::CORE_HOUR_PRICE, allow_negative_numbers = true)]
    pub core_price: f64,
    /// Price of a GiB-hour.
    #[arg(long, default_value_t = autoscaler::policy::mrc::GIB_HOUR_PRICE, allow_negative_numbers = true)]
    pub gib_price: f64,
    /// The MRC policy's horizon (see `memscale autoscale --help`).
    #[arg(long, default_value = "120s")]
    pub horizon: String,
    /// Parallelisms of the oracle's grid (every operator but the sources).
    #[arg(long, default_value = "1,2,3,4")]
    pub oracle_parallelism: String,
    /// Cache sizes of the oracle's grid (every stateful operator).
    #[arg(long, default_value = "8MiB,16MiB,32MiB,64MiB,128MiB,256MiB")]
    pub oracle_cache: String,
    /// Skip the oracle.
    #[arg(long)]
    pub no_oracle: bool,
    /// Events of the profiling run the `mrc` policy's model comes from
    /// (made once, shared by its runs).
    #[arg(long, default_value_t = 400_000)]
    pub profile_events: u64,
    /// Output directory.
    #[arg(long, default_value = "out/compare")]
    pub out: PathBuf,
    /// Maximum parallelism.
    #[arg(long, default_value_t = 128)]
    pub max_parallelism: u32,
}

/// `--scenario`: how the sources' rate moves over a run of duration D
/// with a target of R events/s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioArg {
    /// R throughout.
    Constant,
    /// R/2 for the first third of the run, then R.
    Step,
    /// From 0.6 R up to R and back, every D/2 (0.8 R on average).
    Sine,
}

impl ScenarioArg {
    /// The sources' rate shape, and the configured rate it multiplies,
    /// for a target (peak) of `rate` over `duration_s`.
    pub fn shape(self, rate: u64, duration_s: f64) -> (u64, engine::runtime::rate::RateShape) {
        use engine::runtime::rate::RateShape;
        match self {
            ScenarioArg::Constant => (rate, RateShape::Constant),
            ScenarioArg::Step => (rate, RateShape::Step { at_s: duration_s / 3.0, before: 0.5 }),
            ScenarioArg::Sine => {
                ((rate as f64 * 0.8).round() as u64, RateShape::Sine { period_s: duration_s / 2.0, amplitude: 0.25 })
            }
        }
    }
}

/// `--policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// DS2: parallelism from true rates.
    Ds2,
    /// Justin: DS2, then memory levels for poor hit ratios.
    Justin,
    /// Flink's Kubernetes-operator autoscaler.
    Flink,
    /// memscale's MRC-guided cost-optimal policy.
    Mrc,
}

/// `--justin-defaults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JustinDefaultsArg {
    /// As Justin's code ships.
    Code,
    /// As its paper and experiments.
    Paper,
}

/// How rescales move key groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// A few key groups at a time while everything else flows.
    Progressive,
    /// Pause, drain, move everything, resume.
    StopTheWorld,
}

/// Order of a progressive rescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Ascending key group.
    KeyGroup,
    /// Most state accesses first.
    HotFirst,
}

/// Options of `memscale profile`.
#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Report directory: report.html, profile.csv, profile.json, traces.
    #[arg(long, default_value = "out/profile")]
    pub out: PathBuf,
    /// Cache sizes to predict at: a list, LO..HI:N (evenly spaced) or
    /// LO..HI:N:log (log-spaced).
    #[arg(long, default_value = "4MiB..512MiB:29:log")]
    pub sizes: String,
    /// Hit ratio to find the needed cache size for [default: 0.9; 0.85 for
    /// the q19 job `profile` runs without --query, whose curve levels near
    /// 0.9: the rest are first reads of blocks compaction has just written].
    #[arg(long)]
    pub target_hit_ratio: Option<f64>,
    /// Skip the key-level trace (the block-level trace is always taken).
    #[arg(long)]
    pub no_key_trace: bool,
    /// Keep the trace files in the report directory.
    #[arg(long)]
    pub keep_traces: bool,
}

/// Options of `memscale sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Cache sizes per stateful operator to run at: a list, or LO..HI:N for
    /// N evenly spaced sizes, both ends included, LO..HI:N:log for
    /// log-spaced ones (`--cache` says the same) [default: 8MiB..512MiB:8;
    /// without --query 4MiB..128MiB:6:log].
    #[arg(long = "sizes")]
    pub sizes: Option<String>,
    /// Write-buffer sizes to run at (a second axis); default: --write-buffer.
    #[arg(long)]
    pub write_buffers: Option<String>,
    /// Runs per configuration.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Cache size of the profiling run the predictions come from.
    #[arg(long, default_value = "64MiB")]
    pub profile_cache: String,
    /// Sweep directory: sweep.csv, sweep.json, report.html; an
    /// interrupted sweep started again with the same directory continues.
    #[arg(long, default_value = "out/sweep")]
    pub out: PathBuf,
}

//! Job graphs of the Nexmark queries. Filters and projections run chained
//! on the source, as Flink chains them; each stateful operator is keyed as
//! the SQL's join or grouping key says.

use std::cmp::Ordering;
use std::sync::Arc;

use super::tables::{
    auction, bid, day, hh_mm, hour, minute_of_day, parse_day, person, row, side_input_value, table_row, timestamp,
    TableRow,
};
use super::{Query, QueryConfig};
use crate::operators::agg::{AggFn, Aggregates, DistinctCount, RowPredicate};
use crate::operators::group::GroupAggregate;
use crate::operators::join::{IntervalJoin, RegularJoin, WindowJoin};
use crate::operators::rank::{Deduplicate, TopN, WindowMaxFilter};
use crate::operators::sink::{PartitionCommitter, PartitionedFileWriter, PartitionedFiles};
use crate::operators::window::{KeyOf, SessionAggregate, WindowAggregate, Windows};
use crate::row::{Row, Value};
use crate::runtime::source::NexmarkRows;
use crate::runtime::{JobGraph, Partition};

/// Ten seconds, the window length of every windowed query.
const TEN_S: u64 = 10_000;

/// The columns `cols` of a row, as its key.
fn key(cols: &'static [usize]) -> KeyOf {
    Arc::new(move |r: &Row| cols.iter().map(|&c| r.cols[c].clone()).collect())
}

/// Java-style hash of columns `cols` (as [`crate::row::key_hash`] of the
/// key), without building the key.
fn hash_cols(r: &Row, cols: &[usize]) -> i32 {
    match cols {
        [one] => r.cols[*one].java_hash(),
        many => many.iter().fold(0i32, |h, &c| h.wrapping_mul(31).wrapping_add(r.cols[c].java_hash())),
    }
}

/// Keyed by `cols`.
fn by(cols: &'static [usize]) -> Partition {
    Partition::by(move |r| hash_cols(r, cols))
}

/// Keyed by `keys[tag]`: one input carrying both sides of a join.
fn by_side(keys: [&'static [usize]; 2]) -> Partition {
    Partition::by(move |r| hash_cols(r, keys[(r.tag as usize).min(1)]))
}

/// Adds the Nexmark source with `map` chained onto it.
fn source(
    g: &mut JobGraph,
    cfg: &QueryConfig,
    map: impl Fn(u64, TableRow) -> Option<Row> + Send + Sync + 'static,
) -> usize {
    let params = cfg.params.clone();
    let map: crate::runtime::source::EventMap = Arc::new(move |e| {
        let (ts, t) = table_row(e);
        map(ts, t)
    });
    g.source("source", cfg.parallelism_of("source"), move |i, p| Box::new(NexmarkRows::new(&params, i, p, map.clone())))
}

fn pick(cols: &[Value], which: &[usize]) -> Vec<Value> {
    which.iter().map(|&c| cols[c].clone()).collect()
}

/// Bids only, projected to `which`.
fn bids(which: &'static [usize]) -> impl Fn(u64, TableRow) -> Option<Row> + Send + Sync {
    move |ts, t| match t {
        TableRow::Bid(b) => Some(row(ts, 0, pick(&b, which))),
        _ => None,
    }
}

const ALL_BID: &[usize] = &[0, 1, 2, 3, 4, 5, 6];

pub(super) fn build(q: Query, cfg: &QueryConfig) -> JobGraph {
    let mut g = JobGraph::new();
    let p = |name: &str| cfg.parallelism_of(name);
    match q {
        Query::Q0 => {
            source(&mut g, cfg, bids(&[bid::AUCTION, bid::BIDDER, bid::PRICE, bid::DATE_TIME, bid::EXTRA]));
        }
        Query::Q1 => {
            source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => {
                    let euro = Value::Milli(b[bid::PRICE].int() * 908);
                    Some(row(ts, 0, vec![b[0].clone(), b[1].clone(), euro, b[bid::DATE_TIME].clone(), b[6].clone()]))
                }
                _ => None,
            });
        }
        Query::Q2 => {
            source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) if b[bid::AUCTION].int() % 123 == 0 => {
                    Some(row(ts, 0, pick(&b, &[bid::AUCTION, bid::PRICE])))
                }
                _ => None,
            });
        }
        Query::Q3 => {
            // Left: auctions of category 10 as [id, seller]; right: people
            // of OR, ID, CA as [id, name, city, state].
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Auction(a) if a[auction::CATEGORY].int() == 10 => {
                    Some(row(ts, 0, pick(&a, &[auction::ID, auction::SELLER])))
                }
                TableRow::Person(p) if matches!(p[person::STATE].str(), "or" | "id" | "ca") => {
                    Some(row(ts, 1, pick(&p, &[person::ID, person::NAME, person::CITY, person::STATE])))
                }
                _ => None,
            });
            g.operator("join", p("join"), RegularJoin::STATES, vec![(s, by_side([&[1], &[0]]))], |_| {
                Box::new(RegularJoin::new(
                    key(&[1]),
                    key(&[0]),
                    Arc::new(|a: &Row, p: &Row| {
                        Some(row(
                            0,
                            0,
                            vec![p.cols[1].clone(), p.cols[2].clone(), p.cols[3].clone(), a.cols[0].clone()],
                        ))
                    }),
                ))
            });
        }
        Query::Q4 => {
            // Left: auctions [id, category, dateTime, expires]; right: bids
            // [auction, price, dateTime].
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Auction(a) => {
                    Some(row(ts, 0, pick(&a, &[auction::ID, auction::CATEGORY, auction::DATE_TIME, auction::EXPIRES])))
                }
                TableRow::Bid(b) => Some(row(ts, 1, pick(&b, &[bid::AUCTION, bid::PRICE, bid::DATE_TIME]))),
                _ => None,
            });
            let j = g.operator("join", p("join"), RegularJoin::STATES, vec![(s, by_side([&[0], &[0]]))], |_| {
                Box::new(RegularJoin::new(
                    key(&[0]),
                    key(&[0]),
                    Arc::new(|a: &Row, b: &Row| {
                        let t = b.int(2);
                        (a.int(2) <= t && t <= a.int(3))
                            .then(|| row(0, 0, vec![a.cols[0].clone(), a.cols[1].clone(), b.cols[1].clone()]))
                    }),
                ))
            });
            // MAX(price) GROUP BY id, category -> [category, final].
            let m = g.operator("max", p("max"), GroupAggregate::STATES, vec![(j, by(&[0, 1]))], |_| {
                Box::new(GroupAggregate::new(
                    key(&[0, 1]),
                    Aggregates::new(vec![AggFn::Max(2)]),
                    Arc::new(|k: &[Value], v: &[Value]| vec![k[1].clone(), v[0].clone()]),
                ))
            });
            // AVG(final) GROUP BY category (BIGINT average: truncated).
            g.operator("avg", p("avg"), GroupAggregate::STATES, vec![(m, by(&[0]))], |_| {
                Box::new(GroupAggregate::new(
                    key(&[0]),
                    Aggregates::new(vec![AggFn::Sum(1), AggFn::Count]),
                    Arc::new(|k: &[Value], v: &[Value]| vec![k[0].clone(), Value::Int(v[0].int() / v[1].int().max(1))]),
                ))
            });
        }
        Query::Q5 => {
            let s = source(&mut g, cfg, bids(&[bid::AUCTION]));
            // count(*) per auction per hopping window -> [auction, num, start, end].
            let w = g.operator("window", p("window"), WindowAggregate::STATES, vec![(s, by(&[0]))], |_| {
                Box::new(WindowAggregate::new(
                    Windows::Hop { size: TEN_S, slide: 2_000 },
                    key(&[0]),
                    Aggregates::new(vec![AggFn::Count]),
                    Arc::new(|k: &[Value], start, end, v: &[Value]| {
                        row(
                            end - 1,
                            0,
                            vec![k[0].clone(), v[0].clone(), Value::Int(start as i64), Value::Int(end as i64)],
                        )
                    }),
                ))
            });
            g.operator("hot", p("hot"), WindowMaxFilter::STATES, vec![(w, by(&[3]))], |_| {
                Box::new(WindowMaxFilter::new(0, 1, 3))
            });
        }
        Query::Q7 => {
            let s = source(&mut g, cfg, bids(&[bid::AUCTION, bid::PRICE, bid::BIDDER, bid::DATE_TIME, bid::EXTRA]));
            // MAX(price) per tumbling window, keyed by the window -> tag 1
            // [maxprice, window_end] at time window_end.
            let by_window = Partition::by(|r: &Row| crate::keygroup::java_long_hash((r.ts - r.ts % TEN_S) as i64));
            let w = g.operator("max", p("max"), WindowAggregate::STATES, vec![(s, by_window)], |_| {
                Box::new(WindowAggregate::new(
                    Windows::Tumble { size: TEN_S },
                    key(&[]),
                    Aggregates::new(vec![AggFn::Max(1)]),
                    Arc::new(|_: &[Value], _, end, v: &[Value]| {
                        row(end, 1, vec![v[0].clone(), Value::Int(end as i64)])
                    }),
                ))
            });
            g.operator("join", p("join"), IntervalJoin::STATES, vec![(s, by(&[1])), (w, by(&[0]))], |_| {
                // B.dateTime BETWEEN B1.dateTime - 10 s AND B1.dateTime.
                Box::new(IntervalJoin::new(
                    key(&[1]),
                    key(&[0]),
                    TEN_S,
                    0,
                    Arc::new(|b: &Row, _: &Row| Some(b.clone())),
                ))
            });
        }
        Query::Q8 => {
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Person(p) => Some(row(ts, 0, pick(&p, &[person::ID, person::NAME]))),
                TableRow::Auction(a) => Some(row(ts, 1, pick(&a, &[auction::SELLER]))),
                _ => None,
            });
            g.operator("join", p("join"), WindowJoin::STATES, vec![(s, by_side([&[0], &[0]]))], |_| {
                Box::new(WindowJoin::new(
                    TEN_S,
                    key(&[0]),
                    key(&[0]),
                    Arc::new(|p: &[Value], _: &[Value], start, end| {
                        row(end - 1, 0, vec![p[0].clone(), p[1].clone(), Value::Int(start as i64)])
                    }),
                ))
            });
        }
        Query::Q9 => {
            // Left: auctions; right: bids [auction, bidder, price, dateTime,
            // extra]. The join keeps both sides (a regular join), then the
            // best bid per auction wins.
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Auction(a) => Some(row(ts, 0, a)),
                TableRow::Bid(b) => Some(row(ts, 1, pick(&b, Q9_BID))),
                _ => None,
            });
            let j = g.operator("join", p("join"), RegularJoin::STATES, vec![(s, by_side([&[0], &[0]]))], |_| {
                Box::new(RegularJoin::new(key(&[auction::ID]), key(&[0]), Arc::new(q9_row)))
            });
            g.operator("top1", p("top1"), TopN::STATES, vec![(j, by(&[auction::ID]))], |_| {
                Box::new(TopN::new(key(&[auction::ID]), 1, Arc::new(q9_order)).without_rank_number())
            });
        }
        Query::Q10 => {
            // [auction, bidder, price, dateTime, extra, dt, hm]: the last two
            // are the partition path.
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => {
                    let at = b[bid::DATE_TIME].int();
                    let mut cols = pick(&b, &[bid::AUCTION, bid::BIDDER, bid::PRICE]);
                    cols.extend([
                        Value::Str(timestamp(at)),
                        b[bid::EXTRA].clone(),
                        Value::Str(day(at)),
                        Value::Str(hh_mm(minute_of_day(at))),
                    ]);
                    Some(row(ts, 0, cols))
                }
                _ => None,
            });
            let files = q10_files(cfg);
            let w = {
                let files = files.clone();
                g.operator(
                    "writer",
                    p("writer"),
                    PartitionedFileWriter::STATES,
                    vec![(s, Partition::Forward)],
                    move |_| Box::new(PartitionedFileWriter::new(files.clone())),
                )
            };
            g.fix_parallelism(
                w,
                "its subtasks hold in-progress files that only they can finish (Flink commits them at a \
                 checkpoint, which the engine does not take)",
            );
            // One committer, as in Flink, unless --parallelism says otherwise.
            let committers = cfg.operator_parallelism.get("committer").copied().unwrap_or(1);
            g.operator("committer", committers, PartitionCommitter::STATES, vec![(w, by(&[0, 1]))], move |_| {
                Box::new(PartitionCommitter::new(files.clone()))
            });
        }
        Query::Q11 => {
            let s = source(&mut g, cfg, bids(&[bid::BIDDER]));
            g.operator("session", p("session"), SessionAggregate::STATES, vec![(s, by(&[0]))], |_| {
                Box::new(SessionAggregate::new(
                    TEN_S,
                    key(&[0]),
                    Aggregates::new(vec![AggFn::Count]),
                    window_count_row(),
                ))
            });
        }
        Query::Q12 => {
            let s = source(&mut g, cfg, bids(&[bid::BIDDER]));
            g.operator("window", p("window"), WindowAggregate::STATES, vec![(s, by(&[0]))], |_| {
                Box::new(WindowAggregate::new(
                    Windows::ProcTumble { size: TEN_S },
                    key(&[0]),
                    Aggregates::new(vec![AggFn::Count]),
                    window_count_row(),
                ))
            });
        }
        Query::Q13 => {
            // A lookup join with the side input on mod(auction, 10000): the
            // table is bounded and read once, as Flink's filesystem lookup
            // source caches it; the join keeps no state.
            source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => side_input_value(b[bid::AUCTION].int() % 10_000).map(|v| {
                    let mut cols = pick(&b, &[bid::AUCTION, bid::BIDDER, bid::PRICE, bid::DATE_TIME]);
                    cols.push(Value::Str(v));
                    row(ts, 0, cols)
                }),
                _ => None,
            });
        }
        Query::Q14 => {
            source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => q14_row(b).map(|cols| row(ts, 0, cols)),
                _ => None,
            });
        }
        Query::Q15 => {
            // [day, price, bidder, auction]
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => Some(row(
                    ts,
                    0,
                    vec![
                        Value::Str(day(b[bid::DATE_TIME].int())),
                        b[bid::PRICE].clone(),
                        b[bid::BIDDER].clone(),
                        b[bid::AUCTION].clone(),
                    ],
                )),
                _ => None,
            });
            g.operator("agg", p("agg"), GroupAggregate::STATES_WITH_DISTINCT, vec![(s, by(&[0]))], |_| {
                Box::new(GroupAggregate::new(
                    key(&[0]),
                    price_range_counts(1, 2, 3),
                    Arc::new(|k: &[Value], v: &[Value]| {
                        let mut out = k.to_vec();
                        out.extend_from_slice(v);
                        out
                    }),
                ))
            });
        }
        Query::Q16 => {
            // [channel, day, minute of day, price, bidder, auction]
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => {
                    let at = b[bid::DATE_TIME].int();
                    Some(row(
                        ts,
                        0,
                        vec![
                            b[bid::CHANNEL].clone(),
                            Value::Str(day(at)),
                            Value::Int(minute_of_day(at)),
                            b[bid::PRICE].clone(),
                            b[bid::BIDDER].clone(),
                            b[bid::AUCTION].clone(),
                        ],
                    ))
                }
                _ => None,
            });
            g.operator("agg", p("agg"), GroupAggregate::STATES_WITH_DISTINCT, vec![(s, by(&[0, 1]))], |_| {
                let mut aggs = vec![AggFn::Max(2)];
                let counts = price_range_counts(3, 4, 5);
                aggs.extend(counts.fns().iter().cloned());
                Box::new(GroupAggregate::new(
                    key(&[0, 1]),
                    Aggregates::with_distinct(aggs, counts.distinct().to_vec()),
                    Arc::new(|k: &[Value], v: &[Value]| {
                        // max(DATE_FORMAT(dateTime, 'HH:mm')): the latest
                        // minute, as 'HH:mm' strings order as their minutes.
                        let mut out = k.to_vec();
                        out.push(Value::Str(hh_mm(v[0].int())));
                        out.extend_from_slice(&v[1..]);
                        out
                    }),
                ))
            });
        }
        Query::Q17 => {
            // [auction, day, price]
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => Some(row(
                    ts,
                    0,
                    vec![b[bid::AUCTION].clone(), Value::Str(day(b[bid::DATE_TIME].int())), b[bid::PRICE].clone()],
                )),
                _ => None,
            });
            g.operator("agg", p("agg"), GroupAggregate::STATES, vec![(s, by(&[0, 1]))], |_| {
                Box::new(GroupAggregate::new(
                    key(&[0, 1]),
                    Aggregates::new(vec![
                        AggFn::Count,
                        AggFn::CountIf(Arc::new(|r: &Row| r.int(2) < 10_000)),
                        AggFn::CountIf(Arc::new(|r: &Row| (10_000..1_000_000).contains(&r.int(2)))),
                        AggFn::CountIf(Arc::new(|r: &Row| r.int(2) >= 1_000_000)),
                        AggFn::Min(2),
                        AggFn::Max(2),
                        AggFn::Sum(2),
                    ]),
                    Arc::new(|k: &[Value], v: &[Value]| {
                        let mut out = k.to_vec();
                        out.extend_from_slice(&v[..6]);
                        out.push(Value::Int(v[6].int() / v[0].int().max(1)));
                        out.push(v[6].clone());
                        out
                    }),
                ))
            });
        }
        Query::Q18 => {
            let s = source(&mut g, cfg, bids(ALL_BID));
            g.operator("dedup", p("dedup"), Deduplicate::STATES, vec![(s, by(&[bid::BIDDER, bid::AUCTION]))], |_| {
                Box::new(Deduplicate::new(key(&[bid::BIDDER, bid::AUCTION])))
            });
        }
        Query::Q19 => {
            let s = source(&mut g, cfg, bids(ALL_BID));
            g.operator("topn", p("topn"), TopN::STATES, vec![(s, by(&[bid::AUCTION]))], |_| {
                Box::new(TopN::new(key(&[bid::AUCTION]), 10, Arc::new(q19_order)))
            });
        }
        Query::Q20 => {
            let s = source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => Some(row(ts, 0, b)),
                TableRow::Auction(a) if a[auction::CATEGORY].int() == 10 => Some(row(ts, 1, a)),
                _ => None,
            });
            g.operator(
                "join",
                p("join"),
                RegularJoin::STATES,
                vec![(s, by_side([&[bid::AUCTION], &[auction::ID]]))],
                |_| Box::new(RegularJoin::new(key(&[bid::AUCTION]), key(&[auction::ID]), Arc::new(q20_row))),
            );
        }
        Query::Q21 => {
            let channel_id = ChannelId::new();
            source(&mut g, cfg, move |ts, t| match t {
                TableRow::Bid(b) => channel_id.of(&b).map(|id| {
                    let mut cols = pick(&b, &[bid::AUCTION, bid::BIDDER, bid::PRICE, bid::CHANNEL]);
                    cols.push(id);
                    row(ts, 0, cols)
                }),
                _ => None,
            });
        }
        Query::Q22 => {
            source(&mut g, cfg, |ts, t| match t {
                TableRow::Bid(b) => {
                    let url = b[bid::URL].str();
                    let mut cols = pick(&b, &[bid::AUCTION, bid::BIDDER, bid::PRICE, bid::CHANNEL]);
                    cols.extend((3..=5).map(|i| split_index(url, '/', i)));
                    Some(row(ts, 0, cols))
                }
                _ => None,
            });
        }
    }
    g
}

/// q9's bid columns: auction, bidder, price, dateTime, extra.
const Q9_BID: &[usize] = &[bid::AUCTION, bid::BIDDER, bid::PRICE, bid::DATE_TIME, bid::EXTRA];

/// q9's joined row, for a bid between the auction's start and expiry.
pub(super) fn q9_row(a: &Row, b: &Row) -> Option<Row> {
    let t = b.int(3);
    (a.int(auction::DATE_TIME) <= t && t <= a.int(auction::EXPIRES)).then(|| {
        let mut cols = a.cols.clone();
        cols.extend_from_slice(&b.cols);
        row(0, 0, cols)
    })
}

/// q9's ranking of joined rows: price descending, then earlier bid time;
/// ties by the row.
pub(super) fn q9_order(a: &[Value], b: &[Value]) -> Ordering {
    const PRICE: usize = 12;
    const TIME: usize = 13;
    b[PRICE].int().cmp(&a[PRICE].int()).then(a[TIME].int().cmp(&b[TIME].int())).then_with(|| a.cmp(b))
}

/// Where q10 writes: `out/bid/dt=yyyy-MM-dd/hm=HH%3Amm/`, committed a
/// minute after the partition's minute ('sink.partition-commit.delay' =
/// '1 min', partition time '$dt $hm:00').
fn q10_files(cfg: &QueryConfig) -> PartitionedFiles {
    PartitionedFiles {
        dir: cfg.out.join("bid"),
        partition_by: &["dt", "hm"],
        commit_time: Arc::new(|v: &[Value]| {
            let minute = |hm: &str| -> Option<i64> {
                let (h, m) = hm.split_once(':')?;
                Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
            };
            let start = parse_day(v[0].str()).zip(minute(v[1].str())).map(|(d, m)| d * 86_400_000 + m * 60_000);
            // The trigger needs the watermark strictly past time + delay.
            start.map_or(u64::MAX, |t| (t + 60_000 + 1).max(0) as u64)
        }),
    }
}

/// q14's row from a bid, if its euro price is within (1M, 50M).
pub(super) fn q14_row(b: Vec<Value>) -> Option<Vec<Value>> {
    let euro_milli = b[bid::PRICE].int() * 908;
    if !(euro_milli > 1_000_000_000 && euro_milli < 50_000_000_000) {
        return None;
    }
    let at = b[bid::DATE_TIME].int();
    let time_type = match hour(at) {
        8..=18 => "dayTime",
        h if h <= 6 || h >= 20 => "nightTime",
        _ => "otherTime",
    };
    let c_counts = b[bid::EXTRA].str().bytes().filter(|&c| c == b'c').count() as i64;
    Some(vec![
        b[bid::AUCTION].clone(),
        b[bid::BIDDER].clone(),
        Value::Milli(euro_milli),
        Value::Str(time_type.to_string()),
        b[bid::DATE_TIME].clone(),
        b[bid::EXTRA].clone(),
        Value::Int(c_counts),
    ])
}

/// q15's and q16's counts over columns price, bidder and auction: bids,
/// then distinct bidders, then distinct auctions, each in all and in the
/// three price ranges.
fn price_range_counts(price: usize, bidder: usize, auction: usize) -> Aggregates {
    let ranges: [RowPredicate; 3] = [
        Arc::new(move |r: &Row| r.int(price) < 10_000),
        Arc::new(move |r: &Row| (10_000..1_000_000).contains(&r.int(price))),
        Arc::new(move |r: &Row| r.int(price) >= 1_000_000),
    ];
    let filters: Vec<Option<RowPredicate>> = std::iter::once(None).chain(ranges.iter().cloned().map(Some)).collect();
    let mut fns = vec![AggFn::Count];
    fns.extend(ranges.iter().cloned().map(AggFn::CountIf));
    Aggregates::with_distinct(
        fns,
        vec![DistinctCount { col: bidder, filters: filters.clone() }, DistinctCount { col: auction, filters }],
    )
}

/// q21's channel id: `0` to `3` for Apple, Google, Facebook and Baidu
/// (any case), else the URL's `channel_id` parameter; `None` (the row is
/// dropped) when neither gives one.
pub(super) struct ChannelId {
    param: regex::Regex,
}

impl ChannelId {
    pub(super) fn new() -> ChannelId {
        ChannelId { param: regex::Regex::new("(&|^)channel_id=([^&]*)").expect("a valid regular expression") }
    }

    pub(super) fn of(&self, b: &[Value]) -> Option<Value> {
        const KNOWN: [&str; 4] = ["apple", "google", "facebook", "baidu"];
        let channel = b[bid::CHANNEL].str();
        let known = if channel.is_ascii() {
            KNOWN.iter().position(|k| k.eq_ignore_ascii_case(channel))
        } else {
            let lower = channel.to_lowercase();
            KNOWN.iter().position(|k| *k == lower)
        };
        match known {
            Some(i) => Some(Value::Str(i.to_string())),
            None => {
                self.param.captures(b[bid::URL].str()).and_then(|c| c.get(2)).map(|m| Value::Str(m.as_str().into()))
            }
        }
    }
}

/// `SPLIT_INDEX(s, sep, i)`: the `i`-th part (from 0), or NULL past the
/// last.
pub(super) fn split_index(s: &str, sep: char, i: usize) -> Value {
    s.split(sep).nth(i).map_or(Value::Null, |p| Value::Str(p.to_string()))
}

/// [key, count, start, end] of a window count.
fn window_count_row() -> crate::operators::window::WindowOutput {
    Arc::new(|k: &[Value], start, end, v: &[Value]| {
        row(end - 1, 0, vec![k[0].clone(), v[0].clone(), Value::Int(start as i64), Value::Int(end as i64)])
    })
}

/// q19's ranking: price descending; ties by earlier time, then by the row.
pub(super) fn q19_order(a: &[Value], b: &[Value]) -> Ordering {
    b[bid::PRICE]
        .int()
        .cmp(&a[bid::PRICE].int())
        .then(a[bid::DATE_TIME].int().cmp(&b[bid::DATE_TIME].int()))
        .then_with(|| a.cmp(b))
}

/// q20's output row from a bid and an auction.
pub(super) fn q20_row(b: &Row, a: &Row) -> Option<Row> {
    let mut cols = b.cols.clone();
    cols.extend_from_slice(&a.cols[auction::ITEM_NAME..=auction::EXTRA]);
    Some(row(0, 0, cols))
}

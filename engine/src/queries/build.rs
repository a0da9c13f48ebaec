//! Job graphs of the Nexmark queries. Filters and projections run chained
//! on the source, as Flink chains them; each stateful operator is keyed as
//! the SQL's join or grouping key says.

use std::cmp::Ordering;
use std::sync::Arc;

use super::tables::{auction, bid, day, person, row, table_row, TableRow};
use super::{Query, QueryConfig};
use crate::operators::agg::{AggFn, Aggregates};
use crate::operators::group::GroupAggregate;
use crate::operators::join::{IntervalJoin, RegularJoin, WindowJoin};
use crate::operators::rank::{Deduplicate, TopN, WindowMaxFilter};
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
    }
    g
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

//! Reference results of the Nexmark queries: plain single-threaded code
//! over the whole event list, with no operators, state stores, windows or
//! watermarks, written from the SQL. The engine's results must equal these
//! as multisets.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::build::{q19_order, q9_order};
use super::tables::{auction, bid, day, hh_mm, minute_of_day, person, table_row, timestamp, TableRow};
use super::Query;
use crate::nexmark::NexmarkParams;
use crate::row::{self, Row, RowKind, Value};

/// Applies a changelog: inserts add a row, retractions remove one copy.
/// Returns the final rows, sorted; `Err` names a retraction of a row that
/// was never inserted.
pub fn materialize(rows: impl IntoIterator<Item = Row>) -> Result<Vec<Vec<Value>>, String> {
    let mut counts: HashMap<Vec<Value>, i64> = HashMap::new();
    for r in rows {
        let d = if r.kind == RowKind::Insert { 1 } else { -1 };
        *counts.entry(r.cols).or_default() += d;
    }
    let mut out = Vec::new();
    for (cols, n) in counts {
        if n < 0 {
            return Err(format!("retracted more often than inserted: {cols:?}"));
        }
        out.extend(std::iter::repeat_n(cols, n as usize));
    }
    out.sort();
    Ok(out)
}

struct Tables {
    people: Vec<Vec<Value>>,
    auctions: Vec<Vec<Value>>,
    bids: Vec<Vec<Value>>,
}

fn tables(params: &NexmarkParams) -> Tables {
    let mut t = Tables { people: Vec::new(), auctions: Vec::new(), bids: Vec::new() };
    for (_, e) in params.source(0, 1) {
        match table_row(e).1 {
            TableRow::Person(p) => t.people.push(p),
            TableRow::Auction(a) => t.auctions.push(a),
            TableRow::Bid(b) => t.bids.push(b),
        }
    }
    t
}

fn i(v: &Value) -> i64 {
    v.int()
}

/// The final result of `query` over `params`' events, sorted. For q12
/// (processing-time windows) the per-bidder totals `[bidder, count]`.
pub fn reference(query: Query, params: &NexmarkParams) -> Vec<Vec<Value>> {
    let t = tables(params);
    let mut out: Vec<Vec<Value>> = match query {
        Query::Q0 => {
            t.bids.iter().map(|b| vec![b[0].clone(), b[1].clone(), b[2].clone(), b[5].clone(), b[6].clone()]).collect()
        }
        Query::Q1 => t
            .bids
            .iter()
            .map(|b| vec![b[0].clone(), b[1].clone(), Value::Milli(i(&b[2]) * 908), b[5].clone(), b[6].clone()])
            .collect(),
        Query::Q2 => t.bids.iter().filter(|b| i(&b[0]) % 123 == 0).map(|b| vec![b[0].clone(), b[2].clone()]).collect(),
        Query::Q3 => {
            let sellers: HashMap<i64, Vec<&Vec<Value>>> = t
                .people
                .iter()
                .filter(|p| ["or", "id", "ca"].contains(&p[person::STATE].str()))
                .fold(HashMap::new(), |mut m, p| {
                    m.entry(i(&p[person::ID])).or_default().push(p);
                    m
                });
            let mut out = Vec::new();
            for a in t.auctions.iter().filter(|a| i(&a[auction::CATEGORY]) == 10) {
                for p in sellers.get(&i(&a[auction::SELLER])).into_iter().flatten() {
                    out.push(vec![
                        p[person::NAME].clone(),
                        p[person::CITY].clone(),
                        p[person::STATE].clone(),
                        a[0].clone(),
                    ]);
                }
            }
            out
        }
        Query::Q4 => {
            let mut by_auction: HashMap<i64, Vec<&Vec<Value>>> = HashMap::new();
            for b in &t.bids {
                by_auction.entry(i(&b[bid::AUCTION])).or_default().push(b);
            }
            let mut finals: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for a in &t.auctions {
                let (start, end) = (i(&a[auction::DATE_TIME]), i(&a[auction::EXPIRES]));
                let max = by_auction
                    .get(&i(&a[auction::ID]))
                    .into_iter()
                    .flatten()
                    .filter(|b| (start..=end).contains(&i(&b[bid::DATE_TIME])))
                    .map(|b| i(&b[bid::PRICE]))
                    .max();
                if let Some(m) = max {
                    finals.entry(i(&a[auction::CATEGORY])).or_default().push(m);
                }
            }
            finals
                .into_iter()
                .map(|(c, v)| vec![Value::Int(c), Value::Int(v.iter().sum::<i64>() / v.len() as i64)])
                .collect()
        }
        Query::Q5 => {
            let mut counts: HashMap<(i64, i64), i64> = HashMap::new();
            for b in &t.bids {
                let ts = i(&b[bid::DATE_TIME]);
                // Every window [s, s + 10 s) with s a multiple of 2 s
                // containing ts.
                let mut s = ts - ts.rem_euclid(2000);
                while s > ts - 10_000 {
                    if s >= 0 {
                        *counts.entry((s, i(&b[bid::AUCTION]))).or_default() += 1;
                    }
                    s -= 2000;
                }
            }
            let mut max: HashMap<i64, i64> = HashMap::new();
            for (&(s, _), &n) in &counts {
                let m = max.entry(s).or_insert(0);
                *m = (*m).max(n);
            }
            counts
                .iter()
                .filter(|(k, n)| **n >= max[&k.0])
                .map(|(k, n)| vec![Value::Int(k.1), Value::Int(*n)])
                .collect()
        }
        Query::Q7 => {
            let mut max: HashMap<i64, i64> = HashMap::new();
            for b in &t.bids {
                let ts = i(&b[bid::DATE_TIME]);
                let end = ts - ts % 10_000 + 10_000;
                let m = max.entry(end).or_insert(i64::MIN);
                *m = (*m).max(i(&b[bid::PRICE]));
            }
            let mut out = Vec::new();
            for b in &t.bids {
                let ts = i(&b[bid::DATE_TIME]);
                for (&end, &m) in &max {
                    if i(&b[bid::PRICE]) == m && end - 10_000 <= ts && ts <= end {
                        out.push(vec![b[0].clone(), b[2].clone(), b[1].clone(), b[5].clone(), b[6].clone()]);
                    }
                }
            }
            out
        }
        Query::Q8 => {
            let window = |ts: i64| ts - ts % 10_000;
            let people: HashSet<(i64, i64, String)> = t
                .people
                .iter()
                .map(|p| (window(i(&p[person::DATE_TIME])), i(&p[person::ID]), p[person::NAME].str().to_string()))
                .collect();
            let sellers: HashSet<(i64, i64)> =
                t.auctions.iter().map(|a| (window(i(&a[auction::DATE_TIME])), i(&a[auction::SELLER]))).collect();
            people
                .into_iter()
                .filter(|(w, id, _)| sellers.contains(&(*w, *id)))
                .map(|(w, id, name)| vec![Value::Int(id), Value::Str(name), Value::Int(w)])
                .collect()
        }
        Query::Q9 => {
            let auctions: HashMap<i64, &Vec<Value>> = t.auctions.iter().map(|a| (i(&a[auction::ID]), a)).collect();
            let mut best: HashMap<i64, Vec<Value>> = HashMap::new();
            for b in &t.bids {
                let Some(a) = auctions.get(&i(&b[bid::AUCTION])) else { continue };
                let at = i(&b[bid::DATE_TIME]);
                if at < i(&a[auction::DATE_TIME]) || at > i(&a[auction::EXPIRES]) {
                    continue;
                }
                let mut r = a.to_vec();
                r.extend([b[0].clone(), b[1].clone(), b[2].clone(), b[5].clone(), b[6].clone()]);
                match best.get(&i(&a[auction::ID])) {
                    Some(old) if q9_order(old, &r).is_le() => {}
                    _ => {
                        best.insert(i(&a[auction::ID]), r);
                    }
                }
            }
            best.into_values().collect()
        }
        Query::Q10 => t
            .bids
            .iter()
            .map(|b| {
                let at = i(&b[bid::DATE_TIME]);
                vec![
                    b[0].clone(),
                    b[1].clone(),
                    b[2].clone(),
                    Value::Str(timestamp(at)),
                    b[6].clone(),
                    Value::Str(day(at)),
                    Value::Str(hh_mm(minute_of_day(at))),
                ]
            })
            .collect(),
        Query::Q11 => {
            let mut times: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for b in &t.bids {
                times.entry(i(&b[bid::BIDDER])).or_default().push(i(&b[bid::DATE_TIME]));
            }
            let mut out = Vec::new();
            for (bidder, mut ts) in times {
                ts.sort();
                let (mut start, mut end, mut n) = (ts[0], ts[0] + 10_000, 0);
                for &x in &ts {
                    // A bid exactly the gap after the last one still
                    // belongs to the session: Flink's session windows
                    // merge when they touch.
                    if x > end {
                        out.push(vec![Value::Int(bidder), Value::Int(n), Value::Int(start), Value::Int(end)]);
                        (start, n) = (x, 0);
                    }
                    end = end.max(x + 10_000);
                    n += 1;
                }
                out.push(vec![Value::Int(bidder), Value::Int(n), Value::Int(start), Value::Int(end)]);
            }
            out
        }
        Query::Q12 => {
            let mut n: BTreeMap<i64, i64> = BTreeMap::new();
            for b in &t.bids {
                *n.entry(i(&b[bid::BIDDER])).or_default() += 1;
            }
            n.into_iter().map(|(k, v)| vec![Value::Int(k), Value::Int(v)]).collect()
        }
        Query::Q13 => t
            .bids
            .iter()
            .map(|b| {
                let value = Value::Str((i(&b[bid::AUCTION]) % 10_000).to_string());
                vec![b[0].clone(), b[1].clone(), b[2].clone(), b[5].clone(), value]
            })
            .collect(),
        Query::Q14 => t
            .bids
            .iter()
            .filter(|b| {
                let euro = i(&b[bid::PRICE]) as f64 * 0.908;
                euro > 1_000_000.0 && euro < 50_000_000.0
            })
            .map(|b| {
                let at = i(&b[bid::DATE_TIME]);
                let h = (at / 3_600_000) % 24;
                let kind = if (8..=18).contains(&h) {
                    "dayTime"
                } else if h <= 6 || h >= 20 {
                    "nightTime"
                } else {
                    "otherTime"
                };
                let cs = b[bid::EXTRA].str().matches('c').count() as i64;
                vec![
                    b[0].clone(),
                    b[1].clone(),
                    Value::Milli(i(&b[bid::PRICE]) * 908),
                    Value::Str(kind.into()),
                    b[5].clone(),
                    b[6].clone(),
                    Value::Int(cs),
                ]
            })
            .collect(),
        Query::Q15 => distinct_counts(&t.bids, |b| vec![Value::Str(day(i(&b[bid::DATE_TIME])))], false),
        Query::Q16 => {
            distinct_counts(&t.bids, |b| vec![b[bid::CHANNEL].clone(), Value::Str(day(i(&b[bid::DATE_TIME])))], true)
        }
        Query::Q17 => {
            let mut groups: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
            for b in &t.bids {
                groups.entry((i(&b[bid::AUCTION]), day(i(&b[bid::DATE_TIME])))).or_default().push(i(&b[bid::PRICE]));
            }
            groups
                .into_iter()
                .map(|((a, d), p)| {
                    let n = p.len() as i64;
                    let sum: i64 = p.iter().sum();
                    let count = |f: &dyn Fn(i64) -> bool| Value::Int(p.iter().filter(|&&x| f(x)).count() as i64);
                    vec![
                        Value::Int(a),
                        Value::Str(d),
                        Value::Int(n),
                        count(&|x| x < 10_000),
                        count(&|x| (10_000..1_000_000).contains(&x)),
                        count(&|x| x >= 1_000_000),
                        Value::Int(*p.iter().min().unwrap_or(&0)),
                        Value::Int(*p.iter().max().unwrap_or(&0)),
                        Value::Int(sum / n),
                        Value::Int(sum),
                    ]
                })
                .collect()
        }
        Query::Q18 => {
            // The latest bid per (bidder, auction); ties: the larger
            // encoding of the row.
            type Latest<'a> = (i64, Vec<u8>, &'a Vec<Value>);
            let mut last: HashMap<(i64, i64), Latest> = HashMap::new();
            for b in &t.bids {
                let mut enc = Vec::new();
                row::encode(b, &mut enc);
                let cand = (i(&b[bid::DATE_TIME]), enc, b);
                let k = (i(&b[bid::BIDDER]), i(&b[bid::AUCTION]));
                match last.get(&k) {
                    Some(old) if (old.0, &old.1) >= (cand.0, &cand.1) => {}
                    _ => {
                        last.insert(k, cand);
                    }
                }
            }
            last.into_values().map(|(_, _, b)| b.clone()).collect()
        }
        Query::Q19 => {
            let mut per: HashMap<i64, Vec<&Vec<Value>>> = HashMap::new();
            for b in &t.bids {
                per.entry(i(&b[bid::AUCTION])).or_default().push(b);
            }
            let mut out = Vec::new();
            for (_, mut v) in per {
                v.sort_by(|a, b| q19_order(a, b));
                for (rank, b) in v.into_iter().take(10).enumerate() {
                    let mut r = b.clone();
                    r.push(Value::Int(rank as i64 + 1));
                    out.push(r);
                }
            }
            out
        }
        Query::Q20 => {
            let mut auctions: HashMap<i64, Vec<&Vec<Value>>> = HashMap::new();
            for a in t.auctions.iter().filter(|a| i(&a[auction::CATEGORY]) == 10) {
                auctions.entry(i(&a[auction::ID])).or_default().push(a);
            }
            let mut out = Vec::new();
            for b in &t.bids {
                for a in auctions.get(&i(&b[bid::AUCTION])).into_iter().flatten() {
                    let mut r = b.clone();
                    r.extend_from_slice(&a[auction::ITEM_NAME..=auction::EXTRA]);
                    out.push(r);
                }
            }
            out
        }
        Query::Q21 => t
            .bids
            .iter()
            .filter_map(|b| {
                let id = match b[bid::CHANNEL].str().to_lowercase().as_str() {
                    "apple" => Some("0".to_string()),
                    "google" => Some("1".to_string()),
                    "facebook" => Some("2".to_string()),
                    "baidu" => Some("3".to_string()),
                    // The first '&'-separated part (or the start) that
                    // begins with the parameter.
                    _ => b[bid::URL].str().split('&').find_map(|p| p.strip_prefix("channel_id=")).map(String::from),
                }?;
                Some(vec![b[0].clone(), b[1].clone(), b[2].clone(), b[3].clone(), Value::Str(id)])
            })
            .collect(),
        Query::Q22 => t
            .bids
            .iter()
            .map(|b| {
                let parts: Vec<&str> = b[bid::URL].str().split('/').collect();
                let dir = |n: usize| parts.get(n).map_or(Value::Null, |p| Value::Str(p.to_string()));
                vec![b[0].clone(), b[1].clone(), b[2].clone(), b[3].clone(), dir(3), dir(4), dir(5)]
            })
            .collect(),
    };
    out.sort();
    out
}

/// q15 (per day) and q16 (per channel and day, with the latest minute):
/// bids, distinct bidders and distinct auctions, in all and per price
/// range.
fn distinct_counts(bids: &[Vec<Value>], group: impl Fn(&Vec<Value>) -> Vec<Value>, minute: bool) -> Vec<Vec<Value>> {
    #[derive(Default)]
    struct Group {
        latest: i64,
        bids: [i64; 4],
        bidders: [HashSet<i64>; 4],
        auctions: [HashSet<i64>; 4],
    }
    let mut groups: BTreeMap<Vec<Value>, Group> = BTreeMap::new();
    for b in bids {
        let g = groups.entry(group(b)).or_default();
        g.latest = g.latest.max(minute_of_day(i(&b[bid::DATE_TIME])));
        let price = i(&b[bid::PRICE]);
        let range = if price < 10_000 {
            1
        } else if price < 1_000_000 {
            2
        } else {
            3
        };
        for k in [0, range] {
            g.bids[k] += 1;
            g.bidders[k].insert(i(&b[bid::BIDDER]));
            g.auctions[k].insert(i(&b[bid::AUCTION]));
        }
    }
    groups
        .into_iter()
        .map(|(mut key, g)| {
            if minute {
                key.push(Value::Str(hh_mm(g.latest)));
            }
            key.extend(g.bids.iter().map(|&n| Value::Int(n)));
            key.extend(g.bidders.iter().map(|s| Value::Int(s.len() as i64)));
            key.extend(g.auctions.iter().map(|s| Value::Int(s.len() as i64)));
            key
        })
        .collect()
}

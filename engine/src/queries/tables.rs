//! The Nexmark tables as rows: column positions of `person`, `auction` and
//! `bid`, in the order of the Nexmark Flink DDL.

use crate::nexmark::{Auction, Bid, Event, Person};
use crate::row::{Row, Value};

/// Columns of `person`.
pub mod person {
    /// `id`
    pub const ID: usize = 0;
    /// `name`
    pub const NAME: usize = 1;
    /// `emailAddress`
    pub const EMAIL: usize = 2;
    /// `creditCard`
    pub const CREDIT_CARD: usize = 3;
    /// `city`
    pub const CITY: usize = 4;
    /// `state`
    pub const STATE: usize = 5;
    /// `dateTime`
    pub const DATE_TIME: usize = 6;
    /// `extra`
    pub const EXTRA: usize = 7;
}

/// Columns of `auction`.
pub mod auction {
    /// `id`
    pub const ID: usize = 0;
    /// `itemName`
    pub const ITEM_NAME: usize = 1;
    /// `description`
    pub const DESCRIPTION: usize = 2;
    /// `initialBid`
    pub const INITIAL_BID: usize = 3;
    /// `reserve`
    pub const RESERVE: usize = 4;
    /// `dateTime`
    pub const DATE_TIME: usize = 5;
    /// `expires`
    pub const EXPIRES: usize = 6;
    /// `seller`
    pub const SELLER: usize = 7;
    /// `category`
    pub const CATEGORY: usize = 8;
    /// `extra`
    pub const EXTRA: usize = 9;
}

/// Columns of `bid`.
pub mod bid {
    /// `auction`
    pub const AUCTION: usize = 0;
    /// `bidder`
    pub const BIDDER: usize = 1;
    /// `price`
    pub const PRICE: usize = 2;
    /// `channel`
    pub const CHANNEL: usize = 3;
    /// `url`
    pub const URL: usize = 4;
    /// `dateTime`
    pub const DATE_TIME: usize = 5;
    /// `extra`
    pub const EXTRA: usize = 6;
}

fn int(v: impl TryInto<i64>) -> Value {
    Value::Int(v.try_into().unwrap_or(i64::MAX))
}

/// A person as a row of `person`.
pub fn person_row(p: Person) -> Vec<Value> {
    vec![
        int(p.id),
        Value::Str(p.name),
        Value::Str(p.email_address),
        Value::Str(p.credit_card),
        Value::Str(p.city),
        Value::Str(p.state),
        int(p.date_time),
        Value::Str(p.extra),
    ]
}

/// An auction as a row of `auction`.
pub fn auction_row(a: Auction) -> Vec<Value> {
    vec![
        int(a.id),
        Value::Str(a.item_name),
        Value::Str(a.description),
        int(a.initial_bid),
        int(a.reserve),
        int(a.date_time),
        int(a.expires),
        int(a.seller),
        int(a.category),
        Value::Str(a.extra),
    ]
}

/// A bid as a row of `bid`.
pub fn bid_row(b: Bid) -> Vec<Value> {
    vec![
        int(b.auction),
        int(b.bidder),
        int(b.price),
        Value::Str(b.channel),
        Value::Str(b.url),
        int(b.date_time),
        Value::Str(b.extra),
    ]
}

/// Which table an event belongs to and its row.
pub enum TableRow {
    /// A `person` row.
    Person(Vec<Value>),
    /// An `auction` row.
    Auction(Vec<Value>),
    /// A `bid` row.
    Bid(Vec<Value>),
}

/// The event's table and row, and its event time.
pub fn table_row(e: Event) -> (u64, TableRow) {
    match e {
        Event::Person(p) => (p.date_time, TableRow::Person(person_row(p))),
        Event::Auction(a) => (a.date_time, TableRow::Auction(auction_row(a))),
        Event::Bid(b) => (b.date_time, TableRow::Bid(bid_row(b))),
    }
}

/// An insert row at `ts` with `tag`.
pub fn row(ts: u64, tag: u8, cols: Vec<Value>) -> Row {
    Row::insert(ts, tag, cols)
}

/// `DATE_FORMAT(ts, 'yyyy-MM-dd')` in UTC.
pub fn day(ts_ms: i64) -> String {
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = ts_ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a `yyyy-MM-dd` date (the inverse of [`day`]).
pub fn parse_day(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // H. Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `HOUR(ts)` in UTC.
pub fn hour(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(3_600_000).rem_euclid(24)
}

/// Minutes since midnight UTC.
pub fn minute_of_day(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(60_000).rem_euclid(1440)
}

/// `DATE_FORMAT(ts, 'HH:mm')` from minutes since midnight.
pub fn hh_mm(minute_of_day: i64) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

/// A `TIMESTAMP(3)` as Flink's CSV format writes it:
/// `yyyy-MM-dd HH:mm:ss.SSS`.
pub fn timestamp(ts_ms: i64) -> String {
    let ms = ts_ms.rem_euclid(86_400_000);
    format!("{} {:02}:{:02}:{:02}.{:03}", day(ts_ms), ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// Rows of q13's side input, as the Nexmark suite generates its
/// `side_input.txt`: keys 0 to 9,999, each with its own decimal as value.
pub const SIDE_INPUT_ROWS: i64 = 10_000;

/// The value of q13's side input row `key`, if there is one.
pub fn side_input_value(key: i64) -> Option<String> {
    (0..SIDE_INPUT_ROWS).contains(&key).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_and_times_format_and_parse_in_utc() {
        for ts in [0, 951_782_400_000, 1_700_000_000_000, 1_436_918_401_123] {
            assert_eq!(super::parse_day(&super::day(ts)), Some(ts.div_euclid(86_400_000)));
        }
        assert_eq!(super::timestamp(1_436_918_401_123), "2015-07-15 00:00:01.123");
        assert_eq!(super::timestamp(1_700_000_000_000), "2023-11-14 22:13:20.000");
        assert_eq!(super::hour(1_700_000_000_000), 22);
        assert_eq!(super::hh_mm(super::minute_of_day(1_700_000_000_000)), "22:13");
        assert_eq!(super::parse_day("2023-13-01"), None);
        assert_eq!(super::parse_day("x"), None);
    }

    #[test]
    fn days_format_in_utc() {
        assert_eq!(super::day(1_700_000_000_000), "2023-11-14");
        assert_eq!(super::day(0), "1970-01-01");
        assert_eq!(super::day(951_782_400_000), "2000-02-29");
    }
}

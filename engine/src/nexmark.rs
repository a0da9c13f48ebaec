//! Nexmark events from the `nexmark` crate (RisingWave's generator),
//! wrapped so that runs are reproducible and the parameters that decide the
//! state size are ours to set.
//!
//! The generator is deterministic for a configuration; its base time
//! defaults to "now", so it is pinned here (1,700,000,000,000 ms unless
//! told otherwise). Event `n` is a person, an auction or a bid by `n mod 50`
//! (1 : 3 : 46). A run splits across source subtasks by event number:
//! subtask `i` of `p` generates events `i, i + p, i + 2p, ...`, so the union
//! of the subtasks is exactly the single-source stream.

use std::str::FromStr;

use ::nexmark::config::NexmarkConfig;
pub use ::nexmark::event::{Auction, Bid, Event, Person};
use ::nexmark::EventGenerator;

/// The default pinned base time, ms since the Unix epoch.
pub const DEFAULT_BASE_TIME_MS: u64 = 1_700_000_000_000;

/// Preset parameter sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The Nexmark defaults: 100 in-flight auctions, 1000 active people; a
    /// working set so small that cache size barely matters.
    Default,
    /// 100,000 in-flight auctions and 100,000 active people: a working set
    /// of tens to hundreds of MB, where the block cache decides throughput.
    LargeState,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Preset, String> {
        match s {
            "default" => Ok(Preset::Default),
            "large-state" => Ok(Preset::LargeState),
            other => Err(format!("unknown preset `{other}`; expected default or large-state")),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct NexmarkParams {
    /// Events in the whole run (over all source subtasks).
    pub events: u64,
    /// Event-time rate, events per second: sets the spacing of event
    /// timestamps (the generator's `first_rate`).
    pub event_rate: u64,
    /// Ms since the epoch of the first event.
    pub base_time_ms: u64,
    /// Auctions open at a time.
    pub in_flight_auctions: usize,
    /// People active at a time.
    pub active_people: usize,
    /// One in this many bids goes to a hot auction.
    pub hot_auction_ratio: usize,
    /// One in this many bids comes from a hot bidder.
    pub hot_bidder_ratio: usize,
    /// One in this many auctions comes from a hot seller.
    pub hot_seller_ratio: usize,
}

impl NexmarkParams {
    /// The parameters of a preset, for `events` events.
    pub fn preset(preset: Preset, events: u64) -> NexmarkParams {
        let d = NexmarkConfig::default();
        let (in_flight_auctions, active_people) = match preset {
            Preset::Default => (d.in_flight_auctions, d.active_people),
            Preset::LargeState => (100_000, 100_000),
        };
        NexmarkParams {
            events,
            event_rate: d.first_rate as u64,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            in_flight_auctions,
            active_people,
            hot_auction_ratio: d.hot_auction_ratio,
            hot_bidder_ratio: d.hot_bidder_ratio,
            hot_seller_ratio: d.hot_seller_ratio,
        }
    }

    /// Checks the parameters; the message names the option at fault.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("--rate", self.event_rate as usize),
            ("--in-flight-auctions", self.in_flight_auctions),
            ("--active-people", self.active_people),
            ("--hot-auction-ratio", self.hot_auction_ratio),
            ("--hot-bidder-ratio", self.hot_bidder_ratio),
            ("--hot-seller-ratio", self.hot_seller_ratio),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("{name} must be at least 1")),
            None => Ok(()),
        }
    }

    fn config(&self) -> NexmarkConfig {
        NexmarkConfig {
            base_time: self.base_time_ms,
            first_rate: self.event_rate as usize,
            next_rate: self.event_rate as usize,
            in_flight_auctions: self.in_flight_auctions,
            active_people: self.active_people,
            hot_auction_ratio: self.hot_auction_ratio,
            hot_bidder_ratio: self.hot_bidder_ratio,
            hot_seller_ratio: self.hot_seller_ratio,
            ..NexmarkConfig::default()
        }
    }

    /// The events of source subtask `index` of `parallelism`.
    pub fn source(&self, index: u32, parallelism: u32) -> NexmarkSource {
        let p = parallelism.max(1) as u64;
        let i = index as u64 % p;
        let events = if self.events > i { (self.events - i).div_ceil(p) } else { 0 };
        let generator = EventGenerator::new(self.config()).with_offset(i).with_step(p);
        NexmarkSource { generator, left: events, next_number: i, step: p }
    }
}

/// The event stream of one source subtask.
pub struct NexmarkSource {
    generator: EventGenerator,
    left: u64,
    next_number: u64,
    step: u64,
}

impl NexmarkSource {
    /// Events this subtask has still to produce.
    pub fn remaining(&self) -> u64 {
        self.left
    }
}

impl Iterator for NexmarkSource {
    /// The event and its number in the whole run.
    type Item = (u64, Event);

    fn next(&mut self) -> Option<(u64, Event)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let n = self.next_number;
        self.next_number += self.step;
        self.generator.next().map(|e| (n, e))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

/// The event's timestamp, ms since the epoch.
pub fn event_time(e: &Event) -> u64 {
    match e {
        Event::Person(p) => p.date_time,
        Event::Auction(a) => a.date_time,
        Event::Bid(b) => b.date_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_pinned() {
        let p = NexmarkParams::preset(Preset::Default, 5000);
        let a: Vec<_> = p.source(0, 1).collect();
        let b: Vec<_> = p.source(0, 1).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 5000);
        let t0 = event_time(&a[0].1);
        assert!((DEFAULT_BASE_TIME_MS..DEFAULT_BASE_TIME_MS + 1000).contains(&t0), "{t0}");
        // 1 : 3 : 46 by event number.
        let kinds = a.iter().fold([0; 3], |mut k, (_, e)| {
            k[match e {
                Event::Person(_) => 0,
                Event::Auction(_) => 1,
                Event::Bid(_) => 2,
            }] += 1;
            k
        });
        assert_eq!(kinds, [100, 300, 4600]);
    }

    #[test]
    fn subtasks_split_the_stream_exactly() {
        let p = NexmarkParams::preset(Preset::Default, 1001);
        let whole: Vec<_> = p.source(0, 1).collect();
        for parallelism in [2u32, 3, 7] {
            let mut parts: Vec<_> = (0..parallelism).flat_map(|i| p.source(i, parallelism)).collect();
            parts.sort_by_key(|(n, _)| *n);
            assert_eq!(parts, whole, "parallelism {parallelism}");
        }
    }

    #[test]
    fn large_state_bids_reach_far_older_auctions() {
        // How far back, in auctions, bids reach: the live working set.
        let mean_lag = |preset| {
            let p = NexmarkParams::preset(preset, 300_000);
            let (mut newest, mut lag, mut bids) = (0usize, 0f64, 0f64);
            for (_, e) in p.source(0, 1) {
                match e {
                    Event::Auction(a) => newest = newest.max(a.id),
                    Event::Bid(b) if newest > 0 => {
                        lag += newest.saturating_sub(b.auction) as f64;
                        bids += 1.0;
                    }
                    _ => {}
                }
            }
            lag / bids
        };
        let (small, large) = (mean_lag(Preset::Default), mean_lag(Preset::LargeState));
        assert!(small < 100.0, "default: bids reach {small} auctions back on average");
        assert!(large > 20.0 * small, "large-state: {large} vs default {small}");
    }

    #[test]
    fn bad_parameters_name_the_option() {
        let mut p = NexmarkParams::preset(Preset::Default, 10);
        p.active_people = 0;
        assert_eq!(p.validate().unwrap_err(), "--active-people must be at least 1");
        assert!("huge".parse::<Preset>().is_err());
    }
}

//! `memscale nexmark export`: the events memscale's queries read, written
//! for another engine to read (Flink SQL over the filesystem connector),
//! so that both can be run on the same input and their results compared.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use engine::nexmark::{Event, NexmarkParams, Preset};
use engine::queries::tables::timestamp;

use crate::cli::NexmarkExportArgs;

/// The three tables, their Flink SQL columns (the names and types of the
/// Nexmark suite's DDL), in the order each CSV row has them.
const TABLES: [(&str, &str); 3] = [
    (
        "person",
        "id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, \
         dateTime TIMESTAMP(3), extra VARCHAR",
    ),
    (
        "auction",
        "id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, \
         dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR",
    ),
    ("bid", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR"),
];

/// One table's file, written under a temporary name and renamed when
/// complete: an interrupted export leaves no file that looks whole.
struct TableFile {
    rows: u64,
    tmp: PathBuf,
    path: PathBuf,
    csv: csv::Writer<BufWriter<File>>,
}

impl TableFile {
    fn create(dir: &Path) -> Result<TableFile> {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        let path = dir.join("part-0.csv");
        let tmp = dir.join(".part-0.csv.tmp");
        let file = File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        let csv = csv::WriterBuilder::new().has_headers(false).from_writer(BufWriter::with_capacity(1 << 20, file));
        Ok(TableFile { rows: 0, tmp, path, csv })
    }

    fn write<const N: usize>(&mut self, fields: [&str; N]) -> Result<()> {
        self.rows += 1;
        self.csv.write_record(fields).with_context(|| format!("{}: cannot write", self.tmp.display()))
    }

    fn finish(self) -> Result<u64> {
        let mut inner = self.csv.into_inner().map_err(|e| anyhow!("{}: cannot write: {}", self.tmp.display(), e))?;
        inner.flush().with_context(|| format!("{}: cannot write", self.tmp.display()))?;
        inner.get_ref().sync_all().with_context(|| format!("{}: cannot write", self.tmp.display()))?;
        std::fs::rename(&self.tmp, &self.path).with_context(|| format!("{}: cannot write", self.path.display()))?;
        Ok(self.rows)
    }
}

/// Flink SQL tables over the exported folders.
fn schema_sql(dir: &Path) -> String {
    let mut sql = String::from(
        "-- Written by `memscale nexmark export`: Flink SQL tables over its CSV files.\n\
         -- Event time is dateTime, with a watermark 4 s behind it, as in the Nexmark suite.\n",
    );
    for (name, columns) in TABLES {
        let path = dir.join(name);
        sql.push_str(&format!(
            "CREATE TABLE {name} (\n  {},\n  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND\n) WITH (\n  \
             'connector' = 'filesystem',\n  'path' = '{}',\n  'format' = 'csv'\n);\n",
            // Quoted: Flink 2's parser reserves `dateTime`.
            columns
                .split(", ")
                .map(|c| {
                    let (name, ty) = c.split_once(' ').unwrap_or((c, ""));
                    format!("`{name}` {ty}")
                })
                .collect::<Vec<_>>()
                .join(",\n  "),
            path.display()
        ));
    }
    sql
}

/// Writes the events of `a` under `a.out`.
pub fn export(a: NexmarkExportArgs) -> Result<()> {
    if a.events == 0 {
        bail!("--events must be at least 1");
    }
    let preset: Preset = a.preset.parse().map_err(|e| anyhow!("--preset: {e}"))?;
    let mut params = NexmarkParams::preset(preset, a.events);
    params.base_time_ms = a.base_time;
    params.validate().map_err(|e| anyhow!("{e}"))?;
    if a.out.exists() && !a.out.is_dir() {
        bail!("-o {}: exists and is not a directory", a.out.display());
    }
    let out = std::path::absolute(&a.out).with_context(|| format!("-o {}", a.out.display()))?;
    let mut people = TableFile::create(&out.join(TABLES[0].0))?;
    let mut auctions = TableFile::create(&out.join(TABLES[1].0))?;
    let mut bids = TableFile::create(&out.join(TABLES[2].0))?;
    let ts = |ms: u64| timestamp(ms as i64);
    // One source over every event: the same events, in the same order, as
    // the sources of a run together generate.
    for (_, event) in params.source(0, 1) {
        match event {
            Event::Person(p) => people.write([
                &p.id.to_string(),
                &p.name,
                &p.email_address,
                &p.credit_card,
                &p.city,
                &p.state,
                &ts(p.date_time),
                &p.extra,
            ])?,
            Event::Auction(x) => auctions.write([
                &x.id.to_string(),
                &x.item_name,
                &x.description,
                &x.initial_bid.to_string(),
                &x.reserve.to_string(),
                &ts(x.date_time),
                &ts(x.expires),
                &x.seller.to_string(),
                &x.category.to_string(),
                &x.extra,
            ])?,
            Event::Bid(b) => bids.write([
                &b.auction.to_string(),
                &b.bidder.to_string(),
                &b.price.to_string(),
                &b.channel,
                &b.url,
                &ts(b.date_time),
                &b.extra,
            ])?,
        }
    }
    let counts = [people.finish()?, auctions.finish()?, bids.finish()?];
    let schema = out.join("schema.sql");
    crate::output::write_file(&schema, schema_sql(&out).as_bytes())?;
    println!(
        "{} events ({} people, {} auctions, {} bids, preset {}) in {}; Flink SQL tables in {}",
        counts.iter().sum::<u64>(),
        counts[0],
        counts[1],
        counts[2],
        a.preset,
        out.display(),
        schema.display()
    );
    Ok(())
}

//! Readers: a trace RocksDB wrote, round trips through every writer, and
//! bad input of every kind (truncated, corrupt, empty, random bytes).

use std::io::Write;
use std::path::{Path, PathBuf};

use cachesim::request::{BlockKind, Op, Request};
use cachesim::trace::csv::{CsvReader, CsvSpec, CsvWriter};
use cachesim::trace::memscale::{Header, KeyAccess, MemscaleReader, MemscaleWriter, OperatorName};
use cachesim::trace::oracle::{OracleReader, OracleWriter};
use cachesim::trace::rocksdb::RocksDbReader;
use cachesim::trace::{detect, open, Format, OpenOptions, TraceReader};
use cachesim::TraceError;
use proptest::prelude::*;

fn read_all(r: &mut dyn TraceReader) -> Result<Vec<Request>, TraceError> {
    let mut out = Vec::new();
    let mut req = Request::default();
    while r.read(&mut req)? {
        out.push(req);
    }
    Ok(out)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

#[test]
fn rocksdb_trace_written_by_db_bench() {
    // scripts/rocksdb_block_trace.sh: db_bench 7.8.3 readrandom, 3000 reads,
    // 1 MiB cache; its statistics reported 788 hits and 2212 misses.
    let path = fixture("db_bench_readrandom.trace.zst");
    assert_eq!(detect(&path).unwrap(), Format::RocksDb);
    let mut r = RocksDbReader::open(&path).unwrap();
    assert_eq!(r.rocksdb_version(), (7, 8));
    let reqs = read_all(&mut r).unwrap();
    assert_eq!(reqs.len(), 3000);
    assert_eq!(reqs.iter().filter(|q| q.tags.recorded_hit == Some(true)).count(), 788);
    let odd: Vec<_> =
        reqs.iter().filter(|q| !(q.tags.block == BlockKind::Data && q.size == 4096 && q.tags.caller == 1)).collect();
    assert!(odd.is_empty(), "{odd:?}");
    assert!(reqs.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(r.stream_names(), vec![(0, "default".to_string())]);
}

fn sample_requests() -> Vec<Request> {
    (0..500u64)
        .map(|i| {
            let mut r = Request { time: i * 3, id: (i * 7919) % 97, size: 100 + (i % 13) as u32, ..Default::default() };
            r.op = Op::ALL[(i % 6) as usize];
            r.tags.stream = (i % 3) as u32;
            r
        })
        .collect()
}

#[test]
fn oracle_round_trip_and_next_access() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.oracleGeneral.bin");
    let reqs = sample_requests();
    let mut w = OracleWriter::create(&path);
    reqs.iter().for_each(|r| w.write(r));
    assert_eq!(w.finish().unwrap(), 500);
    let back = read_all(&mut OracleReader::open(&path).unwrap()).unwrap();
    assert_eq!(back.len(), 500);
    for (i, (a, b)) in reqs.iter().zip(&back).enumerate() {
        assert_eq!((a.time, a.id, a.size), (b.time, b.id, b.size));
        let next = reqs[i + 1..].iter().position(|r| r.id == a.id).map(|p| (i + 1 + p) as u64);
        assert_eq!(b.next_access, next);
    }
}

#[test]
fn memscale_round_trip_plain_and_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let header = Header {
        sample_rate: 0.25,
        time_base_us: 1_700_000_000_000_000,
        operators: vec![OperatorName { id: 0, name: "join".into() }, OperatorName { id: 1, name: "agg".into() }],
    };
    let accesses: Vec<KeyAccess> = (0..1000u64)
        .map(|i| KeyAccess {
            time_us: i,
            key_hash: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            value_len: (i % 300) as u32,
            key_len: 8 + (i % 5) as u16,
            key_group: (i % 128) as u16,
            operator: (i % 2) as u16,
            subtask: (i % 3) as u16,
            op: Op::ALL[(i % 6) as usize],
        })
        .collect();
    for (name, compress) in [("k.mstrace", false), ("k.mstrace.zst", true)] {
        let path = dir.path().join(name);
        let mut w = MemscaleWriter::create(&path, &header, compress).unwrap();
        accesses.iter().for_each(|a| w.write(a).unwrap());
        assert_eq!(w.finish().unwrap(), 1000);
        assert_eq!(detect(&path).unwrap(), Format::Memscale);
        let mut r = MemscaleReader::open(&path).unwrap();
        assert_eq!(r.header(), &header);
        let mut back = Vec::new();
        while let Some(a) = r.read_access().unwrap() {
            back.push(a);
        }
        assert_eq!(back, accesses);
        let mut r = open(&path, &OpenOptions::default()).unwrap();
        assert_eq!(r.sample_rate(), 0.25);
        let reqs = read_all(r.as_mut()).unwrap();
        assert_eq!(reqs[7].size, accesses[7].key_len as u32 + accesses[7].value_len);
        assert_eq!(reqs[7].tags.stream, 1);
    }
}

#[test]
fn csv_round_trip_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let reqs = sample_requests();
    let mut w = CsvWriter::create(&path).unwrap();
    reqs.iter().for_each(|r| w.write(r).unwrap());
    w.finish().unwrap();
    let back = read_all(&mut CsvReader::open(&path, &CsvSpec::default()).unwrap()).unwrap();
    for (a, b) in reqs.iter().zip(&back) {
        assert_eq!((a.time, a.id, a.size, a.op, a.tags.stream), (b.time, b.id, b.size, b.op, b.tags.stream));
    }
    // Headerless, tab-separated, string keys.
    let path = dir.path().join("t.tsv");
    std::fs::write(&path, "5\tuser:1\t10\n6\tuser:2\t20\n7\tuser:1\t10\n").unwrap();
    let spec = CsvSpec::parse("header=false,delimiter=tab,time=0,id=1,size=2").unwrap();
    let back = read_all(&mut CsvReader::open(&path, &spec).unwrap()).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back[0].id, back[2].id);
    assert_ne!(back[0].id, back[1].id);
    assert_eq!(back[1].size, 20);
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

#[test]
fn truncated_files_name_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    // oracleGeneral: two records and 10 bytes of a third.
    let mut bytes = vec![0u8; 24 * 2 + 10];
    bytes[12] = 1;
    bytes[36] = 1;
    let p = write_file(dir.path(), "t.oracleGeneral.bin", &bytes);
    let err = read_all(&mut OracleReader::open(&p).unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TraceError::Truncated { offset: 48, .. }), "{msg}");
    assert!(msg.contains("t.oracleGeneral.bin") && msg.contains("byte offset 48"), "{msg}");

    // RocksDB: cut the fixture inside its 11th record.
    let raw = zstd::decode_all(std::fs::File::open(fixture("db_bench_readrandom.trace.zst")).unwrap()).unwrap();
    for cut in [5usize, 20, 13 + 25 + 100, raw.len() - 3] {
        let p = write_file(dir.path(), "cut.trace", &raw[..cut]);
        let result = RocksDbReader::open(&p).and_then(|mut r| read_all(&mut r));
        let err = result.unwrap_err();
        assert!(matches!(err, TraceError::Truncated { .. } | TraceError::Corrupt { .. }), "cut {cut}: {err}");
        assert!(err.to_string().contains("cut.trace"));
    }

    // memscale: header cut, then a record cut.
    let header =
        Header { sample_rate: 1.0, time_base_us: 0, operators: vec![OperatorName { id: 0, name: "op".into() }] };
    let p = dir.path().join("m.mstrace");
    let mut w = MemscaleWriter::create(&p, &header, false).unwrap();
    w.write(&KeyAccess::default()).unwrap();
    w.finish().unwrap();
    let full = std::fs::read(&p).unwrap();
    let header_len = full.len() - 32;
    let p = write_file(dir.path(), "m2.mstrace", &full[..header_len - 1]);
    assert!(matches!(MemscaleReader::open(&p).err(), Some(TraceError::Truncated { .. })));
    let p = write_file(dir.path(), "m3.mstrace", &full[..full.len() - 5]);
    let err = read_all(&mut MemscaleReader::open(&p).unwrap()).unwrap_err();
    assert!(matches!(err, TraceError::Truncated { offset, .. } if offset == header_len as u64), "{err}");
}

#[test]
fn corrupt_and_empty_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.bin", b"");
    assert!(matches!(detect(&empty), Err(TraceError::Empty { .. })));
    assert_eq!(read_all(&mut OracleReader::open(&empty).unwrap()).unwrap().len(), 0);
    // Bad memscale version and operation code.
    let mut bytes = b"MSKTRACE".to_vec();
    bytes.extend_from_slice(&9u16.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 22]);
    let p = write_file(dir.path(), "v.mstrace", &bytes);
    assert!(matches!(MemscaleReader::open(&p).err(), Some(TraceError::Corrupt { offset: 8, .. })));
    let header = Header { sample_rate: 1.0, time_base_us: 0, operators: vec![] };
    let p = dir.path().join("op.mstrace");
    let mut w = MemscaleWriter::create(&p, &header, false).unwrap();
    w.write(&KeyAccess::default()).unwrap();
    w.finish().unwrap();
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n - 4] = 77;
    let p = write_file(dir.path(), "op2.mstrace", &b);
    let err = read_all(&mut MemscaleReader::open(&p).unwrap()).unwrap_err();
    assert!(err.to_string().contains("unknown operation code 77"), "{err}");
    // oracleGeneral with an impossible next-access time.
    let mut rec = vec![0u8; 24];
    rec[12] = 1;
    rec[16..24].copy_from_slice(&(-5i64).to_le_bytes());
    let p = write_file(dir.path(), "n.oracleGeneral.bin", &rec);
    assert!(matches!(read_all(&mut OracleReader::open(&p).unwrap()), Err(TraceError::Corrupt { offset: 0, .. })));
    // A CSV row with a bad size, and one too short.
    let p = write_file(dir.path(), "bad.csv", b"time,id,size\n1,2,3\n4,5,x\n");
    let err = read_all(&mut CsvReader::open(&p, &CsvSpec::default()).unwrap()).unwrap_err();
    assert!(err.to_string().contains("size `x`"), "{err}");
    let p = write_file(dir.path(), "short.csv", b"time,id,size\n1,2\n");
    assert!(read_all(&mut CsvReader::open(&p, &CsvSpec::default()).unwrap()).is_err());
    // A corrupt zstd stream.
    let p = write_file(dir.path(), "z.oracleGeneral.bin.zst", &[0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3, 4, 5]);
    let err = OracleReader::open(&p).and_then(|mut r| read_all(&mut r)).unwrap_err();
    assert!(matches!(err, TraceError::Corrupt { .. } | TraceError::Io { .. }), "{err}");
    // Unknown content.
    let p = write_file(dir.path(), "mystery", &[0xff, 0x00, 0x13, 0x37]);
    assert!(matches!(detect(&p), Err(TraceError::UnknownFormat { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No byte string makes any reader panic: it reads requests or fails
    /// with an error.
    #[test]
    fn readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), prefix in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let mut content = match prefix {
            0 => b"MSKTRACE\x01\x00\x00\x00".to_vec(),
            1 => {
                let mut h = vec![0u8; 8];
                h.push(1);
                h.extend_from_slice(&30u32.to_le_bytes());
                h.push(16);
                h.extend_from_slice(b"feedcafedeadbeef");
                h
            }
            2 => b"time,id,size\n".to_vec(),
            _ => Vec::new(),
        };
        content.extend_from_slice(&bytes);
        let p = write_file(dir.path(), "fuzz.bin", &content);
        for format in Format::ALL {
            let opts = OpenOptions { format: Some(format), ..Default::default() };
            if let Ok(mut r) = open(&p, &opts) {
                let _ = read_all(r.as_mut());
            }
        }
        let _ = detect(&p);
    }
}

#[test]
fn oracle_batches_equal_single_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.oracleGeneral.bin");
    let mut reqs = sample_requests();
    for r in reqs.iter_mut().step_by(7) {
        r.size = 0; // skipped by both paths
    }
    let mut w = OracleWriter::create(&path);
    reqs.iter().for_each(|r| w.write(r));
    w.finish().unwrap();
    let one = read_all(&mut OracleReader::open(&path).unwrap()).unwrap();
    let mut batched = Vec::new();
    cachesim::trace::for_each_request(&mut OracleReader::open(&path).unwrap(), |r| {
        batched.push(*r);
        Ok(())
    })
    .unwrap();
    assert_eq!(one.len(), reqs.iter().filter(|r| r.size > 0).count());
    assert_eq!(one, batched);
    // A cut last record fails the batched path too, at its offset.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 1);
    let p = write_file(dir.path(), "c.oracleGeneral.bin", &bytes);
    let err = cachesim::trace::for_each_request(&mut OracleReader::open(&p).unwrap(), |_| Ok(())).unwrap_err();
    assert!(matches!(err, TraceError::Truncated { offset, .. } if offset == (reqs.len() as u64 - 1) * 24), "{err}");
}

//! What the command-line tests share: running the binary, checking a
//! refusal, and reading a report as a browser would.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `memscale` binary under test.
pub fn memscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscale")).args(args).output().expect("run memscale")
}

/// Asserts a refusal: exit code 2, every needle in stderr, no panic.
pub fn fails_with(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Parses an HTML report as a browser would and checks that it parses
/// without errors and that it holds at least `charts` charts, each an SVG
/// with drawn lines or marks and text; returns the page's text.
pub fn check_report(path: &Path, charts: usize) -> String {
    let html = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{} does not parse cleanly: {:?}", path.display(), doc.errors);
    let svg = scraper::Selector::parse("svg").unwrap();
    let drawn = scraper::Selector::parse("polyline, path, line, circle, rect").unwrap();
    let text = scraper::Selector::parse("text").unwrap();
    let svgs: Vec<_> = doc.select(&svg).collect();
    assert!(svgs.len() >= charts, "{}: {} charts, expected at least {charts}", path.display(), svgs.len());
    for (i, s) in svgs.iter().enumerate() {
        let marks = s.select(&drawn).count();
        let labels = s.select(&text).filter(|t| !t.text().collect::<String>().trim().is_empty()).count();
        assert!(marks > 0 && labels > 0, "{}: chart {i} is empty ({marks} marks, {labels} labels)", path.display());
        assert!(!s.text().any(|t| t.contains("chart not drawn")), "{}: chart {i} could not be drawn", path.display());
    }
    doc.root_element().text().collect()
}

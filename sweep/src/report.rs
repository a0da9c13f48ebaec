//! Self-contained HTML reports: tables and inline SVG line charts.

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

use mrc::plot::COLORS;

/// A named line of (x, y) points.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Draw points only, no line (measurements): large crosses, each
    /// labelled with its value.
    pub markers_only: bool,
}

/// How a chart's x axis maps its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum XScale {
    /// Even steps, from 0.
    Linear,
    /// Cache sizes in MiB on a base-2 log axis, ticks at powers of two
    /// labelled as sizes: the sizes a profile or sweep models are
    /// log-spaced, and a miss-ratio curve changes most at small sizes.
    LogMiB,
}

/// The whole chart, legend strip included.
const WIDTH: u32 = 1040;
const HEIGHT: u32 = 440;
const CAPTION_FONT: u32 = 22;
const LABEL_FONT: u32 = 16;

/// A line chart over a linear x axis (seconds, counts) as an SVG string.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], y_max: Option<f64>) -> String {
    chart(title, x_label, y_label, series, y_max, XScale::Linear)
}

/// A chart against cache size: x values in MiB, drawn on a log axis with
/// ticks at powers of two (8 MiB, 16 MiB, ...).
pub fn size_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], y_max: Option<f64>) -> String {
    chart(title, x_label, y_label, series, y_max, XScale::LogMiB)
}

fn chart(title: &str, x_label: &str, y_label: &str, series: &[Series], y_max: Option<f64>, scale: XScale) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        if let Err(e) = draw(&root, title, x_label, y_label, series, y_max, scale) {
            // A chart that cannot be drawn says so where it would be.
            let _ = root.fill(&WHITE);
            let _ = root.draw_text(&format!("chart not drawn: {e}"), &("sans-serif", LABEL_FONT).into(), (20, 40));
        }
        let _ = root.present();
    }
    svg
}

/// An x axis with the ticks this module chose (plotters picks its own
/// otherwise, and knows nothing of powers of two).
struct TickedAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.range.end - self.range.start).max(1e-12);
        let share = (value - self.range.start) / span;
        limit.0 + (share * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// Tick positions: `n` or so round values (1, 2 or 5 times a power of ten)
/// from 0 to `max`.
fn linear_ticks(max: f64, n: usize) -> Vec<f64> {
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(raw);
    (0..).map(|k| k as f64 * step).take_while(|v| *v <= max * 1.0001).collect()
}

/// A size in MiB as people write it: `512 KiB`, `8 MiB`, `1 GiB`.
fn mib_label(mib: f64) -> String {
    if mib >= 1024.0 {
        format!("{} GiB", trim(mib / 1024.0))
    } else if mib < 1.0 {
        format!("{} KiB", trim(mib * 1024.0))
    } else {
        format!("{} MiB", trim(mib))
    }
}

/// A count or a mean of counts: `2`, or `2.3` when the mean of rounds is
/// not whole.
pub fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// An axis value without noise: `20000`, `0.5`, `2.5`.
fn trim_axis(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A measured value next to its marker: three significant digits.
fn value_label(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_max: Option<f64>,
    scale: XScale,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    // The legend has a strip of its own, right of the plot, so that it never
    // covers a line or a point.
    let longest = series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0) as u32;
    let legend_w = if longest > 0 { (longest * 9 + 56).clamp(110, 300) } else { 0 };
    let (plot, legend) = root.split_horizontally(WIDTH - legend_w);
    let to_x = |x: f64| match scale {
        XScale::Linear => x,
        XScale::LogMiB => x.max(1e-6).log2(),
    };
    let xs = || series.iter().flat_map(|s| s.points.iter()).map(|p| to_x(p.0));
    let (x_lo, x_hi, ticks) = match scale {
        XScale::Linear => {
            let hi = xs().fold(0.0, f64::max).max(1e-9);
            (0.0, hi * 1.02, linear_ticks(hi, 10))
        }
        XScale::LogMiB => {
            let lo = xs().fold(f64::INFINITY, f64::min);
            let hi = xs().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi.max(lo + 1.0)) } else { (0.0, 1.0) };
            let pad = (hi - lo) * 0.03;
            let ticks =
                (lo.floor() as i32..=hi.ceil() as i32).map(f64::from).filter(|t| *t >= lo - pad && *t <= hi + pad);
            (lo - pad, hi + pad, ticks.collect())
        }
    };
    let y_top = y_max.unwrap_or_else(|| {
        series.iter().flat_map(|s| s.points.iter()).map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.12
    });
    // A ratio (capped at 1) whose points all lie high starts its axis a
    // little below them, to the tenth: hit ratios of 0.80 to 0.90 on an
    // axis from 0 read as a flat line.
    let y_low = match y_max {
        Some(top) if top <= 1.0 => {
            let lowest = series.iter().flat_map(|s| s.points.iter()).map(|p| p.1).fold(f64::INFINITY, f64::min);
            if lowest.is_finite() {
                ((lowest - 0.05) * 10.0).floor().max(0.0) / 10.0
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    let label_font = ("sans-serif", LABEL_FONT);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", CAPTION_FONT))
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .build_cartesian_2d(TickedAxis { range: x_lo..x_hi, ticks }, y_low..y_top)
        .map_err(|e| e.to_string())?;
    let x_format = |v: &f64| match scale {
        XScale::Linear => trim(*v),
        XScale::LogMiB => mib_label(v.exp2()),
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&x_format)
        .y_label_formatter(&|v: &f64| trim_axis(*v))
        .label_style(label_font)
        .axis_desc_style(label_font)
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (to_x(x), y)).collect();
        if s.markers_only {
            chart
                .draw_series(points.iter().map(|&p| Cross::new(p, 9, color.stroke_width(3))))
                .map_err(|e| e.to_string())?;
            // Each measurement's value beside its cross, up and right, clear
            // of the line through it.
            chart
                .draw_series(points.iter().map(|&p| {
                    EmptyElement::at(p)
                        + Text::new(value_label(p.1), (10, -24), ("sans-serif", LABEL_FONT).into_font().color(&color))
                }))
                .map_err(|e| e.to_string())?;
        } else {
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2))).map_err(|e| e.to_string())?;
            if points.len() <= 64 {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        entries.push((s.name.as_str(), color, s.markers_only));
    }
    if legend_w > 0 {
        let top = CAPTION_FONT as i32 + 40;
        for (i, (name, color, marker)) in entries.into_iter().enumerate() {
            let y = top + i as i32 * 26;
            if marker {
                legend.draw(&Cross::new((18, y), 7, color.stroke_width(3))).map_err(|e| e.to_string())?;
            } else {
                legend
                    .draw(&PathElement::new(vec![(4, y), (32, y)], color.stroke_width(3)))
                    .map_err(|e| e.to_string())?;
            }
            legend
                .draw(&Text::new(name.to_string(), (40, y - LABEL_FONT as i32 / 2), label_font.into_font()))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An HTML table from a header and rows of cells (cells are escaped).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<table><tr>");
    for c in header {
        h += &format!("<th>{}</th>", escape(c));
    }
    h += "</tr>";
    for r in rows {
        h += "<tr>";
        for c in r {
            h += &format!("<td>{}</td>", escape(c));
        }
        h += "</tr>";
    }
    h + "</table>"
}

/// A whole page around `body` (HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;font-size:16px;line-height:1.45}}\
         svg{{display:block;max-width:100%;height:auto;margin:1.2em 0}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         th{{background:#f4f4f4}}h2{{margin-top:2em}}\
         .verdict{{background:#f3f7fb;border-left:4px solid #1f77b4;padding:.2em 1em;margin:1em 0}}</style></head><body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    )
}

//! Plots of MRCs: SVG or PNG (chosen by the file extension).

use std::path::Path;

use cachesim::sim::Unit;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::curve::Mrc;
use crate::error::MrcError;

/// The palette of every memscale chart (matplotlib's tab10, colour-blind
/// friendly in this order).
pub const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws every curve's miss ratio against cache size into `path`: `.svg`
/// (labelled, with a legend) or `.png` (curves and points only).
pub fn plot(curves: &[Mrc], title: &str, path: &Path) -> Result<(), MrcError> {
    let err = |e: String| MrcError::Output { path: path.to_path_buf(), reason: e };
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "svg" => {
            let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
            draw(&root, curves, title, true).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        "png" => {
            // Text in a bitmap needs a font engine and fonts on the machine;
            // none is linked, so PNG plots carry the curves without labels
            // (SVG plots are labelled: the viewer draws their text).
            let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
            draw(&root, curves, title, false).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        other => Err(err(format!("unknown plot format `.{other}`; use .svg or .png"))),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curves: &[Mrc],
    title: &str,
    text: bool,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let unit = curves.first().map(|c| c.unit).unwrap_or(Unit::Bytes);
    let (div, xname) = match unit {
        Unit::Bytes => ((1u64 << 20) as f64, "cache size (MiB)"),
        Unit::Objects => (1.0, "cache size (objects)"),
    };
    let xmax =
        curves.iter().flat_map(|c| c.points.iter()).map(|p| p.cache_size as f64 / div).fold(0.0, f64::max).max(1e-9);
    let mut builder = ChartBuilder::on(root);
    builder.margin(15).x_label_area_size(if text { 45 } else { 5 }).y_label_area_size(if text { 55 } else { 5 });
    if text {
        builder.caption(title, ("sans-serif", 22));
    }
    let mut chart = builder.build_cartesian_2d(0.0..xmax * 1.02, 0.0..1.0).map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE.mix(0.0));
    if text {
        mesh.x_desc(xname).y_desc("miss ratio");
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(|e| e.to_string())?;
    for (k, c) in curves.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<(f64, f64)> = c.points.iter().map(|p| (p.cache_size as f64 / div, p.miss_ratio)).collect();
        let series =
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2))).map_err(|e| e.to_string())?;
        if text {
            series
                .label(c.algo.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| e.to_string())?;
    }
    if text {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

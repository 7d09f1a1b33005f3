//! The replay's plot, an SVG beside the JSON: the queue over time (top) and each import's
//! freshness, commit → all four package pages on disk (bottom), on one time axis.

use std::path::Path;

use plotters::prelude::*;

use crate::Res;

/// What the plot shows, every time in seconds since the replay started.
pub struct PlotData {
    pub seconds: f64,
    /// (t, jobs pending + running, requests not yet moved).
    pub queue: Vec<(f64, f64, f64)>,
    /// (commit t, ms to all four package pages).
    pub freshness: Vec<(f64, f64)>,
    /// Imports whose pages were not all seen: their commit t.
    pub unseen: Vec<f64>,
    /// The target for the package pages, ms.
    pub target_ms: f64,
    pub title: String,
}

/// plotters' errors carry the backend's error type: shown as text.
fn drawn<T, E: std::fmt::Display>(result: Result<T, E>) -> Res<T> {
    result.map_err(|e| format!("plot: {e}").into())
}

pub fn write_svg(path: &Path, data: &PlotData) -> Res<()> {
    let root = SVGBackend::new(path, (1100, 760)).into_drawing_area();
    drawn(root.fill(&WHITE))?;
    let root = drawn(root.titled(&data.title, ("sans-serif", 20)))?;
    let (upper, lower) = root.split_vertically(360);
    let x_max = data.seconds.max(1.0);

    let queue_max = data.queue.iter().map(|&(_, jobs, requests)| jobs.max(requests)).fold(1.0, f64::max) * 1.1;
    let mut queue = drawn(
        ChartBuilder::on(&upper)
            .caption("queue length (sampled every 250 ms)", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..queue_max),
    )?;
    drawn(queue.configure_mesh().x_desc("seconds into the replay").y_desc("rows").draw())?;
    drawn(queue.draw_series(LineSeries::new(data.queue.iter().map(|&(t, jobs, _)| (t, jobs)), &BLUE)))?
        .label("piw.jobs pending + running")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    drawn(queue.draw_series(LineSeries::new(data.queue.iter().map(|&(t, _, requests)| (t, requests)), &GREEN)))?
        .label("piw.requests (not yet moved)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    drawn(queue.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw())?;

    let fresh_max = data.freshness.iter().map(|&(_, ms)| ms).fold(data.target_ms, f64::max) * 1.15;
    let mut fresh = drawn(
        ChartBuilder::on(&lower)
            .caption("import commit → its four package pages on disk", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..fresh_max),
    )?;
    drawn(fresh.configure_mesh().x_desc("seconds into the replay (commit)").y_desc("ms").draw())?;
    drawn(fresh.draw_series(LineSeries::new([(0.0, data.target_ms), (x_max, data.target_ms)], RED.stroke_width(1))))?
        .label(format!("target {} ms (p99)", data.target_ms))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    drawn(fresh.draw_series(data.freshness.iter().map(|&(t, ms)| Circle::new((t, ms), 2, BLUE.filled()))))?
        .label("an import's pages")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
    if !data.unseen.is_empty() {
        drawn(fresh.draw_series(data.unseen.iter().map(|&t| Cross::new((t, fresh_max * 0.97), 4, BLACK))))?
            .label("pages never seen")
            .legend(|(x, y)| Cross::new((x + 10, y), 4, BLACK));
    }
    drawn(fresh.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw())?;
    drawn(root.present())?;
    Ok(())
}

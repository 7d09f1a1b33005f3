//! What a run tells: the progress lines on stderr, the table and the JSON, and the statistics
//! they print.

use std::{
    fs,
    io::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{args::Scale, Res};

#[derive(Default)]
pub struct Report {
    rows: Vec<(String, String, String, Option<bool>)>,
}

impl Report {
    pub fn row(&mut self, figure: impl Into<String>, target: impl Into<String>, measured: impl Into<String>, met: Option<bool>) {
        self.rows.push((figure.into(), target.into(), measured.into(), met));
    }

    pub fn print(&self, title: &str) {
        let widths = self.rows.iter().fold([6usize, 6, 8], |w, (f, t, m, _)| [w[0].max(f.len()), w[1].max(t.len()), w[2].max(m.len())]);
        println!("\n{title}\n");
        println!("| {:<w0$} | {:<w1$} | {:<w2$} | met |", "figure", "target", "measured", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        println!("|{}|{}|{}|-----|", "-".repeat(widths[0] + 2), "-".repeat(widths[1] + 2), "-".repeat(widths[2] + 2));
        for (figure, target, measured, met) in &self.rows {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            println!("| {figure:<w0$} | {target:<w1$} | {measured:<w2$} | {met:<3} |", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
        }
    }
}

pub fn progress(message: &str) {
    static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let since = STARTED.get_or_init(Instant::now).elapsed();
    eprintln!("[piw bench {:>7.1} s] {message}", since.as_secs_f64());
    let _ = std::io::stderr().flush();
}

pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Print the table and write the JSON.
pub fn publish(
    report: &Report,
    mut out: serde_json::Map<String, Value>,
    json_path: &Path,
    scale: &Scale,
    counts: &Value,
    run_started: Instant,
) -> Res<()> {
    out.insert("total_seconds".into(), json!(run_started.elapsed().as_secs_f64()));
    report.print(&format!(
        "piw benchmark, scale {} ({} packages, {} files), {} cores",
        scale.name, counts["packages"], counts["files"], out["cores"]
    ));
    if let Some(parent) = json_path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(json_path, serde_json::to_string_pretty(&Value::Object(out))? + "\n")?;
    println!("\nJSON: {}", json_path.display());
    Ok(())
}

//! The SVG chart of a comparison: one small grouped-bar panel per compared metric (roomcast and
//! the reference side by side, and the socketioxide reference as a third bar when it ran, the floor server's value as a dashed line where it was measured,
//! the ratio and the issue's target under it). Drawn by hand.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

const ROOMCAST: &str = "#d9480f";
const REFERENCE: &str = "#5c7cfa";
const FLOOR: &str = "#495057";
const SOCKETIOXIDE: &str = "#2f9e44";

/// Whether the socketioxide reference has a value anywhere in the comparison (documents saved
/// before it existed have none, and their charts are drawn exactly as they were).
fn has_socketioxide(doc: &Value) -> bool {
    doc["comparison"]
        .as_array()
        .is_some_and(|v| v.iter().any(|c| c["socketioxide"].is_f64()))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt(v: f64) -> String {
    if v.abs() >= 1_000_000.0 {
        format!("{:.2}M", v / 1_000_000.0)
    } else if v.abs() >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The title's mark of a `--quick` run, whose short runs and small sizes are not the benchmark.
fn quick_mark(doc: &Value) -> &'static str {
    if doc["parameters"]["quick"].as_bool() == Some(true) {
        " — QUICK RUN (not the benchmark)"
    } else {
        ""
    }
}

/// The title, less its quick mark (shorter with socketioxide, so that it fits the width).
fn title(doc: &Value, sx: bool) -> String {
    let sio = esc(doc["servers"]["reference"]["socket.io"]
        .as_str()
        .unwrap_or("?"));
    if !sx {
        return format!("roomcast vs Node.js socket.io {sio} — roomcast-load compare");
    }
    let sx_version = doc["servers"]["socketioxide"]["version"]
        .as_str()
        .unwrap_or("?");
    let node_ran = doc["comparison"]
        .as_array()
        .is_some_and(|v| v.iter().any(|c| c["reference"].is_f64()));
    if node_ran {
        format!(
            "roomcast vs socket.io {sio} and socketioxide {}",
            esc(sx_version)
        )
    } else {
        format!("roomcast vs socketioxide {}", esc(sx_version))
    }
}

/// Panels per row, and a panel's width and height.
const COLS: usize = 4;
const PANEL_W: f64 = 240.0;
const PANEL_H: f64 = 230.0;
/// Where the first row of panels starts.
const TOP: f64 = 86.0;

/// Renders the chart of a `compare` result document.
pub fn render(doc: &Value) -> String {
    let empty = Vec::new();
    let items = doc["comparison"].as_array().unwrap_or(&empty);
    let (cols, pw, ph) = (COLS, PANEL_W, PANEL_H);
    let rows = items.len().div_ceil(cols).max(1);
    let width = 20.0 + cols as f64 * pw;
    let height = TOP + rows as f64 * ph + 20.0;
    let mut s = String::new();
    let sx = has_socketioxide(doc);
    heading(&mut s, doc, width, height, sx);
    for (i, c) in items.iter().enumerate() {
        let x0 = 10.0 + (i % cols) as f64 * pw;
        let y0 = TOP + (i / cols) as f64 * ph;
        panel(&mut s, c, x0, y0, sx);
    }
    s.push_str("</svg>\n");
    s
}

/// The SVG element, the background, the title, the machine line and the legend.
fn heading(s: &mut String, doc: &Value, width: f64, height: f64, sx: bool) {
    let m = &doc["machine"];
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="20" y="28" font-size="18" font-weight="bold">{}{}</text>"#,
        title(doc, sx),
        quick_mark(doc)
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="48" font-size="12" fill="#444">{} · {} cores · {} · kernel {} · node {}</text>"##,
        esc(doc["timestamp"].as_str().unwrap_or("")),
        m["cores"],
        esc(m["cpu_model"].as_str().unwrap_or("?")),
        esc(m["kernel"].as_str().unwrap_or("?")),
        esc(doc["servers"]["reference"]["node"].as_str().unwrap_or("?"))
    );
    if sx {
        let _ = writeln!(
            s,
            r##"<rect x="20" y="60" width="12" height="12" fill="{ROOMCAST}"/><text x="37" y="71" font-size="12">roomcast</text><rect x="110" y="60" width="12" height="12" fill="{REFERENCE}"/><text x="127" y="71" font-size="12">reference (Node.js)</text><rect x="265" y="60" width="12" height="12" fill="{SOCKETIOXIDE}"/><text x="282" y="71" font-size="12">socketioxide (Rust)</text><line x1="420" y1="66" x2="440" y2="66" stroke="{FLOOR}" stroke-dasharray="4 3" stroke-width="2"/><text x="445" y="71" font-size="12">floor (the least a server can do)</text><text x="680" y="71" font-size="12" fill="#444">ratio = rc / ref · sx = rc / socketioxide</text>"##
        );
        return;
    }
    let _ = writeln!(
        s,
        r##"<rect x="20" y="60" width="12" height="12" fill="{ROOMCAST}"/><text x="37" y="71" font-size="12">roomcast</text><rect x="110" y="60" width="12" height="12" fill="{REFERENCE}"/><text x="127" y="71" font-size="12">reference (Node.js)</text><line x1="265" y1="66" x2="285" y2="66" stroke="{FLOOR}" stroke-dasharray="4 3" stroke-width="2"/><text x="290" y="71" font-size="12">floor (the least a server can do)</text><text x="500" y="71" font-size="12" fill="#444">ratio = roomcast / reference; the load generator shares the cores</text>"##
    );
}

/// One compared metric's panel at (`x0`, `y0`): its frame and titles, the bars, the floor line,
/// the ratio and the target.
fn panel(s: &mut String, c: &Value, x0: f64, y0: f64, sx: bool) {
    let pw = PANEL_W;
    panel_titles(s, c, x0, y0);
    let mut vals = vec![
        (c["roomcast"].as_f64(), ROOMCAST),
        (c["reference"].as_f64(), REFERENCE),
    ];
    if sx {
        vals.push((c["socketioxide"].as_f64(), SOCKETIOXIDE));
    }
    // Two bars 55 wide, 65 apart, centred (as the charts saved before socketioxide), or three 42
    // wide from the left, clear of the floor's label on the right.
    let (bw, step, first, axis) = if sx {
        (42.0, 48.0, x0 + 24.0, x0 + 16.0)
    } else {
        (55.0, 65.0, x0 + pw / 2.0 - 60.0, x0 + 40.0)
    };
    let floor = c["floor"].as_f64();
    let vmax = vals
        .iter()
        .filter_map(|v| v.0)
        .chain(floor)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let (chart_top, chart_h) = (y0 + 55.0, 110.0);
    let base = chart_top + chart_h;
    let _ = writeln!(
        s,
        r##"<line x1="{}" y1="{base}" x2="{}" y2="{base}" stroke="#868e96"/>"##,
        axis,
        x0 + pw - 40.0
    );
    for (j, (v, color)) in vals.iter().enumerate() {
        let bx = first + j as f64 * step;
        let bar_h = |v: f64| (v / vmax * chart_h).max(1.0);
        bar(s, v.map(|v| (v, bar_h(v))), color, bx, bw, base);
    }
    if let Some(f) = floor {
        let y = base - f / vmax * chart_h;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{FLOOR}" stroke-dasharray="4 3" stroke-width="1.5"/>"#,
            x0 + 30.0,
            x0 + pw - 30.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="10" fill="{FLOOR}" text-anchor="end">floor {}</text>"#,
            x0 + pw - 12.0,
            y - 3.0,
            esc(&fmt(f))
        );
    }
    panel_verdict(s, c, x0, base, sx);
}

/// The panel's frame, its title (the metric) and subtitle (qualifier, unit, direction).
fn panel_titles(s: &mut String, c: &Value, x0: f64, y0: f64) {
    let (pw, ph) = (PANEL_W, PANEL_H);
    // "metric, qualifier": the qualifier goes to the subtitle, so titles fit their panel.
    let (label, qualifier) = match c["label"].as_str().unwrap_or("").split_once(", ") {
        Some((l, q)) => (l, format!("{q} · ")),
        None => (c["label"].as_str().unwrap_or(""), String::new()),
    };
    let unit = c["unit"].as_str().unwrap_or("");
    let higher = c["higher_is_better"].as_bool().unwrap_or(true);
    let _ = writeln!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f8f9fa" stroke="#dee2e6"/>"##,
        x0 + 5.0,
        y0,
        pw - 10.0,
        ph - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" font-size="13" font-weight="bold" text-anchor="middle">{}</text>"#,
        x0 + pw / 2.0,
        y0 + 20.0,
        esc(label)
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" font-size="11" fill="#555" text-anchor="middle">{}{} ({} is better)</text>"##,
        x0 + pw / 2.0,
        y0 + 35.0,
        esc(&qualifier),
        esc(unit),
        if higher { "higher" } else { "lower" }
    );
}

/// One server's bar at `bx` on the baseline `base`: its value and height, with the value above
/// it, or "n/a".
fn bar(s: &mut String, v: Option<(f64, f64)>, color: &str, bx: f64, bw: f64, base: f64) {
    match v {
        Some((v, h)) => {
            let _ = writeln!(
                s,
                r#"<rect x="{bx}" y="{}" width="{bw}" height="{h}" fill="{color}"/>"#,
                base - h
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
                bx + bw / 2.0,
                base - h - 4.0,
                esc(&fmt(v))
            );
        }
        None => {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" font-size="11" fill="#868e96" text-anchor="middle">n/a</text>"##,
                bx + bw / 2.0,
                base - 4.0
            );
        }
    }
}

/// The ratio under the panel's chart, and the target with whether it is met.
fn panel_verdict(s: &mut String, c: &Value, x0: f64, base: f64, sx: bool) {
    let pw = PANEL_W;
    let mut ratio = c["ratio"]
        .as_f64()
        .map(|r| format!("ratio {r:.2}×"))
        .unwrap_or_else(|| "ratio n/a".into());
    if sx {
        match c["ratio_socketioxide"].as_f64() {
            Some(r) => ratio.push_str(&format!(" · sx {r:.2}×")),
            None => ratio.push_str(" · sx n/a"),
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        x0 + pw / 2.0,
        base + 22.0,
        esc(&ratio)
    );
    if let Some(t) = c["target"].as_str() {
        let (txt, color) = match c["met"].as_bool() {
            Some(true) => (format!("target {t}: met"), "#2b8a3e"),
            Some(false) => (format!("target {t}: not met"), "#c92a2a"),
            None => (format!("target {t}"), "#555"),
        };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" font-size="11" fill="{color}" text-anchor="middle">{}</text>"#,
            x0 + pw / 2.0,
            base + 40.0,
            esc(&txt)
        );
    }
}

/// Reads a saved comparison and writes its chart.
pub fn redraw(input: &Path, output: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    if doc["comparison"].as_array().is_none() {
        return Err(format!(
            "{} is not a roomcast-load compare result",
            input.display()
        ));
    }
    std::fs::write(output, render(&doc)).map_err(|e| format!("{}: {e}", output.display()))
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    #[test]
    fn socketioxide_gets_a_third_bar_only_where_it_ran() {
        let item =
            json!({"label": "x", "unit": "u", "roomcast": 2.0, "reference": 4.0, "ratio": 0.5});
        let two = render(&json!({"comparison": [item]}));
        assert!(!two.contains("socketioxide"));
        assert_eq!(two.matches(r#"width="55""#).count(), 2);
        let mut item = item;
        item["socketioxide"] = json!(1.0);
        item["ratio_socketioxide"] = json!(2.0);
        let three = render(&json!({"comparison": [item]}));
        assert!(three.contains("socketioxide (Rust)"));
        assert!(three.contains("ratio 0.50× · sx 2.00×"));
        assert!(three.contains("roomcast vs socket.io ? and socketioxide ?"));
        assert_eq!(three.matches(r#"width="42""#).count(), 3);
    }

    #[test]
    fn a_quick_run_says_so_in_the_title() {
        let quick = render(&json!({"parameters": {"quick": true}, "comparison": []}));
        assert!(quick.contains("QUICK RUN (not the benchmark)"));
        let full = render(&json!({"parameters": {"quick": false}, "comparison": []}));
        assert!(!full.contains("QUICK RUN"));
    }
}

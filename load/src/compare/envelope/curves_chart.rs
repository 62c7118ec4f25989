//! The chart of the `curves` scenario: CPU per delivery and p99 by room size, one curve per
//! server, both axes logarithmic, as a self-contained SVG (no plotting dependency).

use std::fmt::Write as _;

use serde_json::Value;

/// Each server's colour (as in the comparison's chart).
const SERVERS: [(&str, &str, &str); 4] = [
    ("roomcast", "roomcast", "#d9480f"),
    ("reference", "Node.js socket.io", "#5c7cfa"),
    ("socketioxide", "socketioxide", "#2f9e44"),
    ("floor", "floor", "#495057"),
];

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 70.0;

/// The points of one metric (`cpu_us` or `p99_ms`) of one server: (size, value).
fn points(doc: &Value, server: &str, metric: &str) -> Vec<(f64, f64)> {
    let curves = &doc["summary"][server]["curves"];
    let sizes = doc["parameters"]["curve_sizes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    sizes
        .iter()
        .filter_map(|s| {
            let size = s.as_f64()?;
            let v = curves[format!("{metric}_size_{size}")].as_f64()?;
            (size > 0.0 && v > 0.0).then_some((size, v))
        })
        .collect()
}

/// The chart, or `None` when no server has a point of the curves.
pub(in super::super) fn render(doc: &Value) -> Option<String> {
    let panels = [
        ("cpu_us", "server CPU per delivery (µs)"),
        ("p99_ms", "publish→receive p99 (ms)"),
    ];
    let any = SERVERS
        .iter()
        .any(|(s, _, _)| !points(doc, s, "cpu_us").is_empty());
    if !any {
        return None;
    }
    let width = 2.0 * (PANEL_W + LEFT) + 20.0;
    let height = TOP + PANEL_H + 80.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"24\" font-size=\"16\">Cost by room size — \
         roomcast-load compare --scenarios curves ({})</text>\n",
        doc["timestamp"].as_str().unwrap_or("")
    );
    for (k, (metric, title)) in panels.iter().enumerate() {
        let x0 = LEFT + k as f64 * (PANEL_W + LEFT);
        panel(&mut svg, doc, x0, metric, title);
    }
    for (i, (_, name, colour)) in SERVERS.iter().enumerate() {
        let x = LEFT + i as f64 * 170.0;
        let y = TOP + PANEL_H + 60.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{name}</text>",
            y - 4.0,
            x + 20.0,
            y
        );
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

/// One log-log panel at `x0`: a curve per server.
fn panel(svg: &mut String, doc: &Value, x0: f64, metric: &str, title: &str) {
    let all: Vec<(f64, f64)> = SERVERS
        .iter()
        .flat_map(|(s, _, _)| points(doc, s, metric))
        .collect();
    let (mut lo_x, mut hi_x, mut lo_y, mut hi_y) = (1.0f64, 10.0f64, f64::MAX, f64::MIN);
    for &(x, y) in &all {
        (lo_x, hi_x) = (lo_x.min(x), hi_x.max(x));
        (lo_y, hi_y) = (lo_y.min(y), hi_y.max(y));
    }
    if all.is_empty() {
        (lo_y, hi_y) = (1.0, 10.0);
    }
    let (lx, hx) = (
        lo_x.log10().floor(),
        hi_x.log10().ceil().max(lo_x.log10().floor() + 1.0),
    );
    let (ly, hy) = (
        lo_y.log10().floor(),
        hi_y.log10().ceil().max(lo_y.log10().floor() + 1.0),
    );
    let px = |x: f64| x0 + (x.log10() - lx) / (hx - lx) * PANEL_W;
    let py = |y: f64| TOP + PANEL_H - (y.log10() - ly) / (hy - ly) * PANEL_H;
    let _ = writeln!(
        svg,
        "<text x=\"{x0}\" y=\"{}\" font-size=\"13\">{title}</text>\n\
         <rect x=\"{x0}\" y=\"{TOP}\" width=\"{PANEL_W}\" height=\"{PANEL_H}\" fill=\"none\" \
         stroke=\"#adb5bd\"/>\n<text x=\"{}\" y=\"{}\">room size (receivers per publish)</text>",
        TOP - 8.0,
        x0 + PANEL_W / 2.0 - 90.0,
        TOP + PANEL_H + 34.0
    );
    for d in (lx as i32)..=(hx as i32) {
        let x = px(10f64.powi(d));
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{}\" stroke=\"#f1f3f5\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            TOP + PANEL_H,
            TOP + PANEL_H + 16.0,
            10u64.pow(d.max(0) as u32)
        );
    }
    for d in (ly as i32)..=(hy as i32) {
        let y = py(10f64.powi(d));
        let _ = writeln!(
            svg,
            "<line x1=\"{x0}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#f1f3f5\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            x0 + PANEL_W,
            x0 - 6.0,
            y + 4.0,
            10f64.powi(d)
        );
    }
    for (server, _, colour) in SERVERS {
        let pts = points(doc, server, metric);
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        for &(x, y) in &pts {
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                px(x),
                py(y)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_curve_per_server_that_has_points() {
        let doc = json!({
            "timestamp": "t",
            "parameters": {"curve_sizes": [1, 10, 100]},
            "summary": {
                "roomcast": {"curves": {"cpu_us_size_1": 10.0, "cpu_us_size_10": 5.0,
                    "cpu_us_size_100": 3.0, "p99_ms_size_1": 1.0, "p99_ms_size_100": 4.0}},
                "reference": {"curves": {"cpu_us_size_1": 30.0, "cpu_us_size_10": 15.0}},
            },
        });
        let svg = super::render(&doc).expect("a chart");
        assert_eq!(svg.matches("<polyline").count(), 8, "2 panels × 4 servers");
        assert_eq!(
            svg.matches("<circle").count(),
            3 + 2 + 2,
            "one mark per point"
        );
        assert!(super::render(&json!({"summary": {}})).is_none());
    }
}

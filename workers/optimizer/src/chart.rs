//! An SVG chart of a power-tuning sweep: billed duration (bars) and cost per invocation
//! (line) per memory size, on one x axis.

use std::fmt::Write;

use crate::sweep::SizeResult;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 90.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// The chart of `sizes` for `function`, with the chosen size highlighted.
pub fn svg(function: &str, sizes: &[SizeResult], chosen: Option<u32>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}: billed duration and cost per memory size</text>"#,
        W / 2.0,
        escape(function)
    );
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#333"/>"##,
        LEFT + plot_w
    );
    if sizes.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let max_ms = sizes
        .iter()
        .map(|r| r.billed_ms)
        .fold(0.0, f64::max)
        .max(1e-9);
    let max_cost = sizes
        .iter()
        .map(|r| r.cost_per_invocation_usd)
        .fold(0.0, f64::max)
        .max(1e-15);
    let slot = plot_w / sizes.len() as f64;
    let mut line = Vec::new();
    for (i, r) in sizes.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let bar_h = r.billed_ms / max_ms * plot_h;
        let fill = if Some(r.memory_mb) == chosen {
            "#e07b00"
        } else {
            "#7aa6d6"
        };
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{} MB: {:.1} ms</title></rect>"#,
            cx - slot * 0.3,
            base - bar_h,
            slot * 0.6,
            bar_h,
            r.memory_mb,
            r.billed_ms
        );
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{} MB</text>"#,
            base + 18.0,
            r.memory_mb
        );
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{:.0} ms</text>"#,
            base - bar_h - 4.0,
            r.billed_ms
        );
        line.push((cx, base - r.cost_per_invocation_usd / max_cost * plot_h));
    }
    let points: Vec<String> = line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#b00020" stroke-width="2"/>"##,
        points.join(" ")
    );
    for ((x, y), r) in line.iter().zip(sizes) {
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#b00020"><title>{} MB: {:.3e} USD per invocation</title></circle>"##,
            r.memory_mb, r.cost_per_invocation_usd
        );
    }
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" fill="#b00020">cost, max {:.3e} USD</text><text x="{LEFT}" y="{}" fill="#336">duration, max {:.0} ms</text>"##,
        LEFT + plot_w - 150.0,
        TOP - 6.0,
        max_cost,
        TOP - 6.0,
        max_ms
    );
    s.push_str("</svg>");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(memory_mb: u32, billed_ms: f64, cost: f64) -> SizeResult {
        SizeResult {
            memory_mb,
            invocations: 5,
            errors: 0,
            billed_ms,
            cost_per_invocation_usd: cost,
        }
    }

    #[test]
    fn one_bar_and_one_cost_point_per_size_and_the_choice_highlighted() {
        let svg = svg(
            "f<1>",
            &[
                size(128, 800.0, 2e-6),
                size(512, 210.0, 2.2e-6),
                size(1024, 200.0, 4e-6),
            ],
            Some(512),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("#e07b00").count(), 1, "one chosen bar");
        assert!(svg.contains("f&lt;1&gt;"), "the name is escaped");
        assert!(svg.contains("512 MB: 210.0 ms"));
    }
}

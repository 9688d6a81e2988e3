//! The on-sale over simulated time as one SVG: the picture an operator looks at before the sale.

use std::fmt::Write;

/// Per simulated second.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Series {
    pub waiting: Vec<f64>,
    pub admitted: Vec<f64>,
    pub api_requests: Vec<f64>,
    pub polls: Vec<f64>,
    /// The busiest key's share of its limit, in percent.
    pub hottest_key_percent: Vec<f64>,
    /// Transactions cancelled by conflicts (`TransactionConflict`).
    pub conflicts: Vec<f64>,
    pub sold: Vec<f64>,
    /// Seats neither held nor sold as the second ended, by true time.
    pub free_seats: Vec<f64>,
    /// Of those, the seats idle: free while fans waited in the open sale (0 otherwise).
    pub idle_seats: Vec<f64>,
}

struct Panel<'a> {
    title: &'a str,
    lines: Vec<(&'a str, &'a [f64], &'a str)>,
    /// Horizontal marks: value and label.
    marks: Vec<(f64, &'a str)>,
    /// A logarithmic scale (of 1 + the value), marked at each power of ten: for counts whose
    /// tail is thousands of times smaller than their start.
    log: bool,
    /// Seconds shaded where this series is above zero.
    shaded: Option<(&'a [f64], &'a str)>,
}

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 140.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const GAP: f64 = 46.0;

pub fn render(series: &Series, title: &str) -> String {
    let panels = [
        Panel {
            title: "fans waiting",
            lines: vec![("waiting", &series.waiting, "#1f77b4")],
            marks: vec![],
            log: false,
            shaded: None,
        },
        Panel {
            title: "free seats (neither held nor sold) and fans waiting, log scale; shaded: seats free while fans waited",
            lines: vec![
                ("free seats", &series.free_seats, "#ff7f0e"),
                ("fans waiting", &series.waiting, "#1f77b4"),
            ],
            marks: vec![],
            log: true,
            shaded: Some((&series.idle_seats, "#fdd0a2")),
        },
        Panel {
            title: "admitted per second",
            lines: vec![("admitted", &series.admitted, "#2ca02c")],
            marks: vec![],
            log: false,
            shaded: None,
        },
        Panel {
            title: "API requests per second (all / queue polls)",
            lines: vec![
                ("all", &series.api_requests, "#9467bd"),
                ("polls", &series.polls, "#8c564b"),
            ],
            marks: vec![],
            log: false,
            shaded: None,
        },
        Panel {
            title: "hottest DynamoDB key, % of its per-partition limit",
            lines: vec![("hottest key", &series.hottest_key_percent, "#d62728")],
            marks: vec![(100.0, "limit"), (50.0, "half")],
            log: false,
            shaded: None,
        },
        Panel {
            title: "transactions cancelled by conflicts per second",
            lines: vec![("conflicts", &series.conflicts, "#e377c2")],
            marks: vec![],
            log: false,
            shaded: None,
        },
        Panel {
            title: "seats sold",
            lines: vec![("sold", &series.sold, "#ff7f0e")],
            marks: vec![],
            log: false,
            shaded: None,
        },
    ];
    let height = 40.0 + panels.len() as f64 * (PANEL_HEIGHT + GAP);
    let seconds = series.waiting.len().max(2) as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, panel) in panels.iter().enumerate() {
        let top = 40.0 + i as f64 * (PANEL_HEIGHT + GAP) + 18.0;
        let bottom = top + PANEL_HEIGHT;
        let max = panel
            .lines
            .iter()
            .flat_map(|(_, values, _)| values.iter().copied())
            .chain(panel.marks.iter().map(|(v, _)| *v * 1.1))
            .fold(0.0f64, f64::max)
            .max(1.0);
        let x = |t: f64| LEFT + t / (seconds - 1.0) * (WIDTH - LEFT - RIGHT);
        let scale = |v: f64| {
            if panel.log {
                (1.0 + v.max(0.0)).log10()
            } else {
                v
            }
        };
        let y = |v: f64| bottom - scale(v) / scale(max) * PANEL_HEIGHT;
        if let Some((values, color)) = panel.shaded {
            let step = x(1.0) - x(0.0);
            for (from, to) in runs(values) {
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{PANEL_HEIGHT}" fill="{color}"/>"#,
                    x(from as f64),
                    (x(to as f64) - x(from as f64)).max(step)
                );
            }
        }
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{}" font-weight="bold">{}</text><rect x="{LEFT}" y="{top}" width="{}" height="{PANEL_HEIGHT}" fill="none" stroke="#bbb"/>"##,
            top - 5.0,
            escape(panel.title),
            WIDTH - LEFT - RIGHT
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><text x="{}" y="{bottom}" text-anchor="end">0</text>"#,
            LEFT - 6.0,
            top + 10.0,
            compact(max),
            LEFT - 6.0
        );
        if panel.log {
            let mut power = 10.0;
            while power < max {
                let at = y(power);
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end" fill="#666">{}</text>"##,
                    WIDTH - RIGHT,
                    LEFT - 6.0,
                    at + 4.0,
                    compact(power),
                    y = at
                );
                power *= 10.0;
            }
        }
        for (value, label) in &panel.marks {
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#999" stroke-dasharray="4 3"/><text x="{}" y="{}" text-anchor="end" fill="#666">{label}</text>"##,
                WIDTH - RIGHT,
                WIDTH - RIGHT - 4.0,
                y(*value) - 3.0,
                y = y(*value)
            );
        }
        for (name, values, color) in &panel.lines {
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(t, v)| format!("{:.1},{:.1}", x(t as f64), y(*v)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"><title>{name}</title></polyline>"#,
                points.join(" ")
            );
        }
        if panel.lines.len() > 1 {
            for (j, (name, _, color)) in panel.lines.iter().enumerate() {
                let _ = writeln!(
                    svg,
                    r#"<text x="{}" y="{}" fill="{color}" text-anchor="end">{name}</text>"#,
                    WIDTH - RIGHT - 4.0,
                    top + 14.0 + j as f64 * 14.0
                );
            }
        }
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}">0 s</text><text x="{}" y="{}" text-anchor="end">{} s</text>"#,
            bottom + 14.0,
            WIDTH - RIGHT,
            bottom + 14.0,
            seconds as u64 - 1
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The runs of seconds whose value is above zero, as (first, one past the last).
fn runs(values: &[f64]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut from = None;
    for (t, v) in values.iter().enumerate() {
        match (from, *v > 0.0) {
            (None, true) => from = Some(t),
            (Some(start), false) => {
                runs.push((start, t));
                from = None;
            }
            _ => {}
        }
    }
    if let Some(start) = from {
        runs.push((start, values.len()));
    }
    runs
}

fn compact(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e4 => format!("{:.0}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_seats_and_waiting_fans_share_a_panel_shaded_where_seats_idled() {
        let series = Series {
            waiting: vec![0.0, 50_000.0, 20_000.0, 9_000.0, 0.0],
            free_seats: vec![150.0, 40.0, 0.0, 3.0, 0.0],
            idle_seats: vec![0.0, 40.0, 0.0, 3.0, 0.0],
            ..Series::default()
        };
        let svg = render(&series, "tail");
        let panel = svg
            .split("<text")
            .skip_while(|t| !t.contains("free seats (neither held nor sold) and fans waiting"))
            .collect::<Vec<_>>()
            .join("<text");
        let panel = panel.split(">admitted per second<").next().unwrap();
        assert!(panel.contains("<title>free seats</title>"), "{panel}");
        assert!(panel.contains("<title>fans waiting</title>"), "{panel}");
        // Seconds 1 and 3 are shaded, apart; the log scale is marked up to 10k.
        assert_eq!(svg.matches(r##"fill="#fdd0a2""##).count(), 2);
        assert!(panel.contains(">10k</text>") && panel.contains(">100</text>"));
    }

    #[test]
    fn runs_are_the_stretches_above_zero() {
        assert_eq!(runs(&[0.0, 1.0, 2.0, 0.0, 0.0, 5.0]), vec![(1, 3), (5, 6)]);
        assert!(runs(&[0.0, 0.0]).is_empty());
    }
}

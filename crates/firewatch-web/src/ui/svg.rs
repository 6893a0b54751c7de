//! Server-rendered SVG charts (no script, no inline style: colours come from classes in
//! app.css). Every text placed in a chart is escaped here.

use std::fmt::Write as _;

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `p` quantile of a Poisson distribution with mean `lambda` (exact summation up to a
/// mean of 500, the normal approximation beyond).
pub fn poisson_quantile(lambda: f64, p: f64) -> f64 {
    if !(lambda.is_finite()) || lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 500.0 {
        let z = if p < 0.5 { -1.959_964 } else { 1.959_964 };
        return (lambda + z * lambda.sqrt()).max(0.0).round();
    }
    let mut pmf = (-lambda).exp();
    let mut cdf = pmf;
    let mut k = 0.0;
    while cdf < p && k < 10_000.0 {
        k += 1.0;
        pmf *= lambda / k;
        cdf += pmf;
    }
    k
}

fn nice_max(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Monthly incidents (observed) against expected, with the expected count's 95% Poisson
/// interval as a band.
pub fn monthly_chart(points: &[(String, u64, Option<f64>)], title: &str) -> String {
    let (w, h, l, r, t, b) = (640.0, 260.0, 44.0, 28.0, 14.0, 40.0);
    let n = points.len().max(1);
    let bands: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|(_, _, e)| e.map(|e| (poisson_quantile(e, 0.025), poisson_quantile(e, 0.975))))
        .collect();
    let ymax = nice_max(
        points
            .iter()
            .map(|p| p.1 as f64)
            .chain(bands.iter().flatten().map(|b| b.1))
            .chain(points.iter().filter_map(|p| p.2))
            .fold(0.0, f64::max),
    );
    let x = |i: usize| {
        l + (w - l - r)
            * if n == 1 {
                0.5
            } else {
                i as f64 / (n - 1) as f64
            }
    };
    let y = |v: f64| t + (h - t - b) * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart monthly" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    for k in 0..=4 {
        let v = ymax * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{l}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - r,
            l - 4.0,
            y(v) + 4.0,
            fmt_num(v),
            y = y(v)
        );
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{l}" x2="{l}" y1="{t}" y2="{}"/><line class="axis" x1="{l}" x2="{}" y1="{}" y2="{}"/>"#,
        h - b,
        w - r,
        h - b,
        h - b
    );
    // The band: upper bounds left to right, then lower bounds back.
    let idx: Vec<usize> = (0..points.len()).filter(|i| bands[*i].is_some()).collect();
    if !idx.is_empty() {
        let mut d = String::new();
        for (j, i) in idx.iter().enumerate() {
            let (_, hi) = bands[*i].unwrap_or((0.0, 0.0));
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if j == 0 { "M" } else { "L" },
                x(*i),
                y(hi)
            );
        }
        for i in idx.iter().rev() {
            let (lo, _) = bands[*i].unwrap_or((0.0, 0.0));
            let _ = write!(d, "L{:.1},{:.1} ", x(*i), y(lo));
        }
        let _ = write!(s, r#"<path class="band" d="{}Z"/>"#, d.trim_end());
        let mut e = String::new();
        for (j, i) in idx.iter().enumerate() {
            let v = points[*i].2.unwrap_or(0.0);
            let _ = write!(
                e,
                "{}{:.1},{:.1} ",
                if j == 0 { "M" } else { "L" },
                x(*i),
                y(v)
            );
        }
        let _ = write!(s, r#"<path class="expected" d="{}"/>"#, e.trim_end());
    }
    let mut o = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            o,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(p.1 as f64)
        );
    }
    if !points.is_empty() {
        let _ = write!(s, r#"<path class="observed" d="{}"/>"#, o.trim_end());
    }
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            s,
            r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3"><title>{}: {}</title></circle>"#,
            x(i),
            y(p.1 as f64),
            esc(&p.0),
            p.1
        );
        if n <= 13 || i % 2 == 0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x(i),
                h - b + 16.0,
                esc(p.0.get(2..).unwrap_or(&p.0))
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn fmt_num(v: f64) -> String {
    if v >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One mention's reach: engagement so far against the forecast final size and its interval.
pub fn reach_bar(
    now: f64,
    predicted: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    infinite: bool,
) -> String {
    let (w, h) = (320.0, 36.0);
    let top = [Some(now), predicted, lower, upper]
        .into_iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let xmax = nice_max(top * 1.1);
    let x = |v: f64| 4.0 + (w - 8.0) * (v.min(xmax) / xmax);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart reach" viewBox="0 0 {w} {h}" role="img" aria-label="reach {now:.0} / {}" xmlns="http://www.w3.org/2000/svg">"#,
        if infinite {
            "∞".to_string()
        } else {
            predicted.map(|p| format!("{p:.0}")).unwrap_or_default()
        }
    );
    let _ = write!(
        s,
        r#"<line class="axis" x1="4" x2="{}" y1="28" y2="28"/>"#,
        w - 4.0
    );
    let hi = if infinite { Some(xmax) } else { upper };
    if let (Some(lo), Some(hi)) = (lower, hi) {
        let _ = write!(
            s,
            r#"<rect class="band" x="{:.1}" y="6" width="{:.1}" height="18"/>"#,
            x(lo),
            (x(hi) - x(lo)).max(1.0)
        );
    }
    let _ = write!(
        s,
        r#"<rect class="dot" x="4" y="11" width="{:.1}" height="8"/>"#,
        (x(now) - 4.0).max(1.0)
    );
    if let Some(p) = predicted.filter(|p| p.is_finite()) {
        let _ = write!(
            s,
            r#"<line class="forecast" x1="{:.1}" x2="{:.1}" y1="4" y2="26"/>"#,
            x(p),
            x(p)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="35" text-anchor="end">{}</text></svg>"#,
        w - 4.0,
        fmt_num(xmax)
    );
    s
}

/// Engagement over time for one mention (cumulative count) and its forecast final size as
/// a horizontal line with its interval.
pub fn forecast_curve(
    times_s: &[f64],
    predicted: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    label: &str,
) -> String {
    let (w, h, l, r, t, b) = (640.0, 200.0, 44.0, 12.0, 12.0, 28.0);
    let n = times_s.len();
    let tmax = times_s.iter().cloned().fold(1.0, f64::max);
    let top = [Some(n as f64), predicted, upper]
        .into_iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let ymax = nice_max(top * 1.05);
    let x = |v: f64| l + (w - l - r) * (v / tmax);
    let y = |v: f64| t + (h - t - b) * (1.0 - v.min(ymax) / ymax);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart curve" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(label),
        esc(label)
    );
    let _ = write!(
        s,
        r#"<line class="axis" x1="{l}" x2="{l}" y1="{t}" y2="{}"/><line class="axis" x1="{l}" x2="{}" y1="{}" y2="{}"/><text x="{}" y="{}" text-anchor="end">{}</text>"#,
        h - b,
        w - r,
        h - b,
        h - b,
        l - 4.0,
        t + 8.0,
        fmt_num(ymax)
    );
    if let (Some(lo), Some(hi)) = (lower, upper.filter(|u| u.is_finite())) {
        let _ = write!(
            s,
            r#"<rect class="band" x="{l}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
            y(hi),
            w - l - r,
            (y(lo) - y(hi)).max(1.0)
        );
    }
    if let Some(p) = predicted.filter(|p| p.is_finite()) {
        let _ = write!(
            s,
            r#"<line class="forecast" x1="{l}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
            w - r,
            y(p),
            y(p)
        );
    }
    let mut d = format!("M{l:.1},{:.1} ", y(0.0));
    for (i, ts) in times_s.iter().enumerate() {
        let _ = write!(
            d,
            "L{:.1},{:.1} L{:.1},{:.1} ",
            x(*ts),
            y(i as f64),
            x(*ts),
            y(i as f64 + 1.0)
        );
    }
    let _ = write!(s, r#"<path class="actual" d="{}"/>"#, d.trim_end());
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">{}</text></svg>"#,
        w - r,
        h - 8.0,
        esc(&format!("{:.0} h", tmax / 3600.0))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_quantiles_bracket_the_mean() {
        assert_eq!(poisson_quantile(0.0, 0.975), 0.0);
        // Poisson(4): P(X <= 8) = 0.9786 is the first CDF value over 0.975; P(X <= 0) = 0.018.
        assert_eq!(poisson_quantile(4.0, 0.975), 8.0);
        assert_eq!(poisson_quantile(4.0, 0.025), 1.0);
        let hi = poisson_quantile(10_000.0, 0.975);
        assert!((hi - 10_196.0).abs() <= 1.0, "{hi}");
    }

    #[test]
    fn chart_text_is_escaped_and_the_chart_has_its_parts() {
        let pts = vec![
            ("2026-01".to_string(), 2, Some(1.5)),
            ("<script>".to_string(), 9, Some(1.5)),
        ];
        let svg = monthly_chart(&pts, "A & <b>");
        assert!(!svg.contains("<script>") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;") || svg.contains("script&gt;"));
        assert!(svg.contains(r#"class="band""#) && svg.contains(r#"class="observed""#));
        assert!(svg.contains(r#"class="expected""#));
        let bar = reach_bar(10.0, Some(50.0), Some(30.0), Some(80.0), false);
        assert!(bar.contains(r#"class="band""#) && bar.contains(r#"class="forecast""#));
    }
}

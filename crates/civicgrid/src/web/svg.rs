//! Pictures drawn by the server as SVG text: the grid map (clickable, shaded by a value) and
//! simple bar and line charts. Pure functions of their data; every label is escaped.

use std::fmt::Write as _;

use geo::{BoundingRect, MultiPolygon};

/// Escapes text for SVG/HTML content and attributes.
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

/// One grid on the map.
pub struct MapGrid<'a> {
    pub code: &'a str,
    pub name: &'a str,
    /// The community (社区) the grid belongs to, by name: communities are labelled too.
    pub community: Option<&'a str>,
    pub geometry: &'a MultiPolygon<f64>,
    /// 0..=1: how dark the grid is shaded (load); None leaves it plain.
    pub shade: Option<f64>,
    /// A label for the value (e.g. "12 open"), shown on hover.
    pub note: String,
    /// A fill of its own (a state's colour), over the shade.
    pub fill: Option<&'static str>,
    /// Where clicking the grid leads, if anywhere.
    pub href: Option<String>,
}

/// A point marked on the map.
pub struct Marker {
    pub lon: f64,
    pub lat: f64,
    pub label: String,
    /// Where selecting the marker leads (a case's page), if anywhere.
    pub href: Option<String>,
}

const WIDTH: f64 = 640.0;

/// The grids as an SVG map. The projection is equirectangular, corrected for latitude, which
/// is faithful at the scale of a district; `data-*` attributes carry it so that a script can
/// turn a click into longitude and latitude.
/// What a map says around its picture: its title (for screen readers) and a legend, each
/// entry a swatch (`outline`, `shade-low`, `shade-high`, `marker`, `link`) and its meaning.
pub struct MapText<'a> {
    pub title: &'a str,
    pub legend: Vec<(&'static str, String)>,
    /// The text of the link that skips the map's grid and case links (keyboard users need not
    /// tab through dozens of them); shown only when the map has links.
    pub skip: Option<String>,
}

/// The grid's label on the map: its name without the community's, which the community label
/// already says (南联社区第3网格 → 第3网格).
fn short_name<'a>(g: &MapGrid<'a>) -> &'a str {
    g.community
        .and_then(|c| g.name.strip_prefix(c))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(g.name)
}

type Bounds = (f64, f64, f64, f64);

/// The grids as an SVG map with grid and community names, followed by its legend.
pub fn grid_map(grids: &[MapGrid<'_>], markers: &[Marker], text: &MapText<'_>) -> String {
    let links = grids.iter().any(|g| g.href.is_some()) || markers.iter().any(|m| m.href.is_some());
    let skip = text.skip.as_deref().filter(|_| links);
    let mut out = String::new();
    if let Some(skip) = skip {
        let _ = write!(
            out,
            "<a class=\"skip-map\" href=\"#after-map\">{}</a>",
            esc(skip)
        );
    }
    out.push_str(&grid_svg(grids, markers, text.title));
    if !text.legend.is_empty() {
        out.push_str("<ul class=\"map-legend\">");
        for (swatch, meaning) in &text.legend {
            let _ = write!(
                out,
                "<li><span class=\"swatch swatch-{swatch}\" aria-hidden=\"true\"></span>{}</li>",
                esc(meaning)
            );
        }
        out.push_str("</ul>");
    }
    if skip.is_some() {
        out.push_str("<span id=\"after-map\" tabindex=\"-1\"></span>");
    }
    out
}

fn grid_svg(grids: &[MapGrid<'_>], markers: &[Marker], title: &str) -> String {
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    for g in grids {
        if let Some(r) = g.geometry.bounding_rect() {
            let b = bounds.get_or_insert((r.min().x, r.min().y, r.max().x, r.max().y));
            b.0 = b.0.min(r.min().x);
            b.1 = b.1.min(r.min().y);
            b.2 = b.2.max(r.max().x);
            b.3 = b.3.max(r.max().y);
        }
    }
    let Some((min_lon, min_lat, max_lon, max_lat)) = bounds else {
        return format!(
            "<svg class=\"map\" role=\"img\" viewBox=\"0 0 {WIDTH} 40\"><title>{}</title></svg>",
            esc(title)
        );
    };
    let k = ((min_lat + max_lat) / 2.0).to_radians().cos();
    let span_x = ((max_lon - min_lon) * k).max(1e-9);
    let span_y = (max_lat - min_lat).max(1e-9);
    let scale = WIDTH / span_x;
    let height = (span_y * scale).ceil().max(40.0);
    let px = |lon: f64, lat: f64| ((lon - min_lon) * k * scale, (max_lat - lat) * scale);
    let mut out = String::new();
    // With links inside, the map is a group of links (a screen reader lists them); without,
    // one picture.
    let role = if grids.iter().any(|g| g.href.is_some()) || markers.iter().any(|m| m.href.is_some())
    {
        format!("role=\"group\" aria-label=\"{}\"", esc(title))
    } else {
        "role=\"img\"".to_owned()
    };
    let _ = write!(
        out,
        "<svg class=\"map\" {role} viewBox=\"0 0 {WIDTH} {height:.0}\" data-min-lon=\"{min_lon}\" data-max-lat=\"{max_lat}\" data-k=\"{k}\" data-scale=\"{scale}\"><title>{}</title>",
        esc(title)
    );
    let mut labels = String::new();
    // Each community's name and the bounds of its grids (min lon, min lat, max lon, max lat).
    let mut communities: Vec<(&str, Bounds)> = Vec::new();
    for g in grids {
        let mut d = String::new();
        for poly in g.geometry {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for (i, c) in ring.coords().enumerate() {
                    let (x, y) = px(c.x, c.y);
                    let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                }
                d.push('Z');
            }
        }
        let fill = match (g.fill, g.shade) {
            (Some(f), _) => f.to_owned(),
            (None, shade) => match shade {
                Some(s) => {
                    let s = s.clamp(0.0, 1.0);
                    // From pale to deep red as the load grows.
                    let light = 92.0 - 50.0 * s;
                    format!("hsl(8, 75%, {light:.0}%)")
                }
                None => "#eef3f8".to_owned(),
            },
        };
        let label = match g.community {
            Some(c) if !g.name.starts_with(c) => format!("{} · {c} {}", g.name, g.note),
            _ => format!("{} {}", g.name, g.note),
        };
        if let Some(r) = g.geometry.bounding_rect() {
            let (x, y) = px((r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0);
            let _ = write!(
                labels,
                "<text class=\"grid-label\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" aria-hidden=\"true\">{}</text>",
                esc(short_name(g))
            );
            if let Some(c) = g.community {
                let b = (r.min().x, r.min().y, r.max().x, r.max().y);
                match communities.iter_mut().find(|(name, _)| *name == c) {
                    Some((_, e)) => {
                        *e = (e.0.min(b.0), e.1.min(b.1), e.2.max(b.2), e.3.max(b.3));
                    }
                    None => communities.push((c, b)),
                }
            }
        }
        let path = format!(
            "<path d=\"{d}\" fill=\"{fill}\" stroke=\"#44617b\" stroke-width=\"0.8\" data-grid=\"{}\"><title>{}</title></path>",
            esc(g.code),
            esc(label.trim())
        );
        match &g.href {
            Some(h) => {
                let _ = write!(
                    out,
                    "<a href=\"{}\" aria-label=\"{}\">{path}</a>",
                    esc(h),
                    esc(label.trim())
                );
            }
            None => out.push_str(&path),
        }
    }
    out.push_str(&labels);
    for (name, b) in &communities {
        let (x, y) = px((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0);
        let _ = write!(
            out,
            "<text class=\"community-label\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" aria-hidden=\"true\">{}</text>",
            esc(name)
        );
    }
    for m in markers {
        let (x, y) = px(m.lon, m.lat);
        let dot = format!(
            "<circle class=\"marker\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"#0b5cad\" stroke=\"#fff\" stroke-width=\"1.5\"><title>{}</title></circle>",
            esc(&m.label)
        );
        match &m.href {
            Some(h) => {
                let _ = write!(
                    out,
                    "<a href=\"{}\" aria-label=\"{}\">{dot}</a>",
                    esc(h),
                    esc(&m.label)
                );
            }
            None => out.push_str(&dot),
        }
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per (label, value), scaled to the largest.
pub fn bar_chart(title: &str, rows: &[(String, f64)], unit: &str) -> String {
    let row_h = 26.0;
    let label_w = 220.0;
    let bar_w = WIDTH - label_w - 70.0;
    let height = (rows.len() as f64 * row_h + 10.0).max(30.0);
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1e-9);
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {height:.0}\"><title>{}</title>",
        esc(title)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let w = bar_w * value / max;
        let _ = write!(
            out,
            "<text x=\"{x:.0}\" y=\"{ty:.0}\" text-anchor=\"end\" font-size=\"16\">{label}</text><rect x=\"{label_w}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{h:.0}\" fill=\"#2f6f9f\"><title>{label}: {v}{unit}</title></rect><text x=\"{vx:.1}\" y=\"{ty:.0}\" font-size=\"16\">{v}{unit}</text>",
            x = label_w - 6.0,
            ty = y + 14.0,
            h = row_h - 6.0,
            vx = label_w + w + 4.0,
            label = esc(label),
            v = trim_number(*value),
            unit = esc(unit),
        );
    }
    out.push_str("</svg>");
    out
}

/// What a line chart says besides its lines: its title, what each axis measures, and whether
/// the last period is still running (then drawn dashed and labelled as partial).
pub struct ChartText<'a> {
    pub title: &'a str,
    pub x_axis: &'a str,
    pub y_axis: &'a str,
    /// The label of the last period when it is not over yet ("本月（截至今日）").
    pub partial: Option<&'a str>,
}

/// Lines over labelled periods, one per series, scaled to the largest value. Text is 16 units
/// high: the chart is drawn at least 480 px wide (see app.css), so text is never under 12 px.
pub fn line_chart(
    text: &ChartText<'_>,
    x_labels: &[String],
    series: &[(String, Vec<f64>)],
) -> String {
    let (w, h, left, bottom) = (WIDTH, 280.0, 64.0, 58.0);
    let plot_w = w - left - 16.0;
    let plot_h = h - bottom - 40.0;
    let top = 40.0;
    let max = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let n = x_labels.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + plot_w * i as f64 / n;
    let y = |v: f64| top + plot_h * (1.0 - v / max);
    // Colours with at least 3:1 contrast on white.
    let colours = ["#1f5f8b", "#b03a2e", "#1e7a44", "#7d3c98"];
    let b = top + plot_h;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {h}\" font-size=\"16\"><title>{}</title>",
        esc(text.title)
    );
    // Axes, their scale and what they measure.
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#555\"/><line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#555\"/>\
         <text x=\"{lx}\" y=\"{ty:.0}\" text-anchor=\"end\">{}</text><text x=\"{lx}\" y=\"{b:.0}\" text-anchor=\"end\">0</text>\
         <text x=\"16\" y=\"{my:.0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {my:.0})\">{}</text>\
         <text x=\"{mx:.0}\" y=\"{h:.0}\" dy=\"-4\" text-anchor=\"middle\">{}</text>",
        trim_number(max),
        esc(text.y_axis),
        esc(text.x_axis),
        r = left + plot_w,
        lx = left - 6.0,
        ty = top + 5.0,
        my = top + plot_h / 2.0,
        mx = left + plot_w / 2.0,
    );
    let last = x_labels.len().saturating_sub(1);
    for (i, label) in x_labels.iter().enumerate() {
        // The first and last labels lean inwards so that they stay inside the picture.
        let anchor = match i {
            0 => "start",
            i if i == last => "end",
            _ => "middle",
        };
        let shown = match text.partial {
            Some(p) if i == last => p.to_owned(),
            _ => label.clone(),
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"{anchor}\">{}</text>",
            x(i),
            b + 22.0,
            esc(&shown)
        );
    }
    for (si, (name, values)) in series.iter().enumerate() {
        let colour = colours[si % colours.len()];
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (x(i), y(*v)))
            .collect();
        let line = |pts: &[(f64, f64)]| {
            pts.iter()
                .map(|(a, b)| format!("{a:.1},{b:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // A running period is not over: its segment is dashed, not a fall.
        let (whole, running) = match (text.partial, points.len()) {
            (Some(_), n) if n >= 2 => (&points[..n - 1], Some(&points[n - 2..])),
            _ => (&points[..], None),
        };
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" points=\"{}\"><title>{}</title></polyline>",
            line(whole),
            esc(name)
        );
        if let Some(tail) = running {
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" stroke-dasharray=\"6 4\" points=\"{}\"/>",
                line(tail)
            );
        }
        let _ = write!(
            out,
            "<rect x=\"{lx:.0}\" y=\"10\" width=\"14\" height=\"14\" fill=\"{colour}\"/><text x=\"{tx:.0}\" y=\"23\" fill=\"#222\">{}</text>",
            esc(name),
            lx = left + 150.0 * si as f64,
            tx = left + 20.0 + 150.0 * si as f64,
        );
    }
    out.push_str("</svg>");
    out
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (x, y),
                (x + 0.01, y),
                (x + 0.01, y + 0.01),
                (x, y + 0.01),
                (x, y),
            ]),
            vec![],
        )])
    }

    #[test]
    fn the_map_links_each_grid_and_escapes_names() {
        let a = square(113.90, 22.50);
        let b = square(113.91, 22.50);
        let grids = [
            MapGrid {
                fill: None,
                code: "440305001001001",
                name: "安乐<一>",
                community: Some("安乐"),
                geometry: &a,
                shade: Some(1.0),
                note: "3".into(),
                href: Some("/report?grid=440305001001001&x=1".into()),
            },
            MapGrid {
                fill: None,
                code: "440305001001002",
                name: "安乐二",
                community: Some("安乐"),
                geometry: &b,
                shade: None,
                note: String::new(),
                href: None,
            },
        ];
        let svg = grid_map(
            &grids,
            &[Marker {
                lon: 113.905,
                lat: 22.505,
                label: "A&B".into(),
                href: None,
            }],
            &MapText {
                title: "网格",
                legend: vec![("outline", "网格边界".into())],
                skip: Some("跳过地图".into()),
            },
        );
        // Keyboard users can skip the grid links.
        assert!(svg.starts_with("<a class=\"skip-map\" href=\"#after-map\">跳过地图</a><svg"));
        assert!(svg.ends_with("</ul><span id=\"after-map\" tabindex=\"-1\"></span>"));
        // A map with links is a group of links, each named without its code.
        assert!(svg.contains("role=\"group\" aria-label=\"网格\""));
        assert!(svg.contains("aria-label=\"安乐&lt;一&gt; 3\""), "{svg}");
        assert!(!svg.contains(">440305001001001<") && !svg.contains("label=\"440305"));
        // Grids by their short name, the community once, and the legend.
        assert!(svg.contains(">&lt;一&gt;</text>") && svg.contains(">二</text>"));
        assert_eq!(svg.matches("class=\"community-label\"").count(), 1);
        assert!(svg.contains(
            "<li><span class=\"swatch swatch-outline\" aria-hidden=\"true\"></span>网格边界</li>"
        ));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("href=\"/report?grid=440305001001001&amp;x=1\""));
        assert!(svg.contains("安乐&lt;一&gt;"));
        assert!(!svg.contains("安乐<一>"));
        assert!(svg.contains("A&amp;B"));
        // The left grid starts at x = 0, the right one at the middle.
        assert!(svg.contains("d=\"M0.0,"));
        assert!(svg.contains("M320.0,"));
    }

    #[test]
    fn charts_scale_to_the_largest_value() {
        let svg = bar_chart("负载", &[("甲".into(), 10.0), ("乙".into(), 5.0)], "件");
        assert!(svg.contains("width=\"350.0\""), "{svg}");
        assert!(svg.contains("width=\"175.0\""));
        let text = ChartText {
            title: "趋势",
            x_axis: "月份",
            y_axis: "件数",
            partial: Some("2月（截至今日）"),
        };
        let line = line_chart(
            &text,
            &["1月".into(), "2月".into(), "3月".into()],
            &[("受理".into(), vec![1.0, 2.0, 1.0])],
        );
        assert!(line.contains("<polyline"));
        assert!(line.contains("1月") && line.contains(">月份<") && line.contains(">件数<"));
        // The running period is labelled as such and drawn dashed.
        assert!(line.contains("2月（截至今日）") && !line.contains(">3月<"));
        assert!(line.contains("stroke-dasharray"));
        assert!(line.contains("font-size=\"16\""));
    }
}

//! Line charts with markers, rendered to SVG (written as text) and PNG (rasterised here with a
//! bitmap font and encoded with the `png` crate), from one [`Chart`] model so both files show
//! the same thing: title, axes with date and value ticks, axis labels, legend.
use crate::{Error, Result, font};
use cairn_market::time::{DAY_MS, civil_from_days, days_from_civil};
use std::{fmt::Write as _, path::Path};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Colours used by the reports.
pub mod colors {
    use super::Rgb;
    /// Blue (the strategy).
    pub const BLUE: Rgb = [31, 119, 180];
    /// Orange (plain DCA).
    pub const ORANGE: Rgb = [255, 127, 14];
    /// Green (buys, lump sum).
    pub const GREEN: Rgb = [44, 160, 44];
    /// Red (drawdown, pauses).
    pub const RED: Rgb = [214, 39, 40];
    /// Grey (invested).
    pub const GREY: Rgb = [127, 127, 127];
}

/// How the y axis labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YFormat {
    /// Plain numbers with k/M suffixes.
    Number,
    /// Fractions as percentages.
    Percent,
}

/// A polyline.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// Colour.
    pub color: Rgb,
    /// `(time ms, value)` points in time order.
    pub points: Vec<(i64, f64)>,
}

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Upward triangle (a buy).
    Up,
    /// Small cross (a skip or pause).
    Cross,
}

/// A group of markers sharing a legend entry.
#[derive(Debug, Clone)]
pub struct Markers {
    /// Legend text.
    pub name: String,
    /// Colour.
    pub color: Rgb,
    /// Shape.
    pub shape: Shape,
    /// `(time ms, value)` positions.
    pub points: Vec<(i64, f64)>,
}

/// A chart over time.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// Y tick format.
    pub y_format: YFormat,
    /// Logarithmic y axis (non-positive values are not drawn).
    pub log_y: bool,
    /// Lines.
    pub lines: Vec<Line>,
    /// Markers.
    pub markers: Vec<Markers>,
}

/// Pixel size of rendered charts.
pub const WIDTH: usize = 1000;
/// Pixel height of rendered charts.
pub const HEIGHT: usize = 560;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 24.0;
/// Room above the plot for the title and, below it, the legend (one row, outside the data).
const TOP: f64 = 66.0;
/// Baseline of the legend row.
const LEGEND_Y: f64 = 50.0;
/// Legend text advance per character (the SVG font at 12 px is narrower than this; the PNG
/// font is 6 px).
const LEGEND_CHAR: f64 = 7.0;
const BOTTOM: f64 = 58.0;

struct Frame {
    log_y: bool,
    x0: i64,
    x1: i64,
    y0: f64,
    y1: f64,
    y_ticks: Vec<f64>,
    x_ticks: Vec<(i64, String)>,
}

impl Frame {
    fn px(&self, x: i64) -> f64 {
        LEFT + (x - self.x0) as f64 / (self.x1 - self.x0).max(1) as f64
            * (WIDTH as f64 - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        let y = if self.log_y { y.log10() } else { y };
        TOP + (self.y1 - y) / (self.y1 - self.y0) * (HEIGHT as f64 - TOP - BOTTOM)
    }
}

fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn frame(chart: &Chart) -> Frame {
    let log_y = chart.log_y;
    let all = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter())
        .chain(chart.markers.iter().flat_map(|m| m.points.iter()))
        .filter(|p| p.1.is_finite() && (!log_y || p.1 > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (i64::MAX, i64::MIN, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all {
        let y = if log_y { y.log10() } else { y };
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0, DAY_MS, 0.0, 1.0);
    }
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let mut y_ticks = Vec::new();
    let (y0, y1) = if log_y {
        // Ticks at 1, 2, 5 x 10^k (only 10^k when the range spans many decades); the frame
        // is the data range, so the axis is not stretched to whole decades.
        let mults: &[f64] = if y1 - y0 > 5.0 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        for k in (y0.floor() as i32)..=(y1.ceil() as i32) {
            for m in mults {
                let v = m * 10f64.powi(k);
                if v.log10() >= y0 - 1e-9 && v.log10() <= y1 + 1e-9 {
                    y_ticks.push(v);
                }
            }
        }
        if y_ticks.len() < 4 {
            // A narrow range (less than a decade) holds one or two 1-2-5 ticks: label it with
            // evenly spaced round values instead, which a log axis shows just as well.
            let (v0, v1) = (10f64.powf(y0), 10f64.powf(y1));
            let step = nice_step(v1 - v0, 8);
            y_ticks.clear();
            let mut v = (v0 / step).ceil() * step;
            while v <= v1 * (1.0 + 1e-9) {
                if v > 0.0 {
                    y_ticks.push(v);
                }
                v += step;
            }
        }
        let pad = (y1 - y0) * 0.03;
        (y0 - pad, y1 + pad)
    } else {
        let step = nice_step(y1 - y0, 6);
        let (y0, y1) = ((y0 / step).floor() * step, (y1 / step).ceil() * step);
        let mut v = y0;
        while v <= y1 + step * 1e-9 {
            y_ticks.push(v);
            v += step;
        }
        (y0, y1)
    };
    Frame {
        log_y,
        x0,
        x1,
        y0,
        y1,
        y_ticks,
        x_ticks: date_ticks(x0, x1),
    }
}

fn date_ticks(x0: i64, x1: i64) -> Vec<(i64, String)> {
    let (ya, ma, _) = civil_from_days(x0.div_euclid(DAY_MS));
    let (yb, _, _) = civil_from_days(x1.div_euclid(DAY_MS));
    let span_days = (x1 - x0) / DAY_MS;
    let mut out = Vec::new();
    if span_days > 3 * 365 {
        let every = ((yb - ya) / 10 + 1).max(1);
        for y in (ya + 1..=yb).step_by(every as usize) {
            out.push((days_from_civil(y, 1, 1) * DAY_MS, format!("{y}")));
        }
    } else {
        let months = ((span_days / 30) / 10 + 1).max(1) as u32;
        let (mut y, mut m) = (ya, ma);
        loop {
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
            let t = days_from_civil(y, m, 1) * DAY_MS;
            if t > x1 {
                break;
            }
            if (m - 1) % months == 0 {
                out.push((t, format!("{y}-{m:02}")));
            }
        }
    }
    out
}

/// Formats a tick value.
pub fn fmt_value(v: f64, f: YFormat) -> String {
    match f {
        YFormat::Percent => format!("{:.0}%", v * 100.0),
        YFormat::Number => {
            let a = v.abs();
            if a >= 1e9 {
                format!("{:.1}B", v / 1e9)
            } else if a >= 1e6 {
                format!("{:.1}M", v / 1e6)
            } else if a >= 1e4 {
                format!("{:.0}k", v / 1e3)
            } else if a >= 100.0 || a == 0.0 {
                format!("{v:.0}")
            } else if a >= 1.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.3}")
            }
        }
    }
}

/// Keeps a line's shape at chart resolution: per horizontal pixel, the first, min, max and last
/// point (so spikes survive), keeping SVG files small for 18,000-bar series.
fn decimate(points: &[(i64, f64)], fr: &Frame) -> Vec<(i64, f64)> {
    if points.len() <= 4 * WIDTH {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(4 * WIDTH);
    let mut i = 0;
    while i < points.len() {
        let col = fr.px(points[i].0) as i64;
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && fr.px(points[j].0) as i64 == col {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut idx = [i, lo, hi, j - 1];
        idx.sort_unstable();
        for (k, &p) in idx.iter().enumerate() {
            if k == 0 || p != idx[k - 1] {
                out.push(points[p]);
            }
        }
        i = j;
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

impl Chart {
    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        let fr = frame(self);
        let (w, h) = (WIDTH as f64, HEIGHT as f64);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="28" font-size="18" font-weight="bold">{}</text>"#,
            esc(&self.title)
        );
        for &v in &fr.y_ticks {
            let y = fr.py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                w - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&fmt_value(v, self.y_format))
            );
        }
        for (t, label) in &fr.x_ticks {
            let x = fr.px(*t);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                h - BOTTOM,
                h - BOTTOM + 18.0,
                esc(label)
            );
        }
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
            w - LEFT - RIGHT,
            h - TOP - BOTTOM
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">date (UTC)</text>"#,
            LEFT + (w - LEFT - RIGHT) / 2.0,
            h - 14.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + (h - TOP - BOTTOM) / 2.0,
            esc(&self.y_label)
        );
        for l in &self.lines {
            let mut d = String::new();
            let mut first = true;
            for &(x, y) in &decimate(&l.points, &fr) {
                if !y.is_finite() || (fr.log_y && y <= 0.0) {
                    first = true;
                    continue;
                }
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if first { "M" } else { "L" },
                    fr.px(x),
                    fr.py(y)
                );
                first = false;
            }
            let _ = writeln!(
                s,
                r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
                d.trim_end(),
                hex(l.color)
            );
        }
        for m in &self.markers {
            let c = hex(m.color);
            for &(x, y) in &m.points {
                let (px, py) = (fr.px(x), fr.py(y));
                match m.shape {
                    Shape::Up => {
                        let _ = writeln!(
                            s,
                            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{c}" fill-opacity="0.7"/>"#,
                            px,
                            py - 4.0,
                            px - 3.5,
                            py + 3.0,
                            px + 3.5,
                            py + 3.0
                        );
                    }
                    Shape::Cross => {
                        let _ = writeln!(
                            s,
                            r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{c}" stroke-width="1.5"/>"#,
                            px - 3.0,
                            py - 3.0,
                            px + 3.0,
                            py + 3.0,
                            px - 3.0,
                            py + 3.0,
                            px + 3.0,
                            py - 3.0
                        );
                    }
                }
            }
        }
        // Legend: one row between the title and the plot, so it never covers data.
        for (x, name, color) in self.legend_layout() {
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="18" height="4" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                LEGEND_Y - 4.0,
                hex(color),
                x + 24.0,
                LEGEND_Y + 1.0,
                esc(&name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// Legend entries with their x positions, left to right from the plot's left edge.
    fn legend_layout(&self) -> Vec<(f64, String, Rgb)> {
        let mut x = LEFT;
        self.legend()
            .into_iter()
            .map(|(name, color)| {
                let at = x;
                x += 24.0 + name.chars().count() as f64 * LEGEND_CHAR + 18.0;
                (at, name, color)
            })
            .collect()
    }

    fn legend(&self) -> Vec<(String, Rgb)> {
        self.lines
            .iter()
            .map(|l| (l.name.clone(), l.color))
            .chain(
                self.markers
                    .iter()
                    .filter(|m| !m.points.is_empty())
                    .map(|m| (m.name.clone(), m.color)),
            )
            .collect()
    }

    /// The chart as an RGB raster.
    pub fn to_canvas(&self) -> Canvas {
        let fr = frame(self);
        let mut c = Canvas::new(WIDTH, HEIGHT);
        let (w, h) = (WIDTH as f64, HEIGHT as f64);
        let grid = [224, 224, 224];
        let black = [0, 0, 0];
        c.text(LEFT as i64, 14, &self.title, 2, black);
        for &v in &fr.y_ticks {
            let y = fr.py(v);
            c.line(LEFT, y, w - RIGHT, y, grid, 1);
            let label = fmt_value(v, self.y_format);
            let tw = font::text_width(&label, 1) as i64;
            c.text(LEFT as i64 - 6 - tw, y as i64 - 3, &label, 1, black);
        }
        for (t, label) in &fr.x_ticks {
            let x = fr.px(*t);
            c.line(x, TOP, x, h - BOTTOM, grid, 1);
            let tw = font::text_width(label, 1) as i64;
            c.text(x as i64 - tw / 2, (h - BOTTOM) as i64 + 8, label, 1, black);
        }
        c.rect_outline(LEFT, TOP, w - RIGHT, h - BOTTOM, black);
        let xl = "DATE (UTC)";
        c.text(
            (LEFT + (w - LEFT - RIGHT) / 2.0) as i64 - font::text_width(xl, 1) as i64 / 2,
            h as i64 - 20,
            xl,
            1,
            black,
        );
        c.text_vertical(
            10,
            (TOP + (h - TOP - BOTTOM) / 2.0) as i64,
            &self.y_label,
            black,
        );
        for l in &self.lines {
            let mut prev: Option<(f64, f64)> = None;
            for &(x, y) in &l.points {
                if !y.is_finite() || (fr.log_y && y <= 0.0) {
                    prev = None;
                    continue;
                }
                let p = (fr.px(x), fr.py(y));
                if let Some(q) = prev {
                    c.line(q.0, q.1, p.0, p.1, l.color, 2);
                }
                prev = Some(p);
            }
        }
        for m in &self.markers {
            for &(x, y) in &m.points {
                let (px, py) = (fr.px(x) as i64, fr.py(y) as i64);
                match m.shape {
                    Shape::Up => {
                        for dy in 0..6i64 {
                            for dx in -dy / 2 - 1..=dy / 2 + 1 {
                                c.put(px + dx, py - 3 + dy, m.color);
                            }
                        }
                    }
                    Shape::Cross => {
                        for d in -3..=3i64 {
                            c.put(px + d, py + d, m.color);
                            c.put(px + d, py - d, m.color);
                        }
                    }
                }
            }
        }
        let ly = LEGEND_Y as i64 - 6;
        for (x, name, color) in self.legend_layout() {
            c.fill_rect(x as i64, ly + 1, 18, 4, color);
            c.text(x as i64 + 24, ly, &name, 1, black);
        }
        c
    }

    /// Writes `<stem>.svg` and `<stem>.png`; returns both paths.
    pub fn write(&self, stem: &Path) -> Result<[std::path::PathBuf; 2]> {
        let svg = stem.with_extension("svg");
        std::fs::write(&svg, self.to_svg()).map_err(|source| Error::Io {
            path: svg.clone(),
            source,
        })?;
        let png = stem.with_extension("png");
        self.to_canvas().write_png(&png)?;
        Ok([svg, png])
    }
}

/// An RGB raster with the few drawing operations charts need.
#[derive(Debug, Clone)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major RGB bytes.
    pub pixels: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![255; width * height * 3],
        }
    }

    /// Colour of a pixel (white outside).
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        if x >= self.width || y >= self.height {
            return [255; 3];
        }
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        self.pixels[i..i + 3].copy_from_slice(&c);
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    fn rect_outline(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        self.line(x0, y0, x1, y0, c, 1);
        self.line(x1, y0, x1, y1, c, 1);
        self.line(x1, y1, x0, y1, c, 1);
        self.line(x0, y1, x0, y0, c, 1);
    }

    /// A line of `width` pixels (Bresenham with a square pen).
    fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb, width: i64) {
        let (mut x, mut y) = (x0.round() as i64, y0.round() as i64);
        let (xe, ye) = (x1.round() as i64, y1.round() as i64);
        let dx = (xe - x).abs();
        let dy = -(ye - y).abs();
        let sx = if x < xe { 1 } else { -1 };
        let sy = if y < ye { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            for oy in 0..width {
                for ox in 0..width {
                    self.put(x + ox, y + oy, c);
                }
            }
            if x == xe && y == ye {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: Rgb) {
        for (k, ch) in text.chars().enumerate() {
            let g = font::glyph(ch);
            let gx = x + k as i64 * 6 * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.fill_rect(gx + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Text rotated 90° counter-clockwise, centred vertically on `cy`.
    fn text_vertical(&mut self, x: i64, cy: i64, text: &str, c: Rgb) {
        let len = font::text_width(text, 1) as i64;
        let y_start = cy + len / 2;
        for (k, ch) in text.chars().enumerate() {
            let g = font::glyph(ch);
            let gy = y_start - k as i64 * 6;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.put(x + row as i64, gy - col, c);
                    }
                }
            }
        }
    }

    /// Encodes the canvas as PNG bytes.
    pub fn to_png(&self) -> std::result::Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut buf, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().map_err(|e| e.to_string())?;
            w.write_image_data(&self.pixels)
                .map_err(|e| e.to_string())?;
        }
        Ok(buf)
    }

    /// Writes the canvas as a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let bytes = self.to_png().map_err(|detail| Error::Png {
            path: path.to_path_buf(),
            detail,
        })?;
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        let d = |i: i64| days_from_civil(2020, 1, 1) * DAY_MS + i * DAY_MS;
        Chart {
            title: "Equity <test>".into(),
            y_label: "value".into(),
            y_format: YFormat::Number,
            log_y: false,
            lines: vec![Line {
                name: "strategy".into(),
                color: colors::BLUE,
                points: (0..800).map(|i| (d(i), 100.0 + i as f64)).collect(),
            }],
            markers: vec![Markers {
                name: "buy".into(),
                color: colors::GREEN,
                shape: Shape::Up,
                points: vec![(d(10), 110.0)],
            }],
        }
    }

    #[test]
    fn svg_has_axes_labels_and_escaped_title() {
        let s = chart().to_svg();
        assert!(s.starts_with("<svg"));
        assert!(s.contains("Equity &lt;test&gt;"));
        assert!(s.contains(">2021-01<") && s.contains(">2022-01<"), "{s}");
        assert!(s.contains("date (UTC)") && s.contains(">value<"));
        assert!(s.contains("strategy"));
    }

    #[test]
    fn png_draws_the_line_and_encodes() {
        let c = chart().to_canvas();
        let blue = (0..c.width)
            .flat_map(|x| (0..c.height).map(move |y| (x, y)))
            .filter(|&(x, y)| c.get(x, y) == colors::BLUE)
            .count();
        assert!(blue > 500, "{blue} blue pixels");
        let png = c.to_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn log_axis_ticks_decades() {
        let mut c = chart();
        c.log_y = true;
        c.lines[0].points = vec![(0, 3.0), (DAY_MS * 400, 40_000.0), (DAY_MS * 800, 0.0)];
        let fr = frame(&c);
        assert_eq!(
            fr.y_ticks,
            vec![
                5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0,
                20_000.0
            ]
        );
        assert!(fr.py(10.0) > fr.py(100.0));
        assert!(c.to_svg().contains(">10k<") || c.to_svg().contains(">20k<"));
    }

    #[test]
    fn legend_stays_out_of_the_plot() {
        // A line along the top-left corner, where the legend used to sit.
        let mut c = chart();
        c.lines[0].points = (0..800)
            .map(|i| {
                (
                    days_from_civil(2020, 1, 1) * DAY_MS + i * DAY_MS,
                    1000.0 - i as f64,
                )
            })
            .collect();
        let fr = frame(&c);
        const { assert!(LEGEND_Y < TOP - 6.0) };
        for (x, name, _) in c.legend_layout() {
            assert!(x + 24.0 + name.len() as f64 * LEGEND_CHAR < WIDTH as f64);
        }
        let canvas = c.to_canvas();
        let (x, y) = (
            fr.px(c.lines[0].points[10].0),
            fr.py(c.lines[0].points[10].1),
        );
        assert_eq!(canvas.get(x as usize, y as usize), colors::BLUE);
        // Nothing but the frame, grid and data inside the plot: no legend text pixels (black)
        // away from the frame's edges.
        let black = (LEFT as usize + 2..WIDTH - RIGHT as usize - 2)
            .flat_map(|x| (TOP as usize + 2..TOP as usize + 60).map(move |y| (x, y)))
            .filter(|&(x, y)| canvas.get(x, y) == [0, 0, 0])
            .count();
        assert_eq!(black, 0);
    }

    #[test]
    fn narrow_log_axis_gets_enough_labels() {
        let mut c = chart();
        c.log_y = true;
        c.lines[0].points = vec![(0, 31_000.0), (DAY_MS * 400, 69_000.0)];
        c.markers.clear();
        let fr = frame(&c);
        assert!(fr.y_ticks.len() >= 4, "{:?}", fr.y_ticks);
        assert!(
            fr.y_ticks
                .iter()
                .all(|&v| (31_000.0..=69_000.0).contains(&v))
        );
        let mut c = chart();
        c.log_y = true;
        c.lines[0].points = vec![(0, 0.0123), (DAY_MS * 400, 0.0151)];
        assert!(frame(&c).y_ticks.len() >= 4, "{:?}", frame(&c).y_ticks);
    }

    #[test]
    fn ticks_and_values() {
        assert_eq!(nice_step(97.0, 6), 20.0);
        assert_eq!(fmt_value(25_000.0, YFormat::Number), "25k");
        assert_eq!(fmt_value(-0.25, YFormat::Percent), "-25%");
    }
}

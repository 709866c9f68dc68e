//! Line charts with markers, drawn with `plotters` on its SVG and bitmap backends (the PNG
//! encoded with the `png` crate) from one [`Chart`] model, so both files show the same thing:
//! title, axes with date and value ticks, axis labels, legend. Cairn chooses the frame, the
//! ticks (dates; 1-2-5 decades or round values on log axes) and where the legend goes (above
//! the plot, never over data); plotters draws.
use crate::{Error, Result};
use cairn_market::time::{DAY_MS, civil_from_days, days_from_civil};
use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use std::{path::Path, sync::OnceLock};

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
/// Legend text advance per character (wider than a 12 px sans font's average).
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

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// The font PNG text is drawn with, registered once: `CAIRN_CHART_FONT`, else a common sans
/// TrueType font of the system. `false` when none is found: PNGs are then drawn without text
/// (the SVG, whose text the viewer renders, always has it).
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let candidates = std::env::var_os("CAIRN_CHART_FONT")
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain(FONT_PATHS.iter().map(std::path::PathBuf::from));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                // Registered for the life of the process (plotters keeps `&'static` bytes).
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                    let _ = plotters::style::register_font(FONT, FontStyle::Bold, bytes);
                    return true;
                }
            }
        }
        false
    })
}

/// The family name charts use (in SVG, a viewer's sans-serif).
const FONT: &str = "sans-serif";

/// Where PNG text looks for a font (Debian's fonts-dejavu-core, Liberation, others' paths).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

type Drawn<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

impl Chart {
    /// Draws the chart on `root` (a `WIDTH × HEIGHT` area) with plotters' elements; `text`
    /// draws the title, tick labels, axis labels and legend names.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, text: bool) -> Drawn<DB> {
        let fr = frame(self);
        let (w, h) = (WIDTH as f64, HEIGHT as f64);
        let at = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
        let grid = ShapeStyle::from(&RGBColor(224, 224, 224)).stroke_width(1);
        // plotters' sizes are points: 15 and 22 make 12 px and 18 px text.
        let label = TextStyle::from((FONT, 15).into_font()).color(&BLACK);
        root.fill(&WHITE)?;
        for &v in &fr.y_ticks {
            let y = fr.py(v);
            root.draw(&PathElement::new(vec![at(LEFT, y), at(w - RIGHT, y)], grid))?;
            if text {
                root.draw(&Text::new(
                    fmt_value(v, self.y_format),
                    at(LEFT - 6.0, y),
                    label.pos(Pos::new(HPos::Right, VPos::Center)),
                ))?;
            }
        }
        for (t, name) in &fr.x_ticks {
            let x = fr.px(*t);
            root.draw(&PathElement::new(vec![at(x, TOP), at(x, h - BOTTOM)], grid))?;
            if text {
                root.draw(&Text::new(
                    name.clone(),
                    at(x, h - BOTTOM + 6.0),
                    label.pos(Pos::new(HPos::Center, VPos::Top)),
                ))?;
            }
        }
        root.draw(&Rectangle::new(
            [at(LEFT, TOP), at(w - RIGHT, h - BOTTOM)],
            ShapeStyle::from(&BLACK).stroke_width(1),
        ))?;
        if text {
            root.draw(&Text::new(
                self.title.clone(),
                at(LEFT, 12.0),
                TextStyle::from((FONT, 22, FontStyle::Bold).into_font()).color(&BLACK),
            ))?;
            root.draw(&Text::new(
                "date (UTC)",
                at(LEFT + (w - LEFT - RIGHT) / 2.0, h - 8.0),
                label.pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))?;
            root.draw(&Text::new(
                self.y_label.clone(),
                at(12.0, TOP + (h - TOP - BOTTOM) / 2.0),
                label
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        for l in &self.lines {
            let style = ShapeStyle::from(&rgb(l.color)).stroke_width(2);
            // A gap (a non-finite value, or a non-positive one on a log axis) splits the line.
            let mut run: Vec<(i32, i32)> = Vec::new();
            for &(x, y) in &decimate(&l.points, &fr) {
                if !y.is_finite() || (fr.log_y && y <= 0.0) {
                    if run.len() > 1 {
                        root.draw(&PathElement::new(std::mem::take(&mut run), style))?;
                    }
                    run.clear();
                    continue;
                }
                run.push(at(fr.px(x), fr.py(y)));
            }
            if run.len() > 1 {
                root.draw(&PathElement::new(run, style))?;
            }
        }
        for m in &self.markers {
            let color = rgb(m.color);
            for &(x, y) in &m.points {
                if !y.is_finite() || (fr.log_y && y <= 0.0) {
                    continue;
                }
                let (px, py) = (fr.px(x), fr.py(y));
                match m.shape {
                    Shape::Up => root.draw(&Polygon::new(
                        vec![
                            at(px, py - 4.0),
                            at(px - 3.5, py + 3.0),
                            at(px + 3.5, py + 3.0),
                        ],
                        color.mix(0.8).filled(),
                    ))?,
                    Shape::Cross => {
                        let pen = ShapeStyle::from(&color).stroke_width(2);
                        root.draw(&PathElement::new(
                            vec![at(px - 3.0, py - 3.0), at(px + 3.0, py + 3.0)],
                            pen,
                        ))?;
                        root.draw(&PathElement::new(
                            vec![at(px - 3.0, py + 3.0), at(px + 3.0, py - 3.0)],
                            pen,
                        ))?;
                    }
                }
            }
        }
        // Legend: one row between the title and the plot, so it never covers data.
        for (x, name, color) in self.legend_layout() {
            root.draw(&Rectangle::new(
                [at(x, LEGEND_Y - 4.0), at(x + 18.0, LEGEND_Y)],
                rgb(color).filled(),
            ))?;
            if text {
                root.draw(&Text::new(
                    name,
                    at(x + 24.0, LEGEND_Y - 2.0),
                    label.pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        root.present()
    }

    /// The chart as an SVG document (plotters' SVG backend; text left to the viewer's fonts).
    pub fn to_svg(&self) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH as u32, HEIGHT as u32))
                .into_drawing_area();
            // Writing to a string cannot fail.
            let _ = self.draw(&root, true);
        }
        out
    }

    /// The chart as an RGB raster (plotters' bitmap backend), with its text when a font is
    /// found (see [`Chart::write`]).
    pub fn to_canvas(&self) -> Canvas {
        let mut c = Canvas::new(WIDTH, HEIGHT);
        let text = font_ready();
        {
            let root = BitMapBackend::with_buffer(&mut c.pixels, (WIDTH as u32, HEIGHT as u32))
                .into_drawing_area();
            if self.draw(&root, text).is_err() && text {
                // A glyph the font cannot draw: the chart without its text beats no chart.
                let _ = self.draw(&root, false);
            }
        }
        c
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

    /// Writes `<stem>.svg` and `<stem>.png`; returns both paths. The PNG's text needs a
    /// TrueType font: `CAIRN_CHART_FONT`, or DejaVu Sans / Liberation Sans where the system
    /// keeps them; without one the PNG has the data, axes and legend colours only.
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

/// An RGB raster: what the bitmap backend draws into and the PNG encoder reads.
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
        // plotters writes each text element's content on a line of its own.
        let text = |t: &str| s.contains(&format!(">\n{t}\n</text>"));
        assert!(text("Equity &lt;test&gt;"), "{s}");
        assert!(text("2021-01") && text("2022-01"), "{s}");
        assert!(
            text("date (UTC)") && text("value") && text("strategy"),
            "{s}"
        );
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
    fn png_text_is_drawn_with_a_system_font_when_there_is_one() {
        let c = chart().to_canvas();
        // Dark pixels in the title's band (above the legend): the title's glyphs.
        let dark = (0..WIDTH)
            .flat_map(|x| (0..LEGEND_Y as usize - 12).map(move |y| (x, y)))
            .filter(|&(x, y)| c.get(x, y).iter().all(|&v| v < 100))
            .count();
        if font_ready() {
            assert!(dark > 100, "{dark} dark pixels in the title band");
        } else {
            assert_eq!(dark, 0);
        }
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
        let svg = c.to_svg();
        assert!(
            svg.contains(">\n10k\n<") && svg.contains(">\n20k\n<"),
            "{svg}"
        );
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

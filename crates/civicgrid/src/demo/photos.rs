//! Generated photos for demo cases: a "before" and an "after" picture of each handled case,
//! drawn from the case's category and seed, stamped with the date and time as a phone camera
//! does, and encoded as PNG. They are pictures of nothing real; they let the demo show the
//! photo evidence a real deployment carries on every handled case.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W: usize = 320;
const H: usize = 240;

type Rgb = [u8; 3];

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            px: vec![0; W * H * 3],
        }
    }

    fn set(&mut self, x: i32, y: i32, c: Rgb) {
        if (0..W as i32).contains(&x) && (0..H as i32).contains(&y) {
            let i = (y as usize * W + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: i32, y0: i32, w: i32, h: i32, c: Rgb) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.set(x, y, c);
            }
        }
    }

    fn ellipse(&mut self, cx: i32, cy: i32, rx: i32, ry: i32, c: Rgb) {
        for y in cy - ry..=cy + ry {
            for x in cx - rx..=cx + rx {
                let (dx, dy) = (
                    f64::from(x - cx) / f64::from(rx),
                    f64::from(y - cy) / f64::from(ry),
                );
                if dx * dx + dy * dy <= 1.0 {
                    self.set(x, y, c);
                }
            }
        }
    }

    /// Digits, `-` and `:` in a 3×5 font, `scale` pixels a dot: the camera's date stamp.
    fn stamp(&mut self, x0: i32, y0: i32, text: &str, scale: i32, c: Rgb) {
        let glyph = |ch: char| -> [u8; 5] {
            match ch {
                '0' => [7, 5, 5, 5, 7],
                '1' => [2, 6, 2, 2, 7],
                '2' => [7, 1, 7, 4, 7],
                '3' => [7, 1, 7, 1, 7],
                '4' => [5, 5, 7, 1, 1],
                '5' => [7, 4, 7, 1, 7],
                '6' => [7, 4, 7, 5, 7],
                '7' => [7, 1, 1, 1, 1],
                '8' => [7, 5, 7, 5, 7],
                '9' => [7, 5, 7, 1, 7],
                '-' => [0, 0, 7, 0, 0],
                ':' => [0, 2, 0, 2, 0],
                _ => [0; 5],
            }
        };
        let mut x = x0;
        for ch in text.chars() {
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) != 0 {
                        self.rect(x + col * scale, y0 + row as i32 * scale, scale, scale, c);
                    }
                }
            }
            x += 4 * scale;
        }
    }

    fn png(&self) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        }
        let mut raw = Vec::with_capacity((W * 3 + 1) * H);
        for row in self.px.chunks(W * 3) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        // Writing to a Vec cannot fail.
        let _ = z.write_all(&raw);
        let idat = z.finish().unwrap_or_default();
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(W as u32).to_be_bytes());
        ihdr.extend_from_slice(&(H as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// What the picture shows, by the category's major class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scene {
    /// Public facilities: a manhole, a lamp post, a hydrant (部件).
    Facility,
    /// Roads and traffic.
    Road,
    /// Rubbish, dirt, water.
    Litter,
    /// Greenery.
    Green,
    /// Signs, adverts, stalls, buildings: a wall.
    Wall,
}

fn scene_of(category: &str) -> Scene {
    match category.get(..2) {
        Some("01") => Scene::Facility,
        Some("02") | Some("07") | Some("08") => Scene::Road,
        Some("03") | Some("05") => Scene::Litter,
        Some("04") => Scene::Green,
        _ => Scene::Wall,
    }
}

/// A pair of photos of a case: before handling and after, as PNG. `stamp_before` and
/// `stamp_after` are the times shown, `YYYY-MM-DD HH:MM`.
pub fn before_and_after(
    seed: u64,
    category: &str,
    stamp_before: &str,
    stamp_after: &str,
) -> (Vec<u8>, Vec<u8>) {
    (
        picture(seed, category, false, stamp_before),
        picture(seed, category, true, stamp_after),
    )
}

fn picture(seed: u64, category: &str, fixed: bool, stamp: &str) -> Vec<u8> {
    // The same seed for both: the after picture is the same place, put right.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Canvas::new();
    let horizon = rng.random_range(60..100);
    let sky: Rgb = [
        rng.random_range(150..190),
        rng.random_range(185..215),
        rng.random_range(220..245),
    ];
    c.rect(0, 0, W as i32, horizon, sky);
    // Buildings along the horizon.
    let mut x = 0;
    while x < W as i32 {
        let w = rng.random_range(30..70);
        let h = rng.random_range(25..horizon);
        let shade = rng.random_range(150..215);
        c.rect(x, horizon - h, w - 4, h, [shade, shade - 10, shade - 25]);
        for wy in (horizon - h + 6..horizon - 4).step_by(10) {
            for wx in (x + 4..x + w - 8).step_by(9) {
                c.rect(wx, wy, 4, 5, [90, 110, 130]);
            }
        }
        x += w;
    }
    let scene = scene_of(category);
    let ground: Rgb = match scene {
        Scene::Green => [96, 150, 80],
        Scene::Wall => [196, 184, 160],
        _ => [118, 118, 122],
    };
    // The ground darkens towards the camera, a little.
    for y in horizon..H as i32 {
        let k = (y - horizon) / 12;
        let shade = |v: u8| v.saturating_sub(u8::try_from(k).unwrap_or(0) * 2);
        c.rect(
            0,
            y,
            W as i32,
            1,
            [shade(ground[0]), shade(ground[1]), shade(ground[2])],
        );
    }
    let (cx, cy) = (
        rng.random_range(110..210),
        rng.random_range(horizon + 60..H as i32 - 45),
    );
    match scene {
        Scene::Road => {
            // Lane markings, and a pothole or a fallen barrier.
            for lx in (0..W as i32).step_by(40) {
                c.rect(lx, horizon + 70, 24, 5, [235, 235, 225]);
            }
            if fixed {
                c.ellipse(cx, cy, 38, 14, [70, 70, 74]);
            } else {
                c.ellipse(cx, cy, 36, 13, [40, 34, 30]);
                c.ellipse(cx + 8, cy + 2, 16, 6, [92, 120, 150]);
            }
        }
        Scene::Facility => {
            if fixed {
                c.ellipse(cx, cy, 30, 12, [80, 80, 84]);
                c.ellipse(cx, cy, 24, 9, [110, 110, 116]);
            } else {
                c.ellipse(cx, cy, 30, 12, [20, 20, 22]);
                // A warning cone beside the open manhole.
                for i in 0..30 {
                    c.rect(
                        cx + 40 - i / 3,
                        cy - 30 + i,
                        2 * (i / 3) + 2,
                        1,
                        [240, 110, 20],
                    );
                }
                c.rect(cx + 33, cy - 16, 16, 4, [250, 250, 250]);
            }
        }
        Scene::Litter => {
            if !fixed {
                for _ in 0..14 {
                    let (dx, dy) = (rng.random_range(-45..45), rng.random_range(-14..14));
                    let colour: Rgb = [
                        rng.random_range(60..230),
                        rng.random_range(60..200),
                        rng.random_range(40..180),
                    ];
                    c.ellipse(
                        cx + dx,
                        cy + dy,
                        rng.random_range(6..16),
                        rng.random_range(4..10),
                        colour,
                    );
                }
            } else {
                // A bin where the pile was.
                c.rect(cx + 40, cy - 34, 22, 34, [40, 120, 70]);
            }
        }
        Scene::Green => {
            for tx in (20..W as i32).step_by(70) {
                c.rect(tx + 8, horizon + 20, 6, 40, [100, 70, 40]);
                c.ellipse(tx + 11, horizon + 14, 22, 18, [50, 120, 50]);
            }
            if !fixed {
                // A broken branch across the path.
                for i in 0..70 {
                    c.rect(cx - 35 + i, cy - i / 5, 4, 4, [110, 78, 44]);
                }
            }
        }
        Scene::Wall => {
            c.rect(0, horizon, W as i32, 80, [215, 205, 185]);
            if !fixed {
                for _ in 0..9 {
                    let (px, py) = (
                        rng.random_range(20..280),
                        rng.random_range(horizon + 5..horizon + 60),
                    );
                    c.rect(
                        px,
                        py,
                        rng.random_range(18..34),
                        rng.random_range(12..22),
                        [245, 245, 235],
                    );
                    c.rect(px + 3, py + 4, 10, 2, [200, 30, 30]);
                }
            }
        }
    }
    // The camera's stamp, lower right, in amber.
    let digits: String = stamp
        .chars()
        .filter(|ch| ch.is_ascii_digit() || *ch == '-' || *ch == ':' || *ch == ' ')
        .collect();
    let width = digits.chars().count() as i32 * 8;
    c.stamp(
        W as i32 - width - 8,
        H as i32 - 18,
        &digits,
        2,
        [255, 176, 32],
    );
    c.png()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_valid_pngs_differ_before_and_after_and_repeat_with_the_seed() {
        for category in ["01001", "02008", "05001", "04002", "06001", "12001"] {
            let (before, after) =
                before_and_after(7, category, "2026-10-12 09:31", "2026-10-13 15:02");
            for png in [&before, &after] {
                assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
                assert_eq!(&png[12..16], b"IHDR");
                assert_eq!(
                    u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
                    W as u32
                );
                assert!(
                    png.ends_with(&[0xAE, 0x42, 0x60, 0x82]),
                    "ends with IEND's CRC"
                );
                assert!(png.len() < 30_000, "{category}: {} bytes", png.len());
            }
            assert_ne!(before, after, "{category}");
            assert_eq!(
                before_and_after(7, category, "2026-10-12 09:31", "2026-10-13 15:02").0,
                before
            );
        }
    }

    #[test]
    fn the_deflate_stream_inflates_back_to_the_rows() {
        use std::io::Read;
        let png = picture(3, "01001", false, "2026-01-01 08:00");
        // IDAT follows IHDR (8 + 4 + 4 + 13 + 4 = 33 bytes in).
        let len = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .expect("inflates");
        assert_eq!(raw.len(), (W * 3 + 1) * H);
        assert!(raw.chunks(W * 3 + 1).all(|row| row[0] == 0));
    }
}

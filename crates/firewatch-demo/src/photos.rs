//! Report photos, drawn in code: a scorched phone, a swollen power bank, a melted charger, a
//! burnt bag, a cracked screen, a dented parcel. Small (200x150) PNG or JPEG files.

use crate::catalog::Category;
use firewatch_domain::{HazardCode as H, Modality};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};
use rand::Rng;
use std::f32::consts::TAU;

pub(crate) const W: u32 = 200;
pub(crate) const HT: u32 = 150;

/// What a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhotoKind {
    ScorchedPhone,
    SwollenPhone,
    ScorchedLaptop,
    SwollenPowerBank,
    BurntPowerBank,
    /// Electrolyte stains around a phone, laptop or power bank.
    LeakingBattery,
    MeltedCharger,
    BurntBag,
    CrackedScreen,
    DentedParcel,
}

/// The photo a reporter would take: the device first, then (second photo) the damage around.
pub(crate) fn kind_for(cat: Category, hazards: &[(H, Modality)], i: usize) -> PhotoKind {
    let has = |h: H| {
        hazards
            .iter()
            .any(|&(c, m)| c == h && m == Modality::Occurred)
    };
    let safety = hazards.iter().any(|&(_, m)| m == Modality::Occurred);
    if i > 0 && has(H::DamageProperty) {
        return PhotoKind::BurntBag;
    }
    match (cat, safety) {
        (_, false) if i % 2 == 1 => PhotoKind::DentedParcel,
        (Category::Phone | Category::Laptop, false) => PhotoKind::CrackedScreen,
        (_, false) => PhotoKind::DentedParcel,
        (Category::Phone | Category::Laptop | Category::PowerBank, true)
            if has(H::BatteryLeak) && !has(H::ThermalFire) =>
        {
            PhotoKind::LeakingBattery
        }
        (Category::Phone, true) if has(H::BatterySwelling) => PhotoKind::SwollenPhone,
        (Category::Phone, true) => PhotoKind::ScorchedPhone,
        (Category::Laptop, true) => PhotoKind::ScorchedLaptop,
        (Category::PowerBank, true) if has(H::BatterySwelling) => PhotoKind::SwollenPowerBank,
        (Category::PowerBank, true) => PhotoKind::BurntPowerBank,
        (Category::Charger, true) => PhotoKind::MeltedCharger,
    }
}

struct Canvas {
    img: RgbImage,
}

impl Canvas {
    fn new<R: Rng>(rng: &mut R) -> Canvas {
        // A table, a bed sheet or a floor.
        let bases = [
            [150u8, 105, 70],
            [200, 200, 195],
            [120, 120, 125],
            [225, 220, 205],
        ];
        let base = bases[rng.random_range(0..bases.len())];
        let mut img = RgbImage::new(W, HT);
        // Wood grain or cloth: a triangle wave across the picture, darker towards the bottom.
        let grain = rng.random_range(0..48i32);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let phase = (x as i32 * 2 + y as i32 / 4 + grain) % 48;
            let wave = ((phase - 24).abs() / 4 - 3) as i16;
            let shade = wave - (y as i16 / 12);
            *p = Rgb(base.map(|c| (c as i16 + shade).clamp(0, 255) as u8));
        }
        Canvas { img }
    }

    fn put(&mut self, x: i32, y: i32, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < W && (y as u32) < HT {
            self.img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }

    fn blend(&mut self, x: i32, y: i32, c: [u8; 3], a: f32) {
        if x >= 0 && y >= 0 && (x as u32) < W && (y as u32) < HT {
            let p = self.img.get_pixel_mut(x as u32, y as u32);
            for (v, &w) in p.0.iter_mut().zip(&c) {
                *v = (*v as f32 * (1.0 - a) + w as f32 * a + 0.5) as u8;
            }
        }
    }

    fn rounded_rect(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, r: i32, c: [u8; 3]) {
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = if x < x0 + r {
                    x0 + r - x
                } else if x >= x1 - r {
                    x - (x1 - r - 1)
                } else {
                    0
                };
                let dy = if y < y0 + r {
                    y0 + r - y
                } else if y >= y1 - r {
                    y - (y1 - r - 1)
                } else {
                    0
                };
                if dx * dx + dy * dy <= r * r {
                    self.put(x, y, c);
                }
            }
        }
    }

    fn ellipse(&mut self, cx: i32, cy: i32, rx: i32, ry: i32, c: [u8; 3], a: f32) {
        for y in cy - ry..=cy + ry {
            for x in cx - rx..=cx + rx {
                let (dx, dy) = ((x - cx) as f32 / rx as f32, (y - cy) as f32 / ry as f32);
                if dx * dx + dy * dy <= 1.0 {
                    self.blend(x, y, c, a);
                }
            }
        }
    }

    fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.put(x, y, c);
            if x == x1 && y == y1 {
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

    /// Soot: a dark, irregular blotch with a brown rim.
    fn scorch<R: Rng>(&mut self, rng: &mut R, cx: i32, cy: i32, (lo, hi): (f32, f32)) {
        let radius = rng.random_range(lo..hi);
        let lobes: Vec<f32> = (0..6).map(|_| rng.random_range(0.7..1.3)).collect();
        let phase = rng.random_range(0.0..TAU);
        let r = radius.ceil() as i32 + 2;
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                let (dx, dy) = ((x - cx) as f32, (y - cy) as f32);
                let ang = dy.atan2(dx) + phase;
                let idx = ((ang.rem_euclid(TAU) / TAU) * 6.0) as usize % 6;
                let rr = radius * lobes[idx];
                let d = (dx * dx + dy * dy).sqrt() / rr;
                if d < 1.0 {
                    let grain = rng.random_range(0.0..0.15f32);
                    let (c, a) = if d < 0.7 {
                        ([18, 14, 12], 0.95 - grain)
                    } else {
                        ([90, 55, 25], (1.0 - d) * 2.5 - grain)
                    };
                    self.blend(x, y, c, a.clamp(0.0, 1.0));
                }
            }
        }
    }

    fn cracks<R: Rng>(&mut self, rng: &mut R, cx: i32, cy: i32, len: i32, c: [u8; 3]) {
        for _ in 0..rng.random_range(5..9) {
            let (mut x, mut y) = (cx, cy);
            let ang = rng.random_range(0.0..TAU);
            for _ in 0..3 {
                let a = ang + rng.random_range(-0.5..0.5f32);
                let l = rng.random_range(len / 4..len / 2 + 1) as f32;
                let (nx, ny) = (x + (a.cos() * l) as i32, y + (a.sin() * l) as i32);
                self.line(x, y, nx, ny, c);
                (x, y) = (nx, ny);
            }
        }
    }
}

fn phone(c: &mut Canvas, x: i32, y: i32) {
    c.rounded_rect(x, y, x + 56, y + 110, 9, [25, 25, 30]);
    c.rounded_rect(x + 4, y + 8, x + 52, y + 100, 3, [45, 60, 80]);
}

/// Draws a photo; returns its bytes and the file extension.
pub(crate) fn draw<R: Rng>(rng: &mut R, kind: PhotoKind) -> (Vec<u8>, &'static str) {
    let mut c = Canvas::new(rng);
    let jx = rng.random_range(-15..15);
    let jy = rng.random_range(-8..8);
    match kind {
        PhotoKind::ScorchedPhone => {
            phone(&mut c, 72 + jx, 20 + jy);
            c.scorch(rng, 100 + jx, 70 + jy, (22.0, 34.0));
            c.cracks(rng, 100 + jx, 70 + jy, 40, [200, 200, 200]);
        }
        PhotoKind::SwollenPhone => {
            phone(&mut c, 72 + jx, 20 + jy);
            c.ellipse(100 + jx, 75 + jy, 32, 50, [60, 75, 95], 0.8);
            c.ellipse(92 + jx, 62 + jy, 10, 18, [150, 160, 175], 0.5);
            c.line(72 + jx, 40 + jy, 128 + jx, 38 + jy, [230, 230, 230]);
        }
        PhotoKind::ScorchedLaptop => {
            c.rounded_rect(40 + jx, 20 + jy, 160 + jx, 95 + jy, 4, [30, 30, 35]);
            c.rounded_rect(46 + jx, 26 + jy, 154 + jx, 90 + jy, 2, [40, 55, 75]);
            c.rounded_rect(30 + jx, 95 + jy, 170 + jx, 120 + jy, 5, [150, 150, 155]);
            c.scorch(rng, 120 + jx, 105 + jy, (18.0, 28.0));
        }
        PhotoKind::SwollenPowerBank => {
            c.rounded_rect(55 + jx, 45 + jy, 145 + jx, 105 + jy, 12, [225, 225, 228]);
            c.ellipse(100 + jx, 75 + jy, 52, 36, [240, 240, 242], 0.9);
            c.ellipse(88 + jx, 66 + jy, 16, 9, [255, 255, 255], 0.7);
            for k in 0..4 {
                c.ellipse(120 + jx + k * 6, 98 + jy, 2, 2, [40, 160, 255], 1.0);
            }
        }
        PhotoKind::BurntPowerBank => {
            c.rounded_rect(55 + jx, 45 + jy, 145 + jx, 105 + jy, 12, [60, 60, 65]);
            c.scorch(rng, 100 + jx, 75 + jy, (26.0, 40.0));
            c.cracks(rng, 100 + jx, 75 + jy, 30, [120, 70, 30]);
        }
        PhotoKind::LeakingBattery => {
            c.rounded_rect(55 + jx, 45 + jy, 145 + jx, 105 + jy, 12, [70, 70, 78]);
            for _ in 0..rng.random_range(3..7) {
                let (x, y) = (
                    rng.random_range(50..150) + jx,
                    rng.random_range(95..125) + jy,
                );
                let (rx, ry) = (rng.random_range(6..18), rng.random_range(3..8));
                c.ellipse(x, y, rx, ry, [205, 195, 120], 0.55);
            }
        }
        PhotoKind::MeltedCharger => {
            c.rounded_rect(75 + jx, 45 + jy, 125 + jx, 95 + jy, 8, [235, 235, 232]);
            c.rounded_rect(88 + jx, 30 + jy, 93 + jx, 46 + jy, 1, [180, 180, 185]);
            c.rounded_rect(107 + jx, 30 + jy, 112 + jx, 46 + jy, 1, [180, 180, 185]);
            c.scorch(rng, 95 + jx, 55 + jy, (12.0, 20.0));
            for _ in 0..5 {
                let x = rng.random_range(78..122) + jx;
                let l = rng.random_range(8..25);
                c.ellipse(x, 95 + jy + l / 2, 3, l / 2, [200, 185, 150], 0.9);
            }
        }
        PhotoKind::BurntBag => {
            c.rounded_rect(35 + jx, 40 + jy, 165 + jx, 135 + jy, 14, [30, 45, 90]);
            c.ellipse(100 + jx, 40 + jy, 35, 22, [20, 30, 60], 0.9);
            c.ellipse(100 + jx, 42 + jy, 26, 14, [200, 200, 195], 1.0);
            c.scorch(rng, 95 + jx, 90 + jy, (30.0, 45.0));
        }
        PhotoKind::CrackedScreen => {
            phone(&mut c, 72 + jx, 20 + jy);
            let (x, y) = (
                rng.random_range(85..115) + jx,
                rng.random_range(40..100) + jy,
            );
            c.cracks(rng, x, y, 50, [215, 220, 225]);
        }
        PhotoKind::DentedParcel => {
            c.rounded_rect(40 + jx, 35 + jy, 160 + jx, 120 + jy, 2, [185, 140, 90]);
            c.rounded_rect(40 + jx, 70 + jy, 160 + jx, 80 + jy, 0, [210, 190, 150]);
            c.ellipse(70 + jx, 45 + jy, 22, 12, [120, 85, 50], 0.8);
            c.cracks(rng, 70 + jx, 45 + jy, 24, [90, 60, 35]);
        }
    }
    encode(rng, &c.img)
}

fn encode<R: Rng>(rng: &mut R, img: &RgbImage) -> (Vec<u8>, &'static str) {
    let mut out = Vec::with_capacity(12_000);
    if rng.random::<f64>() < 0.7 {
        let enc = JpegEncoder::new_with_quality(&mut out, 82);
        // Encoding an in-memory RGB8 buffer of the right size cannot fail.
        if enc
            .write_image(img.as_raw(), W, HT, ExtendedColorType::Rgb8)
            .is_ok()
        {
            return (out, "jpg");
        }
        out.clear();
    }
    let enc = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub);
    let ok = enc
        .write_image(img.as_raw(), W, HT, ExtendedColorType::Rgb8)
        .is_ok();
    debug_assert!(ok);
    (out, "png")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_kind_draws_a_decodable_image() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for kind in [
            PhotoKind::ScorchedPhone,
            PhotoKind::SwollenPhone,
            PhotoKind::ScorchedLaptop,
            PhotoKind::SwollenPowerBank,
            PhotoKind::BurntPowerBank,
            PhotoKind::LeakingBattery,
            PhotoKind::MeltedCharger,
            PhotoKind::BurntBag,
            PhotoKind::CrackedScreen,
            PhotoKind::DentedParcel,
        ] {
            for _ in 0..3 {
                let (bytes, ext) = draw(&mut rng, kind);
                let img = image::load_from_memory(&bytes).unwrap();
                assert_eq!((img.width(), img.height()), (W, HT), "{kind:?} {ext}");
            }
        }
    }
}

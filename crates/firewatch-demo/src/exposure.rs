//! Units sold per model, market and month: launch ramps, a successor's cannibalisation,
//! per-market seasonality (Diwali, 11.11 and 618, Black Friday, Christmas, Lebaran,
//! back to school) and a little noise.

use crate::calendar::Month;
use crate::catalog::{BRAND, Category, MODELS};
use rand::Rng;

/// The markets, in the order.
pub const MARKETS: [&str; 7] = ["IN", "FR", "US", "DE", "BR", "ID", "CN"];

/// Units sold, `units[(model * MARKETS.len() + market) * months + month]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    pub start: Month,
    pub months: usize,
    units: Vec<u64>,
}

impl Exposure {
    pub fn units(&self, model: usize, market: usize, month: usize) -> u64 {
        self.units[(model * MARKETS.len() + market) * self.months + month]
    }

    /// Units of a model in a month, all markets.
    pub fn model_month(&self, model: usize, month: usize) -> u64 {
        (0..MARKETS.len())
            .map(|k| self.units(model, k, month))
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.units.iter().sum()
    }

    /// Units of a model in the field in a market in a month, as the signal engine counts
    /// them: sold in that market from the world's first month up to and including this one
    /// (the exposure CSV holds no earlier month, and no unit is retired).
    pub fn in_field(&self, model: usize, market: usize, month: usize) -> u64 {
        (0..=month).map(|t| self.units(model, market, t)).sum()
    }

    /// Units of a model in the field in a month, all markets (see [`Exposure::in_field`]).
    pub fn model_in_field(&self, model: usize, month: usize) -> u64 {
        (0..MARKETS.len())
            .map(|k| self.in_field(model, k, month))
            .sum()
    }

    /// The exposure CSV (DESIGN section 6): `brand,model,market,month,units_sold`, rows with
    /// units only (a model is absent before its launch).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("brand,model,market,month,units_sold\n");
        for (mi, spec) in MODELS.iter().enumerate() {
            for (ki, market) in MARKETS.iter().enumerate() {
                for t in 0..self.months {
                    let u = self.units(mi, ki, t);
                    if u > 0 {
                        out.push_str(&format!(
                            "{BRAND},{},{market},{},{u}\n",
                            spec.model,
                            self.start.plus(t as i32)
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Market shares by category (rows: phone, laptop, power bank, charger), in MARKETS order.
const SHARES: [[f64; 7]; 4] = [
    [0.27, 0.05, 0.16, 0.07, 0.11, 0.13, 0.21],
    [0.16, 0.10, 0.30, 0.14, 0.07, 0.06, 0.17],
    [0.26, 0.05, 0.15, 0.06, 0.10, 0.15, 0.23],
    [0.25, 0.06, 0.17, 0.07, 0.10, 0.13, 0.22],
];

/// Seasonal multiplier for a market, a calendar month (1..=12) and a category.
fn season(market: &str, month: u32, category: Category) -> f64 {
    let base = match (market, month) {
        ("IN", 10) => 1.45, // Diwali and the festive sales
        ("IN", 11) => 1.20,
        ("IN", 1) => 1.10,     // Republic Day sales
        ("CN", 6) => 1.30,     // 618
        ("CN", 11) => 1.60,    // 11.11
        ("CN", 1 | 2) => 1.10, // Spring Festival
        ("US", 11) => 1.40,    // Black Friday
        ("US", 12) => 1.45,
        ("DE" | "FR", 11) => 1.30,
        ("DE" | "FR", 12) => 1.50,
        ("FR", 1) => 1.05, // les soldes
        ("BR", 11) => 1.45,
        ("BR", 5) => 1.10, // Dia das Mães
        ("BR", 12) => 1.25,
        ("ID", 3) => 1.35, // Lebaran 2026
        ("ID", 12) => 1.10,
        (_, 1 | 2) => 0.85,
        _ => 1.0,
    };
    let school = match (category, month) {
        (Category::Laptop, 8 | 9) => 1.35,
        (Category::Laptop, 7) => 1.10,
        _ => 1.0,
    };
    base * school
}

/// Life-cycle multiplier `k` months after launch (0 before it).
fn lifecycle(k: i32, replaced_after: Option<i32>) -> f64 {
    if k < 0 {
        return 0.0;
    }
    let kf = f64::from(k);
    let ramp = 1.0 - (-(kf + 0.6) / 1.3).exp();
    let launch_bump = 1.0 + 0.35 * (-kf / 1.5).exp();
    let age = (-(kf - 8.0).max(0.0) / 24.0).exp();
    let successor = match replaced_after {
        Some(r) if k >= r => 0.15 + 0.55 * (-f64::from(k - r) / 3.0).exp(),
        _ => 1.0,
    };
    ramp * launch_bump * age * successor
}

/// A standard normal draw (Box-Muller).
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub fn generate(rng: &mut impl Rng, start: Month, months: usize) -> Exposure {
    let mut units = Vec::with_capacity(MODELS.len() * MARKETS.len() * months);
    for spec in MODELS {
        // Each model sells a little differently per market.
        let tilt: Vec<f64> = (0..MARKETS.len())
            .map(|_| (0.18 * normal(rng)).exp())
            .collect();
        let shares = &SHARES[spec.category.index()];
        for (ki, market) in MARKETS.iter().enumerate() {
            for t in 0..months {
                let k = t as i32 - spec.launch;
                let replaced = spec.replaced_at.map(|r| r - spec.launch);
                let cal = start.plus(t as i32).month;
                let noise = (0.07 * normal(rng)).exp();
                let u = spec.mature_units
                    * shares[ki]
                    * tilt[ki]
                    * lifecycle(k, replaced)
                    * season(market, cal, spec.category)
                    * noise;
                units.push(u.round().max(0.0) as u64);
            }
        }
    }
    Exposure {
        start,
        months,
        units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shares_sum_to_one_and_launches_ramp_up() {
        for row in SHARES {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        assert_eq!(lifecycle(-1, None), 0.0);
        assert!(lifecycle(0, None) < lifecycle(3, None));
        assert!(lifecycle(12, Some(10)) < 0.5 * lifecycle(9, Some(10)));
        let start = Month::parse("2025-06").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let e = generate(&mut rng, start, 18);
        let note8 = crate::catalog::model_index("Note8").unwrap();
        assert_eq!(e.model_month(note8, 8), 0);
        assert!(e.model_month(note8, 9) > 0);
        // Units in the field add up the months' sales, per market and over all markets.
        assert_eq!(e.model_in_field(note8, 8), 0);
        assert_eq!(
            e.model_in_field(note8, 10),
            e.model_month(note8, 9) + e.model_month(note8, 10)
        );
        assert_eq!(
            (0..MARKETS.len())
                .map(|k| e.in_field(note8, k, 17))
                .sum::<u64>(),
            e.model_in_field(note8, 17)
        );
        let csv = e.to_csv();
        assert!(
            csv.starts_with("brand,model,market,month,units_sold\nVoltra,Note7 Pro,IN,2025-06,")
        );
        // November beats September for a mature phone in the US (Black Friday).
        let nova = crate::catalog::model_index("Nova 5 Lite").unwrap();
        assert!(e.units(nova, 2, 5) > e.units(nova, 2, 3));
    }
}

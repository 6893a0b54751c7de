//! openEBGM's `processRaw`: from rows of (report id, product, event[, strata...]) to the
//! number of distinct reports per (product, event) pair `N`, the marginal report counts and
//! the expected counts.
//!
//! Counting is by distinct report id, as openEBGM does: a report listing the same pair twice
//! counts once, and the margins are distinct reports per product (`n_i.`), per event (`n_.j`)
//! and in all (`n_..`). Expected counts: `E = n_i. n_.j / n_..`; with strata (the combination
//! of the strata columns' values, per row), `E = Σ_s n_i.^s n_.j^s / n_..^s`.
//!
//! Implementation: product and event names are interned to `u32`; report ids that are
//! canonical decimal integers are used as numbers, other ids are interned. Rows are stored
//! compactly (16 bytes each, 20 with strata); if the ids arrive grouped (every report's rows
//! contiguous, the usual export layout) the groups are processed in one pass, otherwise the
//! rows are first sorted by id. Pair counts come from a radix sort of the keys
//! `product * events + event` (one per distinct report and pair) and their run lengths.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use crate::csvfast::{CsvReader, column_indices};
use crate::gps::Point;
use crate::{Result, StatsError};

/// FxHash (rustc's hasher): fast, not DoS-resistant; fine for interning offline inputs.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Fx leaves the low bits (hashbrown's bucket index) weakly mixed for keys that differ
        // only in high bytes, such as packed short strings: finish with murmur3's fmix64
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Interns byte strings to dense `u32` ids. Strings of up to 15 bytes (product codes, event
/// terms, report ids) are packed into a `u128` key with their length, so the lookup hashes
/// two words and compares integers; longer strings go through a byte-string map.
#[derive(Default)]
pub struct Interner {
    small: FxHashMap<u128, u32>,
    map: FxHashMap<Box<[u8]>, u32>,
    names: Vec<Box<[u8]>>,
}

impl Interner {
    /// The id of `s`, adding it if new.
    #[inline]
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        if s.len() <= 15 {
            // pack: bytes 0..8 in `lo`, 8..15 in `hi`, the length in the top byte of `hi`
            let word = |t: &[u8]| -> u64 {
                if t.len() >= 8 {
                    u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]])
                } else {
                    t.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64)
                }
            };
            let (lo, hi) = if s.len() > 8 {
                (word(&s[..8]), word(&s[8..]))
            } else {
                (word(s), 0)
            };
            let key = (((hi | ((s.len() as u64) << 56)) as u128) << 64) | lo as u128;
            let next = self.names.len() as u32;
            let id = *self.small.entry(key).or_insert(next);
            if id == next {
                self.names.push(s.into());
            }
            return id;
        }
        match self.map.get(s) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                let b: Box<[u8]> = s.into();
                self.names.push(b.clone());
                self.map.insert(b, id);
                id
            }
        }
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The strings, by id (lossy UTF-8).
    pub fn into_names(self) -> Vec<String> {
        self.names
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }
}

/// Sort `keys` (all below `2^bits`) with an LSD radix sort in 11-bit digits; `scratch` is
/// reused as the second buffer.
pub fn radix_sort(keys: &mut Vec<u64>, scratch: &mut Vec<u64>, bits: u32) {
    const DIGIT: u32 = 11;
    const BUCKETS: usize = 1 << DIGIT;
    scratch.clear();
    scratch.resize(keys.len(), 0);
    let passes = bits.div_ceil(DIGIT).max(1);
    for pass in 0..passes {
        let shift = pass * DIGIT;
        let mut count = vec![0usize; BUCKETS];
        for &k in keys.iter() {
            count[((k >> shift) as usize) & (BUCKETS - 1)] += 1;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let v = *c;
            *c = sum;
            sum += v;
        }
        for &k in keys.iter() {
            let d = ((k >> shift) as usize) & (BUCKETS - 1);
            scratch[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(keys, scratch);
    }
}

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// report id column
    pub id: String,
    /// product column
    pub product: String,
    /// event (hazard) column
    pub event: String,
    /// stratification columns (may be empty)
    pub strata: Vec<String>,
}

impl Default for Columns {
    /// openEBGM's names: `id`, `var1`, `var2`, no strata.
    fn default() -> Self {
        Columns {
            id: "id".into(),
            product: "var1".into(),
            event: "var2".into(),
            strata: Vec::new(),
        }
    }
}

/// Progress of a long run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// rows read so far and bytes consumed
    Reading {
        /// data rows read
        rows: u64,
        /// bytes consumed from the input
        bytes: u64,
    },
    /// a named stage started (counting, fitting, scoring, writing)
    Stage(&'static str),
    /// pairs scored or written so far out of the total
    Pairs {
        /// done
        done: u64,
        /// total
        total: u64,
    },
}

/// Per-stratum margins.
#[derive(Debug, Clone, PartialEq)]
pub struct Strata {
    /// stratum labels (the strata columns' values joined with `|`)
    pub names: Vec<String>,
    /// distinct reports per (product, stratum), row-major `[product * S + s]`
    pub product: Vec<u32>,
    /// distinct reports per (event, stratum)
    pub event: Vec<u32>,
    /// distinct reports per stratum
    pub total: Vec<u64>,
}

/// One (product, event) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// product id (index into [`Counts::products`])
    pub product: u32,
    /// event id (index into [`Counts::events`])
    pub event: u32,
    /// distinct reports with both
    pub n: u32,
}

/// The result of counting: openEBGM's `processRaw` before the expected counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// product names by id
    pub products: Vec<String>,
    /// event names by id
    pub events: Vec<String>,
    /// pairs with `N >= 1`, sorted by product name then event name (byte order)
    pub pairs: Vec<Pair>,
    /// distinct reports per product
    pub product_reports: Vec<u32>,
    /// distinct reports per event
    pub event_reports: Vec<u32>,
    /// distinct reports in all
    pub total_reports: u64,
    /// per-stratum margins when strata columns were given
    pub strata: Option<Strata>,
    /// data rows read
    pub rows: u64,
}

impl Counts {
    /// Expected counts, one per pair (same order as [`Counts::pairs`]).
    pub fn expected(&self) -> Vec<f64> {
        match &self.strata {
            None => {
                let tot = self.total_reports as f64;
                self.pairs
                    .iter()
                    .map(|p| {
                        self.product_reports[p.product as usize] as f64
                            * self.event_reports[p.event as usize] as f64
                            / tot
                    })
                    .collect()
            }
            Some(st) => {
                let s_n = st.total.len();
                self.pairs
                    .iter()
                    .map(|p| {
                        let pi = p.product as usize * s_n;
                        let ej = p.event as usize * s_n;
                        (0..s_n)
                            .filter(|&s| st.total[s] > 0)
                            .map(|s| {
                                st.product[pi + s] as f64 * st.event[ej + s] as f64
                                    / st.total[s] as f64
                            })
                            .sum()
                    })
                    .collect()
            }
        }
    }

    /// The (N, E) points for the hyperparameter fit, weight 1.
    pub fn points(&self, expected: &[f64]) -> Vec<Point> {
        self.pairs
            .iter()
            .zip(expected)
            .map(|(p, &e)| Point { n: p.n, e, w: 1.0 })
            .collect()
    }
}

/// Parse a canonical non-negative decimal (no sign, no leading zero) below 2^62.
#[inline]
fn numeric_id(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || (s[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// Count distinct reports per pair and the margins from a CSV with a header naming `cols`.
pub fn count_reports(
    input: impl Read,
    cols: &Columns,
    progress: &mut dyn FnMut(Progress),
) -> Result<Counts> {
    const INPUT: &str = "input";
    let mut rdr = CsvReader::new(input, INPUT);
    let header = rdr
        .next_record()?
        .ok_or_else(|| StatsError::EmptyInput(INPUT.into()))?;
    let mut wanted: Vec<&str> = vec![&cols.id, &cols.product, &cols.event];
    wanted.extend(cols.strata.iter().map(String::as_str));
    let idx = column_indices(&header, &wanted, INPUT)?;
    let need = idx.iter().copied().max().unwrap_or(0) + 1;
    let has_strata = !cols.strata.is_empty();

    let mut products = Interner::default();
    let mut events = Interner::default();
    let mut strata_names = Interner::default();
    let mut text_ids = Interner::default();
    let mut keys: Vec<u64> = Vec::new();
    let mut pe: Vec<[u32; 2]> = Vec::new();
    let mut st: Vec<u32> = Vec::new();
    let mut grouped = true;
    let mut last_key = 0u64;
    let mut rows = 0u64;
    let mut stratum_buf: Vec<u8> = Vec::new();
    while let Some(rec) = rdr.next_record()? {
        if rec.len() < need {
            return Err(StatsError::Malformed {
                input: INPUT.into(),
                line: rec.line,
                message: format!("expected at least {need} fields, found {}", rec.len()),
            });
        }
        let id = rec.get(idx[0]).unwrap_or_default();
        let key = match numeric_id(id) {
            Some(v) => v,
            None => (1u64 << 63) | text_ids.intern(id) as u64,
        };
        if rows > 0 && key < last_key {
            grouped = false;
        }
        last_key = key;
        let p = products.intern(rec.get(idx[1]).unwrap_or_default());
        let e = events.intern(rec.get(idx[2]).unwrap_or_default());
        keys.push(key);
        pe.push([p, e]);
        if has_strata {
            stratum_buf.clear();
            for (k, &i) in idx[3..].iter().enumerate() {
                if k > 0 {
                    stratum_buf.push(b'|');
                }
                stratum_buf.extend_from_slice(rec.get(i).unwrap_or_default());
            }
            st.push(strata_names.intern(&stratum_buf));
        }
        rows += 1;
        if rows.is_multiple_of(1 << 20) {
            progress(Progress::Reading {
                rows,
                bytes: rdr.bytes_read(),
            });
        }
    }
    if rows == 0 {
        return Err(StatsError::EmptyInput(INPUT.into()));
    }
    progress(Progress::Reading {
        rows,
        bytes: rdr.bytes_read(),
    });
    progress(Progress::Stage("counting"));

    // order of rows: as read when grouped, else stably sorted by id
    let order: Option<Vec<u32>> = if grouped {
        None
    } else {
        let mut o: Vec<u32> = (0..rows as u32).collect();
        o.sort_by_key(|&i| keys[i as usize]);
        Some(o)
    };
    let row_at = |i: usize| -> usize {
        match &order {
            None => i,
            Some(o) => o[i] as usize,
        }
    };

    let n_prod = products.len();
    let n_ev = events.len();
    let n_st = if has_strata { strata_names.len() } else { 0 };
    let mut prod_rep = vec![0u32; n_prod];
    let mut ev_rep = vec![0u32; n_ev];
    let mut prod_st = vec![0u32; n_prod * n_st];
    let mut ev_st = vec![0u32; n_ev * n_st];
    let mut st_tot = vec![0u64; n_st];
    let n_ev64 = n_ev as u64;
    let mut pair_keys: Vec<u64> = Vec::with_capacity(rows as usize);
    let mut total = 0u64;

    let mut g_pairs: Vec<u64> = Vec::new();
    let mut g_prod: Vec<u64> = Vec::new();
    let mut g_ev: Vec<u64> = Vec::new();
    let mut g_st: Vec<u32> = Vec::new();
    let n = rows as usize;
    let mut i = 0;
    while i < n {
        let r0 = row_at(i);
        let key = keys[r0];
        let mut j = i + 1;
        while j < n && keys[row_at(j)] == key {
            j += 1;
        }
        total += 1;
        if j == i + 1 && !has_strata {
            let [p, e] = pe[r0];
            prod_rep[p as usize] += 1;
            ev_rep[e as usize] += 1;
            pair_keys.push(p as u64 * n_ev64 + e as u64);
        } else {
            g_pairs.clear();
            g_prod.clear();
            g_ev.clear();
            g_st.clear();
            for k in i..j {
                let r = row_at(k);
                let [p, e] = pe[r];
                let s = if has_strata { st[r] } else { 0 };
                g_pairs.push(p as u64 * n_ev64 + e as u64);
                g_prod.push(((p as u64) << 32) | s as u64);
                g_ev.push(((e as u64) << 32) | s as u64);
                g_st.push(s);
            }
            for v in [&mut g_pairs, &mut g_prod, &mut g_ev] {
                v.sort_unstable();
                v.dedup();
            }
            pair_keys.extend_from_slice(&g_pairs);
            let mut last = u32::MAX;
            for &k in &g_prod {
                let p = (k >> 32) as u32;
                if p != last {
                    prod_rep[p as usize] += 1;
                    last = p;
                }
                if has_strata {
                    prod_st[p as usize * n_st + (k as u32) as usize] += 1;
                }
            }
            let mut last = u32::MAX;
            for &k in &g_ev {
                let e = (k >> 32) as u32;
                if e != last {
                    ev_rep[e as usize] += 1;
                    last = e;
                }
                if has_strata {
                    ev_st[e as usize * n_st + (k as u32) as usize] += 1;
                }
            }
            if has_strata {
                g_st.sort_unstable();
                g_st.dedup();
                for &s in &g_st {
                    st_tot[s as usize] += 1;
                }
            }
        }
        i = j;
    }
    drop(keys);
    drop(pe);

    let products = products.into_names();
    let events = events.into_names();
    // sort pairs by (product name, event name)
    let rank = |names: &[String]| -> Vec<u32> {
        let mut o: Vec<u32> = (0..names.len() as u32).collect();
        o.sort_by(|&a, &b| {
            names[a as usize]
                .as_bytes()
                .cmp(names[b as usize].as_bytes())
        });
        let mut r = vec![0u32; names.len()];
        for (pos, &id) in o.iter().enumerate() {
            r[id as usize] = pos as u32;
        }
        r
    };
    let pr = rank(&products);
    let er = rank(&events);
    // count pairs: radix sort the keys, then run lengths
    let bits = 64 - (n_prod as u64 * n_ev64).max(1).leading_zeros();
    let mut scratch = Vec::new();
    radix_sort(&mut pair_keys, &mut scratch, bits);
    drop(scratch);
    let mut pairs: Vec<(u64, Pair)> = Vec::new();
    let mut k = 0;
    while k < pair_keys.len() {
        let key = pair_keys[k];
        let mut r = k + 1;
        while r < pair_keys.len() && pair_keys[r] == key {
            r += 1;
        }
        let p = (key / n_ev64) as u32;
        let e = (key % n_ev64) as u32;
        pairs.push((
            ((pr[p as usize] as u64) << 32) | er[e as usize] as u64,
            Pair {
                product: p,
                event: e,
                n: (r - k) as u32,
            },
        ));
        k = r;
    }
    drop(pair_keys);
    pairs.sort_unstable_by_key(|x| x.0);
    let pairs = pairs.into_iter().map(|x| x.1).collect();
    let strata = has_strata.then(|| Strata {
        names: strata_names.into_names(),
        product: prod_st,
        event: ev_st,
        total: st_tot,
    });
    Ok(Counts {
        products,
        events,
        pairs,
        product_reports: prod_rep,
        event_reports: ev_rep,
        total_reports: total,
        strata,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str, cols: &Columns) -> Counts {
        count_reports(text.as_bytes(), cols, &mut |_| {}).unwrap()
    }

    #[test]
    fn duplicate_rows_of_a_report_count_once_even_when_not_contiguous() {
        let csv = "id,var1,var2\n1,A,x\n2,A,y\n1,A,x\n1,B,x\n3,B,y\n2,A,x\n";
        let c = count(csv, &Columns::default());
        assert_eq!(c.total_reports, 3);
        let get = |p: &str, e: &str| {
            c.pairs
                .iter()
                .find(|q| c.products[q.product as usize] == p && c.events[q.event as usize] == e)
                .map(|q| q.n)
        };
        assert_eq!(get("A", "x"), Some(2));
        assert_eq!(get("A", "y"), Some(1));
        assert_eq!(get("B", "x"), Some(1));
        assert_eq!(get("B", "y"), Some(1));
        let a = c.products.iter().position(|p| p == "A").unwrap();
        assert_eq!(c.product_reports[a], 2);
        // sorted by product then event
        let names: Vec<(String, String)> = c
            .pairs
            .iter()
            .map(|q| {
                (
                    c.products[q.product as usize].clone(),
                    c.events[q.event as usize].clone(),
                )
            })
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn expected_counts_follow_the_margins_and_sum_over_strata() {
        let csv = "id,var1,var2,sex\n1,A,x,F\n2,A,y,M\n3,B,x,F\n4,B,x,M\n5,A,x,M\n";
        let plain = count(csv, &Columns::default());
        let e = plain.expected();
        // A-x: n_A = 3, n_x = 4, n = 5
        let ax = plain
            .pairs
            .iter()
            .position(|q| {
                plain.products[q.product as usize] == "A" && plain.events[q.event as usize] == "x"
            })
            .unwrap();
        assert!((e[ax] - 3.0 * 4.0 / 5.0).abs() < 1e-12);
        let cols = Columns {
            strata: vec!["sex".into()],
            ..Columns::default()
        };
        let strat = count(csv, &cols);
        let es = strat.expected();
        // F: n_A=1, n_x=2, n=2 -> 1; M: n_A=2, n_x=2, n=3 -> 4/3
        assert!((es[ax] - (1.0 + 4.0 / 3.0)).abs() < 1e-12, "{}", es[ax]);
    }

    #[test]
    fn text_ids_and_missing_columns_and_empty_input_are_handled() {
        let c = count(
            "id,var1,var2\nr-1,A,x\nr-2,A,x\nr-1,A,x\n",
            &Columns::default(),
        );
        assert_eq!(c.pairs[0].n, 2);
        let err = count_reports(
            "id,var1\n1,A\n".as_bytes(),
            &Columns::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, StatsError::MissingColumn { ref column, .. } if column == "var2"));
        let err = count_reports(
            "id,var1,var2\n".as_bytes(),
            &Columns::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, StatsError::EmptyInput(_)));
        let err = count_reports("".as_bytes(), &Columns::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, StatsError::EmptyInput(_)));
    }

    #[test]
    fn radix_sort_orders_keys() {
        let mut v: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 40_000_000).collect();
        let mut expected = v.clone();
        expected.sort_unstable();
        radix_sort(&mut v, &mut Vec::new(), 26);
        assert_eq!(v, expected);
    }
}

//! A log-linear histogram of distances (HdrHistogram's layout): distances
//! below 512 get their own bucket, larger ones share buckets of relative
//! width 1/512, so any distance is known to within 0.2%. Small enough (a few
//! hundred KiB for byte distances) to stay in a core's cache beside the
//! stack structures, which the exact MRC's speed depends on.

/// Mantissa bits: 2^9 sub-buckets per power of two.
const SUB_BITS: u32 = 9;
const SUB: u64 = 1 << SUB_BITS;

/// Bucket index of a distance.
#[inline]
pub fn bucket_of(d: u64) -> usize {
    if d < SUB {
        d as usize
    } else {
        let e = 63 - d.leading_zeros();
        let mantissa = (d >> (e - SUB_BITS)) & (SUB - 1);
        (((e - SUB_BITS + 1) as u64) * SUB + mantissa) as usize
    }
}

/// Largest distance that falls in bucket `b`.
pub fn bucket_high(b: usize) -> u64 {
    let b = b as u64;
    if b < SUB {
        b
    } else {
        let e = b / SUB + SUB_BITS as u64 - 1;
        let mantissa = b % SUB;
        let low = (SUB | mantissa) << (e - SUB_BITS as u64);
        low + (1u64 << (e - SUB_BITS as u64)) - 1
    }
}

/// Weighted counts of hits (and of their bytes) per distance bucket.
#[derive(Clone, Debug, Default)]
pub struct DistanceHistogram {
    /// (hits, hit bytes) per bucket, side by side so an addition touches
    /// one cache line.
    buckets: Vec<[f64; 2]>,
}

impl DistanceHistogram {
    /// Adds a hit at distance `d` of `size` bytes with weight `w`.
    #[inline]
    pub fn add(&mut self, d: u64, size: u64, w: f64) {
        self.add_raw(d, w, w * size as f64);
    }

    /// Adds `count` hits totalling `bytes` at distance `d`.
    #[inline]
    pub fn add_raw(&mut self, d: u64, count: f64, bytes: f64) {
        self.add_to_bucket(bucket_of(d), count, bytes);
    }

    /// Adds `count` hits totalling `bytes` to bucket `b` (of
    /// [`bucket_of`]).
    #[inline]
    pub fn add_to_bucket(&mut self, b: usize, count: f64, bytes: f64) {
        if b >= self.buckets.len() {
            self.buckets.resize(b + 1, [0.0; 2]);
        }
        let e = &mut self.buckets[b];
        e[0] += count;
        e[1] += bytes;
    }

    /// Multiplies every count by `f` (SHARDS fixed-size rescaling).
    pub fn scale(&mut self, f: f64) {
        self.buckets.iter_mut().flatten().for_each(|c| *c *= f);
    }

    /// A cumulative step curve: `(largest distance in bucket, hits so far,
    /// hit bytes so far)` for every non-empty bucket, in order.
    pub fn cumulative(&self) -> Vec<(u64, f64, f64)> {
        let mut out = Vec::new();
        let (mut c, mut b) = (0.0, 0.0);
        for (i, &[n, by]) in self.buckets.iter().enumerate() {
            if n != 0.0 || by != 0.0 {
                c += n;
                b += by;
                out.push((bucket_high(i), c, b));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for d in [
            0u64,
            1,
            511,
            512,
            513,
            1023,
            1024,
            4095,
            4096,
            4097,
            8191,
            8192,
            1 << 30,
            (1 << 30) + 12345,
            u64::MAX >> 1,
        ] {
            let b = bucket_of(d);
            assert!(bucket_high(b) >= d, "{d}");
            if b > 0 {
                assert!(bucket_high(b - 1) < d, "{d}");
            }
        }
        for b in 0..20_000 {
            assert_eq!(bucket_of(bucket_high(b)), b);
        }
    }
}

//! Cache sizes as people write them: `64MiB`, lists `128MiB,256MiB`,
//! ranges `128MiB..1GiB:8` (8 evenly spaced sizes, both ends included) and
//! log-spaced ranges `8MiB..512MiB:13:log` (each size the same factor above
//! the last: miss-ratio curves change most at small sizes).

use crate::error::ConfigError;

/// Parses one size: a number with an optional unit (`B`, `KiB`, `MiB`,
/// `GiB`, `TiB`, or decimal `KB`, `MB`, `GB`, `TB`; `K`, `M`, `G` are
/// binary). Fractions are allowed with a unit (`1.5GiB`).
pub fn parse_size(s: &str) -> Result<u64, ConfigError> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num = num.replace('_', "");
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "ki" => 1 << 10,
        "m" | "mib" | "mi" => 1 << 20,
        "g" | "gib" | "gi" => 1 << 30,
        "t" | "tib" | "ti" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(ConfigError::new(
                "--sizes",
                format!("`{s}`: unknown unit `{other}`; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"),
            ))
        }
    };
    let value: f64 =
        num.parse().map_err(|_| ConfigError::new("--sizes", format!("`{s}` is not a size (e.g. 64MiB)")))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(ConfigError::new("--sizes", format!("`{s}` is too large")));
    }
    if bytes.fract() != 0.0 {
        return Err(ConfigError::new("--sizes", format!("`{s}` is not a whole number of bytes")));
    }
    Ok(bytes as u64)
}

/// Parses a list of sizes and ranges (`LO..HI:N` evenly spaced,
/// `LO..HI:N:log` log-spaced); rejects 0 and empty lists. The result is
/// sorted and has no duplicates.
pub fn parse_sizes(s: &str) -> Result<Vec<u64>, ConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((lo, rest)) = part.split_once("..") {
            let (hi, count) = rest.split_once(':').ok_or_else(|| {
                ConfigError::new("--sizes", format!("range `{part}` needs a count: LO..HI:N, e.g. 128MiB..1GiB:8"))
            })?;
            let (n, log) = match count.split_once(':') {
                None => (count, false),
                Some((n, "log")) => (n, true),
                Some((_, other)) => {
                    return Err(ConfigError::new(
                        "--sizes",
                        format!("range `{part}`: `{other}` is not a spacing; write LO..HI:N or LO..HI:N:log"),
                    ))
                }
            };
            let lo = parse_size(lo)?;
            let hi = parse_size(hi)?;
            let n: u64 = n.trim().parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                ConfigError::new("--sizes", format!("range `{part}`: count `{n}` must be a whole number >= 1"))
            })?;
            if hi < lo {
                return Err(ConfigError::new(
                    "--sizes",
                    format!("range `{part}`: the upper end is below the lower end"),
                ));
            }
            if log && lo == 0 {
                return Err(ConfigError::new("--sizes", format!("range `{part}`: a log-spaced range starts above 0")));
            }
            if n == 1 {
                out.push(lo);
            } else if log {
                let ratio = (hi as f64 / lo as f64).powf(1.0 / (n - 1) as f64);
                for k in 0..n {
                    // Exact ends; rounded in between.
                    let v = if k == n - 1 { hi } else { (lo as f64 * ratio.powi(k as i32)).round() as u64 };
                    out.push(v);
                }
            } else {
                for k in 0..n {
                    // Integer arithmetic: exact ends, even steps.
                    let v = lo as u128 + ((hi - lo) as u128 * k as u128) / (n - 1) as u128;
                    out.push(v as u64);
                }
            }
        } else {
            out.push(parse_size(part)?);
        }
    }
    if out.is_empty() {
        return Err(ConfigError::new("--sizes", "no size given"));
    }
    if out.contains(&0) {
        return Err(ConfigError::new("--sizes", "a cache size of 0 cannot hold anything; give sizes above 0"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats bytes with a binary unit, exact when it divides (`128MiB`),
/// else with two decimals (`1.50GiB`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, m) in UNITS {
        if bytes >= m {
            return if bytes.is_multiple_of(m) {
                format!("{}{name}", bytes / m)
            } else {
                format!("{:.2}{name}", bytes as f64 / m as f64)
            };
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ranges() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2KB").unwrap(), 2000);
        let r = parse_sizes("128MiB..1GiB:8").unwrap();
        assert_eq!(r, (1..=8).map(|i| i * (128u64 << 20)).collect::<Vec<_>>());
        assert_eq!(parse_sizes("2,1,2").unwrap(), vec![1, 2]);
        let log = parse_sizes("8MiB..512MiB:7:log").unwrap();
        assert_eq!(log, (3..=9).map(|e| 1u64 << (e + 20)).collect::<Vec<_>>());
        assert!(parse_sizes("8MiB..512MiB:7:cubic").is_err());
        assert!(parse_sizes("0").is_err());
        assert!(parse_sizes("1..0:2").is_err());
        assert!(parse_sizes("1MiB..2MiB").is_err());
        assert!(parse_sizes("").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("1.5").is_err());
        assert_eq!(format_size(128 << 20), "128MiB");
        assert_eq!(format_size(1536), "1.50KiB");
    }
}

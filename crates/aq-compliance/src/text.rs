//! Small formatting helpers for the sentences and pages of reports: durations, percentages from
//! basis points, UTC timestamps (no clock is read; times come in as milliseconds).

/// `ms` as a short duration: `15 min`, `1 h`, `7 d`, `1 h 30 min`, `90 s`, `250 ms`.
pub fn duration(ms: u64) -> String {
    const S: u64 = 1000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    if ms == 0 {
        return "0 s".into();
    }
    if ms < S {
        return format!("{ms} ms");
    }
    let parts = [(D, "d"), (H, "h"), (M, "min"), (S, "s")];
    let mut out = Vec::new();
    let mut rest = ms;
    for (unit, name) in parts {
        if rest >= unit {
            out.push(format!("{} {name}", rest / unit));
            rest %= unit;
        }
        if out.len() == 2 {
            break;
        }
    }
    out.join(" ")
}

/// Basis points as a percentage with two decimals: `9950` → `99.50 %`.
pub fn pct_bp(bp: u64) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

/// `floor(num × 10000 / den)`, or `None` for an empty denominator.
pub fn share_bp(num: u64, den: u64) -> Option<u64> {
    if den == 0 {
        return None;
    }
    let v = u128::from(num) * 10_000 / u128::from(den);
    Some(u64::try_from(v).unwrap_or(u64::MAX))
}

/// ISO 8601 UTC for ms since the Unix epoch: `2026-11-25T19:55:00Z` (milliseconds shown only
/// when not zero).
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let frac = ms % 1000;
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{frac:03}Z")
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Up to `max` items joined with ", ", then "and N more".
pub fn list<I: IntoIterator<Item = String>>(items: I, max: usize) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for s in items {
        if shown.len() < max {
            shown.push(s);
        } else {
            more += 1;
        }
    }
    let mut out = shown.join("; ");
    if more > 0 {
        out.push_str(&format!("; and {more} more"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(15 * 60_000), "15 min");
        assert_eq!(duration(3_600_000), "1 h");
        assert_eq!(duration(7 * 86_400_000), "7 d");
        assert_eq!(duration(5_400_000), "1 h 30 min");
        assert_eq!(duration(90_500), "1 min 30 s");
        assert_eq!(duration(250), "250 ms");
    }

    #[test]
    fn percentages() {
        assert_eq!(pct_bp(9950), "99.50 %");
        assert_eq!(pct_bp(10_000), "100.00 %");
        assert_eq!(share_bp(2, 3), Some(6666));
        assert_eq!(share_bp(1, 0), None);
        assert_eq!(share_bp(u64::MAX, 1), Some(u64::MAX));
    }

    #[test]
    fn timestamps() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_636_500_123), "2026-11-25T19:55:00.123Z");
        assert_eq!(iso8601(4_102_444_800_000), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn lists() {
        let v = (1..=7).map(|i| i.to_string());
        assert_eq!(list(v, 3), "1; 2; 3; and 4 more");
    }
}

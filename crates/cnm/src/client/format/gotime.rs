//! Go's `time.Time` as the docker CLI shows it.
//!
//! Contract: [`GoTime::parse`] reads the daemon's RFC 3339 timestamps (an empty or unparsable
//! one is Go's zero time); [`GoTime::go_string`] is `Time.String()`
//! (`2026-01-02 03:04:05.123456789 +0000 UTC`, used by `{{.CreatedAt}}` and `{{.Created}}`) and
//! [`GoTime::rfc3339_nano`] is what `json.Marshal` writes for it.

/// A parsed timestamp, kept as the digits it was written with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoTime {
    date: String,
    clock: String,
    /// Fraction digits without trailing zeros (may be empty).
    fraction: String,
    /// Offset east of UTC in minutes; `None` for `Z`.
    offset: Option<i32>,
}

impl GoTime {
    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub fn zero() -> Self {
        GoTime {
            date: "0001-01-01".into(),
            clock: "00:00:00".into(),
            fraction: String::new(),
            offset: None,
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; anything else gives the zero time.
    pub fn parse(s: &str) -> Self {
        Self::try_parse(s).unwrap_or_else(Self::zero)
    }

    fn try_parse(s: &str) -> Option<Self> {
        let (date, rest) = s.split_once('T')?;
        let valid_date =
            date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
        if !valid_date || rest.len() < 9 {
            return None;
        }
        let (clock, rest) = rest.split_at(8);
        if !clock.bytes().enumerate().all(|(i, b)| {
            if i % 3 == 2 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        }) {
            return None;
        }
        let (fraction, zone) = match rest.strip_prefix('.') {
            Some(r) => {
                let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                let digits: String = r[..end].chars().take(9).collect();
                (digits.trim_end_matches('0').to_string(), &r[end..])
            }
            None => (String::new(), rest),
        };
        let offset = match zone {
            "Z" | "z" => None,
            z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
                let hours: i32 = z[1..3].parse().ok()?;
                let minutes: i32 = z[4..6].parse().ok()?;
                let sign = if z.starts_with('-') { -1 } else { 1 };
                Some(sign * (hours * 60 + minutes))
            }
            _ => return None,
        };
        Some(GoTime {
            date: date.to_string(),
            clock: clock.to_string(),
            fraction,
            offset,
        })
    }

    fn dotted_fraction(&self) -> String {
        if self.fraction.is_empty() {
            String::new()
        } else {
            format!(".{}", self.fraction)
        }
    }

    /// `Time.String()`. A zero offset is shown as UTC (the zone Go gives `Z` and, on a UTC
    /// host, `+00:00`); other offsets as Go's fabricated zone, `+0100 +0100`.
    pub fn go_string(&self) -> String {
        let numeric = |m: i32| {
            format!(
                "{}{:02}{:02}",
                if m < 0 { '-' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            )
        };
        let zone = match self.offset {
            None | Some(0) => "+0000 UTC".to_string(),
            Some(m) => format!("{} {}", numeric(m), numeric(m)),
        };
        format!(
            "{} {}{} {}",
            self.date,
            self.clock,
            self.dotted_fraction(),
            zone
        )
    }

    /// RFC 3339 with nanoseconds, trailing zeros dropped (`json.Marshal` of a `time.Time`).
    pub fn rfc3339_nano(&self) -> String {
        let zone = match self.offset {
            None => "Z".to_string(),
            Some(m) => format!(
                "{}{:02}:{:02}",
                if m < 0 { '-' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            ),
        };
        format!(
            "{}T{}{}{}",
            self.date,
            self.clock,
            self.dotted_fraction(),
            zone
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let t = GoTime::parse("2026-12-07T17:40:20.59148902Z");
        assert_eq!(t.go_string(), "2026-12-07 17:40:20.59148902 +0000 UTC");
        assert_eq!(t.rfc3339_nano(), "2026-12-07T17:40:20.59148902Z");
        let t = GoTime::parse("2026-12-07T17:40:20.500000000+01:30");
        assert_eq!(t.go_string(), "2026-12-07 17:40:20.5 +0130 +0130");
        assert_eq!(t.rfc3339_nano(), "2026-12-07T17:40:20.5+01:30");
        assert_eq!(
            GoTime::parse("2026-12-07T17:40:20Z").go_string(),
            "2026-12-07 17:40:20 +0000 UTC"
        );
        assert_eq!(
            GoTime::parse("").go_string(),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(
            GoTime::parse("garbage").rfc3339_nano(),
            "0001-01-01T00:00:00Z"
        );
    }
}

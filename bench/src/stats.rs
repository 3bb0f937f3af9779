//! Latency samples and their summary (count, median, p90, min, max) in milliseconds.
//!
//! Contract: percentiles use the nearest-rank method on the sorted samples, so the median of
//! an even count is the lower middle sample and p90 is a sample that was actually observed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The summary of one series of timed requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentile (`p` in 0..=100) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarize(samples: &[Duration]) -> Summary {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    Summary {
        count: ms.len(),
        median_ms: percentile(&ms, 50.0),
        p90_ms: percentile(&ms, 90.0),
        min_ms: ms.first().copied().unwrap_or(f64::NAN),
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_and_p90_are_nearest_rank() {
        let s = summarize(&ms(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]));
        assert_eq!(s.count, 10);
        assert_eq!(s.median_ms, 5.0);
        assert_eq!(s.p90_ms, 9.0);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.max_ms, 10.0);
    }

    #[test]
    fn single_sample_is_every_percentile() {
        let s = summarize(&ms(&[42]));
        assert_eq!((s.median_ms, s.p90_ms), (42.0, 42.0));
    }

    #[test]
    fn empty_series_is_nan() {
        assert!(summarize(&[]).median_ms.is_nan());
    }
}

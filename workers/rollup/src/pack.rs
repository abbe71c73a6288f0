//! Turning aggregates into `PutMetricData` calls packed to the service limits: at most 1000
//! datums and 1 MB per call, at most 150 distinct values per datum (Values/Counts, so that
//! CloudWatch can still compute percentiles from the raw distribution).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;

pub const MAX_DATUMS_PER_CALL: usize = 1000;
pub const MAX_VALUES_PER_DATUM: usize = 150;
pub const MAX_BYTES_PER_CALL: usize = 1_000_000;

/// One metric datum before it becomes an SDK type.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: &'static str,
    pub timestamp: i64,
    /// Distinct values with their counts (at most [`MAX_VALUES_PER_DATUM`]).
    pub values: Vec<(f64, f64)>,
    pub high_resolution: bool,
}

impl Datum {
    /// An upper bound of the datum's size on the wire (any protocol).
    pub fn wire_size(&self) -> usize {
        let dims: usize = self
            .dimensions
            .iter()
            .map(|(k, v)| k.len() + v.len() + 40)
            .sum();
        120 + self.name.len() + dims + self.values.len() * 40
    }

    pub fn to_sdk(&self) -> MetricDatum {
        let dims = self
            .dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        MetricDatum::builder()
            .metric_name(&self.name)
            .set_dimensions(Some(dims))
            .unit(StandardUnit::from(self.unit))
            .timestamp(DateTime::from_secs(self.timestamp))
            .set_values(Some(self.values.iter().map(|v| v.0).collect()))
            .set_counts(Some(self.values.iter().map(|v| v.1).collect()))
            .storage_resolution(if self.high_resolution { 1 } else { 60 })
            .build()
    }
}

/// Datums carrying the distribution of `values`: distinct values counted, in datums of at
/// most [`MAX_VALUES_PER_DATUM`] distinct values each.
pub fn distribution(
    name: &str,
    dimensions: &[(String, String)],
    unit: &'static str,
    timestamp: i64,
    values: &[f64],
    high_resolution: bool,
) -> Vec<Datum> {
    let mut counts: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for &v in values {
        // Key by the bits of the value (with -0.0 folded into 0.0) to count exact repeats.
        let v = if v == 0.0 { 0.0 } else { v };
        counts.entry(v.to_bits()).or_insert((v, 0.0)).1 += 1.0;
    }
    let distinct: Vec<(f64, f64)> = counts.into_values().collect();
    distinct
        .chunks(MAX_VALUES_PER_DATUM)
        .map(|chunk| Datum {
            name: name.to_owned(),
            dimensions: dimensions.to_vec(),
            unit,
            timestamp,
            values: chunk.to_vec(),
            high_resolution,
        })
        .collect()
}

/// One datum with a single value.
pub fn single(
    name: &str,
    dimensions: &[(String, String)],
    unit: &'static str,
    timestamp: i64,
    value: f64,
) -> Datum {
    Datum {
        name: name.to_owned(),
        dimensions: dimensions.to_vec(),
        unit,
        timestamp,
        values: vec![(value, 1.0)],
        high_resolution: false,
    }
}

/// Splits datums into calls: a new call when the next datum would pass 1000 datums or 1 MB.
pub fn pack(datums: Vec<Datum>) -> Vec<Vec<Datum>> {
    let mut calls: Vec<Vec<Datum>> = Vec::new();
    let mut bytes = 0;
    for d in datums {
        let size = d.wire_size();
        match calls.last_mut() {
            Some(call)
                if call.len() < MAX_DATUMS_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL =>
            {
                bytes += size;
                call.push(d);
            }
            _ => {
                bytes = size;
                calls.push(vec![d]);
            }
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datums(n: usize) -> Vec<Datum> {
        (0..n)
            .map(|i| single("M", &[], "Count", i as i64, 1.0))
            .collect()
    }

    #[test]
    fn calls_split_at_exactly_1000_datums() {
        assert_eq!(pack(datums(1000)).len(), 1);
        let calls = pack(datums(1001));
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 1]);
        assert_eq!(pack(datums(2500)).len(), 3);
        assert!(pack(vec![]).is_empty());
    }

    #[test]
    fn distributions_split_at_exactly_150_distinct_values_and_count_repeats() {
        let values: Vec<f64> = (0..300).map(|i| f64::from(i % 151)).collect();
        let d = distribution("Lat", &[], "Milliseconds", 0, &values, false);
        assert_eq!(
            d.iter().map(|d| d.values.len()).collect::<Vec<_>>(),
            [150, 1]
        );
        let total: f64 = d.iter().flat_map(|d| d.values.iter().map(|v| v.1)).sum();
        assert_eq!(total, 300.0);
        assert_eq!(
            distribution("Lat", &[], "Milliseconds", 0, &[1.0; 150], false)[0].values,
            [(1.0, 150.0)]
        );
    }

    #[test]
    fn calls_stay_under_a_megabyte() {
        let values: Vec<f64> = (0..150).map(f64::from).collect();
        let big: Vec<Datum> = (0..400)
            .flat_map(|t| {
                distribution(
                    "Lat",
                    &[("Route".into(), "x".repeat(200))],
                    "Milliseconds",
                    t,
                    &values,
                    false,
                )
            })
            .collect();
        let calls = pack(big);
        assert!(calls.len() > 1);
        for c in &calls {
            assert!(c.iter().map(Datum::wire_size).sum::<usize>() <= MAX_BYTES_PER_CALL);
        }
    }

    #[test]
    fn the_sdk_datum_carries_values_counts_and_resolution() {
        let d = distribution(
            "Lat",
            &[("R".into(), "a".into())],
            "Milliseconds",
            60,
            &[1.0, 1.0, 2.0],
            true,
        );
        let sdk = d[0].to_sdk();
        assert_eq!(sdk.values(), [1.0, 2.0]);
        assert_eq!(sdk.counts(), [2.0, 1.0]);
        assert_eq!(sdk.storage_resolution(), Some(1));
        assert_eq!(sdk.unit(), Some(&StandardUnit::Milliseconds));
    }
}

//! Lambda's price: billed GB-seconds at the architecture's rate, plus a fee per request.
//! Defaults are AWS's public on-demand prices (us-east-1, first tier).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Arch {
    Arm64,
    X86_64,
}

/// Prices in USD.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pricing {
    pub arm64_per_gb_second: f64,
    pub x86_64_per_gb_second: f64,
    pub per_request: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        let p = stoker_kit::cost::Prices::default();
        Pricing {
            arm64_per_gb_second: p.lambda_arm64_gb_second,
            x86_64_per_gb_second: p.lambda_x86_64_gb_second,
            per_request: p.lambda_request,
        }
    }
}

impl Pricing {
    /// The defaults, overridden by `STOKER_PRICE_ARM64_GB_SECOND`,
    /// `STOKER_PRICE_X86_64_GB_SECOND` and `STOKER_PRICE_PER_REQUEST` (USD; a price that is not
    /// a finite number of at least 0 is an error naming its variable).
    pub fn read(
        vars: &stoker_kit::section::Vars<'_>,
    ) -> Result<Self, stoker_kit::config::ConfigError> {
        // The kit's prices read the same variables (its cost ledger prices Lambda time too).
        let p = stoker_kit::cost::Prices::read(vars)?;
        Ok(Pricing {
            arm64_per_gb_second: p.lambda_arm64_gb_second,
            x86_64_per_gb_second: p.lambda_x86_64_gb_second,
            per_request: p.lambda_request,
        })
    }
}

/// DynamoDB's prices in USD (us-east-1, standard table class).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DynamoPricing {
    /// On demand, per read / write request unit.
    pub per_read_request_unit: f64,
    pub per_write_request_unit: f64,
    /// Provisioned, per capacity unit and hour.
    pub per_rcu_hour: f64,
    pub per_wcu_hour: f64,
}

impl Default for DynamoPricing {
    fn default() -> Self {
        DynamoPricing {
            per_read_request_unit: 0.125 / 1e6,
            per_write_request_unit: 0.625 / 1e6,
            per_rcu_hour: 0.000_13,
            per_wcu_hour: 0.000_65,
        }
    }
}

/// Average seconds in a month (365.25 / 12 days).
pub const SECONDS_PER_MONTH: f64 = 2_629_800.0;

impl Pricing {
    fn per_gb_second(&self, arch: Arch) -> f64 {
        match arch {
            Arch::Arm64 => self.arm64_per_gb_second,
            Arch::X86_64 => self.x86_64_per_gb_second,
        }
    }

    /// The cost of one invocation: billed GB-s (memory in MB / 1024 x billed ms / 1000) at the
    /// architecture's rate, plus the request fee.
    pub fn per_invocation(&self, memory_mb: u32, billed_ms: f64, arch: Arch) -> f64 {
        let gb_s = f64::from(memory_mb) / 1024.0 * billed_ms / 1000.0;
        gb_s * self.per_gb_second(arch) + self.per_request
    }

    /// The monthly cost at `invocations_per_second`.
    pub fn monthly(
        &self,
        memory_mb: u32,
        billed_ms: f64,
        arch: Arch,
        invocations_per_second: f64,
    ) -> f64 {
        self.per_invocation(memory_mb, billed_ms, arch) * invocations_per_second * SECONDS_PER_MONTH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12_f64.max(b.abs() * 1e-9)
    }

    #[test]
    fn hand_computed_costs() {
        let p = Pricing::default();
        // 1024 MB for 1000 ms = 1 GB-s.
        assert!(close(
            p.per_invocation(1024, 1000.0, Arch::Arm64),
            0.000_013_333_4 + 0.000_000_2
        ));
        // 512 MB for 100 ms = 0.05 GB-s on x86_64.
        assert!(close(
            p.per_invocation(512, 100.0, Arch::X86_64),
            0.05 * 0.000_016_666_7 + 0.000_000_2
        ));
        // 128 MB for 1 ms: the request fee dominates.
        assert!(close(
            p.per_invocation(128, 1.0, Arch::Arm64),
            0.125 * 0.001 * 0.000_013_333_4 + 0.000_000_2
        ));
        // One invocation per second for a month at 1 GB-s each on arm64: about 35.59 USD.
        let m = p.monthly(1024, 1000.0, Arch::Arm64, 1.0);
        assert!((m - 35.59).abs() < 0.01, "{m}");
    }
}

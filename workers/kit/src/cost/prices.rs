//! What AWS charges for the calls a job makes: public on-demand prices (us-east-1, first tier,
//! standard classes), each overridable by a `STOKER_PRICE_*` variable.

use serde::Serialize;

use crate::config::ConfigError;
use crate::section::Vars;

/// Prices in USD.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    /// DynamoDB on demand, per write request unit (`STOKER_PRICE_DYNAMODB_WRITE_UNIT`).
    pub dynamodb_write_unit: f64,
    /// DynamoDB on demand, per read request unit (`STOKER_PRICE_DYNAMODB_READ_UNIT`).
    pub dynamodb_read_unit: f64,
    /// SQS standard queue, per request (`STOKER_PRICE_SQS_REQUEST`).
    pub sqs_request: f64,
    /// EventBridge custom event published, per entry (`STOKER_PRICE_EVENTS_ENTRY`).
    pub events_entry: f64,
    /// CloudWatch API, per request (`STOKER_PRICE_CLOUDWATCH_REQUEST`).
    pub cloudwatch_request: f64,
    /// Lambda, per invocation (`STOKER_PRICE_PER_REQUEST`, as the optimizer reads it).
    pub lambda_request: f64,
    /// Lambda on arm64, per GB-second (`STOKER_PRICE_ARM64_GB_SECOND`).
    pub lambda_arm64_gb_second: f64,
    /// Lambda on x86_64, per GB-second (`STOKER_PRICE_X86_64_GB_SECOND`).
    pub lambda_x86_64_gb_second: f64,
    /// S3 standard PUT, COPY, POST and LIST, per request (`STOKER_PRICE_S3_WRITE_REQUEST`).
    pub s3_write_request: f64,
    /// S3 standard GET and every other request, per request (`STOKER_PRICE_S3_READ_REQUEST`).
    pub s3_read_request: f64,
    /// S3 standard storage, per GB and month (`STOKER_PRICE_S3_GB_MONTH`): a job's uploads are
    /// priced as a month of storage.
    pub s3_gb_month: f64,
    /// A CloudWatch standard alarm, per metric it reads and month (`STOKER_PRICE_ALARM_MONTH`).
    pub alarm_month: f64,
    /// A CloudWatch composite alarm, per month (`STOKER_PRICE_COMPOSITE_ALARM_MONTH`).
    pub composite_alarm_month: f64,
    /// A CloudWatch custom metric, per month (`STOKER_PRICE_METRIC_MONTH`).
    pub metric_month: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            dynamodb_write_unit: 0.625 / 1e6,
            dynamodb_read_unit: 0.125 / 1e6,
            sqs_request: 0.40 / 1e6,
            events_entry: 1.00 / 1e6,
            cloudwatch_request: 0.01 / 1e3,
            lambda_request: 0.20 / 1e6,
            lambda_arm64_gb_second: 0.000_013_333_4,
            lambda_x86_64_gb_second: 0.000_016_666_7,
            s3_write_request: 0.005 / 1e3,
            s3_read_request: 0.0004 / 1e3,
            s3_gb_month: 0.023,
            alarm_month: 0.10,
            composite_alarm_month: 0.50,
            metric_month: 0.30,
        }
    }
}

impl Prices {
    /// The defaults, each overridden by its `STOKER_PRICE_*` variable (USD; a price that is not
    /// a finite number of at least 0 is an error naming its variable).
    pub fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let d = Prices::default();
        let price = |var: &'static str, default: f64| -> Result<f64, ConfigError> {
            match vars.number::<f64>(var)? {
                None => Ok(default),
                Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
                Some(v) => Err(ConfigError {
                    var,
                    problem: format!("{v} is not a price (a finite number of USD, at least 0)"),
                    output: None,
                }),
            }
        };
        Ok(Prices {
            dynamodb_write_unit: price("STOKER_PRICE_DYNAMODB_WRITE_UNIT", d.dynamodb_write_unit)?,
            dynamodb_read_unit: price("STOKER_PRICE_DYNAMODB_READ_UNIT", d.dynamodb_read_unit)?,
            sqs_request: price("STOKER_PRICE_SQS_REQUEST", d.sqs_request)?,
            events_entry: price("STOKER_PRICE_EVENTS_ENTRY", d.events_entry)?,
            cloudwatch_request: price("STOKER_PRICE_CLOUDWATCH_REQUEST", d.cloudwatch_request)?,
            lambda_request: price("STOKER_PRICE_PER_REQUEST", d.lambda_request)?,
            lambda_arm64_gb_second: price(
                "STOKER_PRICE_ARM64_GB_SECOND",
                d.lambda_arm64_gb_second,
            )?,
            lambda_x86_64_gb_second: price(
                "STOKER_PRICE_X86_64_GB_SECOND",
                d.lambda_x86_64_gb_second,
            )?,
            s3_write_request: price("STOKER_PRICE_S3_WRITE_REQUEST", d.s3_write_request)?,
            s3_read_request: price("STOKER_PRICE_S3_READ_REQUEST", d.s3_read_request)?,
            s3_gb_month: price("STOKER_PRICE_S3_GB_MONTH", d.s3_gb_month)?,
            alarm_month: price("STOKER_PRICE_ALARM_MONTH", d.alarm_month)?,
            composite_alarm_month: price(
                "STOKER_PRICE_COMPOSITE_ALARM_MONTH",
                d.composite_alarm_month,
            )?,
            metric_month: price("STOKER_PRICE_METRIC_MONTH", d.metric_month)?,
        })
    }

    /// The prices of this process's environment, read once; a variable that is not a price is
    /// logged and its default used (the job's cost must never fail the job).
    pub fn current() -> &'static Prices {
        static PRICES: std::sync::OnceLock<Prices> = std::sync::OnceLock::new();
        PRICES.get_or_init(|| {
            let get = |k: &str| std::env::var(k).ok();
            Prices::read(&Vars::new(&get)).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a STOKER_PRICE_* variable is unusable: the public prices are used");
                Prices::default()
            })
        })
    }

    /// Lambda's price per GB-second on this binary's architecture.
    pub fn lambda_gb_second(&self) -> f64 {
        if cfg!(target_arch = "aarch64") {
            self.lambda_arm64_gb_second
        } else {
            self.lambda_x86_64_gb_second
        }
    }
}

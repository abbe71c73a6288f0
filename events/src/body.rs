//! The typed body of an event: one variant per kind.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DecodeError;
use crate::kind::Kind;
use crate::validate::{Validate, Validator};

/// A payload type: its kind and the rules it keeps.
pub trait Payload:
    Serialize + DeserializeOwned + schemars::JsonSchema + Validate + Into<Body>
{
    const KIND: Kind;

    /// This payload, when `body` is of its kind.
    fn from_body(body: &Body) -> Option<&Self>;
}

/// Makes `Body` and its [`Payload`] impls (called by `crate::kind::catalog`).
macro_rules! bodies {
    ($($variant:ident($ty:ty) = $kind:ident),* $(,)?) => {
        /// The payload of a decoded event.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Body {
            $($variant($ty)),*
        }

        impl Body {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Body::$variant(_) => Kind::$kind),*
                }
            }

            /// The payload as JSON (what goes into an envelope's `payload`).
            pub fn to_value(&self) -> serde_json::Value {
                match self {
                    $(Body::$variant(p) => serde_json::to_value(p).unwrap_or_default()),*
                }
            }

            /// Decodes and validates a payload of `kind`.
            pub(crate) fn from_value(kind: Kind, value: serde_json::Value) -> Result<Body, $crate::DecodeError> {
                match kind {
                    $(Kind::$kind => $crate::body::typed::<$ty>(value).map(Body::$variant)),*
                }
            }

            /// The JSON Schema of the payload of `kind`.
            pub(crate) fn envelope_schema(kind: Kind) -> schemars::Schema {
                match kind {
                    $(Kind::$kind => schemars::schema_for!(crate::Envelope<$ty>)),*
                }
            }
        }

        $(
            impl $crate::Payload for $ty {
                const KIND: Kind = Kind::$kind;

                fn from_body(body: &Body) -> Option<&Self> {
                    match body {
                        Body::$variant(p) => Some(p),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
            impl From<$ty> for Body {
                fn from(p: $ty) -> Body {
                    Body::$variant(p)
                }
            }
        )*
    };
}
pub(crate) use bodies;

pub use crate::payload::Body;

pub(crate) fn typed<T: Payload>(value: serde_json::Value) -> Result<T, DecodeError> {
    // serde would also read a struct from a JSON array (its fields in order); the schema says
    // object, so the decoder does too.
    if !value.is_object() {
        return Err(DecodeError::Malformed {
            kind: Some(T::KIND),
            path: String::new(),
            message: format!(
                "the payload must be a JSON object, not {}",
                json_type(&value)
            ),
        });
    }
    let payload: T =
        serde_path_to_error::deserialize(value).map_err(|e| DecodeError::Malformed {
            kind: Some(T::KIND),
            path: path_of(e.path()),
            message: e.into_inner().to_string(),
        })?;
    Validator::check(&payload).map_err(|errors| DecodeError::Invalid {
        kind: T::KIND,
        errors,
    })?;
    Ok(payload)
}

/// serde_path_to_error renders `?` for the root and `a.b[2]` below it.
pub(crate) fn path_of(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." || s == "?" {
        String::new()
    } else {
        s
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

//! Where a deployable's secrets come from.
//!
//! A secret `NAME` is given in one of two ways:
//!
//! - `NAME` holds the value itself, or
//! - `NAME_PARAMETER` holds the name of an SSM Parameter Store parameter
//!   (normally a SecureString) that is read, decrypted, once at start with
//!   the process's AWS credentials (cargo feature `aws`; endpoint, region
//!   and credentials come from the environment as `aws-config` reads them,
//!   so `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SSM` are honoured).
//!
//! Neither set means no secret ([`SecretReader::read`] returns `None`);
//! what that means is the caller's business. Everything else that is not
//! clearly one source — both set, a parameter name in a build without AWS
//! support, a parameter that is missing, unreadable or empty — is an error,
//! so a deployable that was meant to have a secret never starts without it.

use std::env::VarError;
use std::fmt;

/// Appended to a secret's variable name to name the variable that holds
/// its SSM parameter's name instead (`EDGECALL_TOKEN_SECRET` →
/// `EDGECALL_TOKEN_SECRET_PARAMETER`).
pub const PARAMETER_SUFFIX: &str = "_PARAMETER";

/// Where one secret comes from, as the environment says.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself, from `NAME`.
    Value(String),
    /// The name of the SSM parameter holding the value, from
    /// `NAME_PARAMETER`.
    Parameter(String),
}

impl fmt::Debug for SecretSource {
    /// Names the parameter but never shows a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            SecretSource::Parameter(name) => f.debug_tuple("Parameter").field(name).finish(),
        }
    }
}

/// Why a secret's source could not be decided or its value not read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Both `NAME` and `NAME_PARAMETER` are set.
    #[error(
        "both {name} and {parameter_var} are set; set only one: {name} to the value, or \
         {parameter_var} to the name of the SSM parameter holding it"
    )]
    Conflict {
        /// The value's variable.
        name: String,
        /// The parameter name's variable.
        parameter_var: String,
    },
    /// A variable is set but not valid Unicode.
    #[error("{var} is set but is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        var: String,
    },
    /// `NAME_PARAMETER` is set to nothing.
    #[error("{parameter_var} is set but empty; set it to an SSM parameter name, or unset it")]
    EmptyParameterName {
        /// The parameter name's variable.
        parameter_var: String,
    },
    /// `NAME_PARAMETER` is set in a build without the `aws` feature.
    #[error(
        "{parameter_var}={parameter:?}: this build cannot read SSM parameters; rebuild with \
         `--features aws`, or set {name} to the value instead"
    )]
    NoParameterStore {
        /// The value's variable.
        name: String,
        /// The parameter name's variable.
        parameter_var: String,
        /// The parameter it names.
        parameter: String,
    },
    /// The parameter could not be read (missing, not permitted, no
    /// network, …); the source says why.
    #[error("reading SSM parameter {parameter:?} (from {parameter_var})")]
    Unreadable {
        /// The parameter name's variable.
        parameter_var: String,
        /// The parameter.
        parameter: String,
        /// What the SSM client reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The parameter exists but holds no value.
    #[error("SSM parameter {parameter:?} (from {parameter_var}) is empty")]
    EmptyParameter {
        /// The parameter name's variable.
        parameter_var: String,
        /// The parameter.
        parameter: String,
    },
}

/// The variable holding the SSM parameter name for secret `name`.
pub fn parameter_var(name: &str) -> String {
    format!("{name}{PARAMETER_SUFFIX}")
}

/// Decides where secret `name` comes from, looking variables up with
/// `lookup` (`std::env::var` in production). `Ok(None)`: neither `name`
/// nor its `_PARAMETER` variable is set. Touches no network.
pub fn source_of(
    name: &str,
    lookup: impl Fn(&str) -> Result<String, VarError>,
) -> Result<Option<SecretSource>, SecretError> {
    let parameter_var = parameter_var(name);
    let get = |var: &str| match lookup(var) {
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(SecretError::NotUnicode {
            var: var.to_owned(),
        }),
    };
    match (get(name)?, get(&parameter_var)?) {
        (Some(_), Some(_)) => Err(SecretError::Conflict {
            name: name.to_owned(),
            parameter_var,
        }),
        (Some(value), None) => Ok(Some(SecretSource::Value(value))),
        (None, Some(parameter)) if parameter.trim().is_empty() => {
            Err(SecretError::EmptyParameterName { parameter_var })
        }
        (None, Some(parameter)) => Ok(Some(SecretSource::Parameter(parameter))),
        (None, None) => Ok(None),
    }
}

/// Reads secrets from the process environment, fetching `_PARAMETER` ones
/// from SSM with one client made on first use.
#[derive(Default)]
pub struct SecretReader {
    #[cfg(feature = "aws")]
    ssm: tokio::sync::OnceCell<aws_sdk_ssm::Client>,
}

impl SecretReader {
    /// A reader over the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Secret `name`'s bytes: from `name`, from the SSM parameter
    /// `name_PARAMETER` names, or `None` when neither is set. Any doubt is
    /// an error (see the module documentation).
    pub async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        match source_of(name, |var| std::env::var(var))? {
            None => Ok(None),
            Some(SecretSource::Value(value)) => Ok(Some(value.into_bytes())),
            Some(SecretSource::Parameter(parameter)) => {
                let parameter_var = parameter_var(name);
                let value = self.parameter(name, &parameter_var, &parameter).await?;
                if value.is_empty() {
                    return Err(SecretError::EmptyParameter {
                        parameter_var,
                        parameter,
                    });
                }
                tracing::info!(secret = name, %parameter, "read the secret from SSM");
                Ok(Some(value.into_bytes()))
            }
        }
    }

    /// The decrypted value of SSM parameter `parameter`.
    #[cfg(feature = "aws")]
    async fn parameter(
        &self,
        _name: &str,
        parameter_var: &str,
        parameter: &str,
    ) -> Result<String, SecretError> {
        use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata};
        use aws_sdk_ssm::types::ParameterType;

        let unreadable =
            |source: Box<dyn std::error::Error + Send + Sync>| SecretError::Unreadable {
                parameter_var: parameter_var.to_owned(),
                parameter: parameter.to_owned(),
                source,
            };
        let client = self
            .ssm
            .get_or_init(|| async { aws_sdk_ssm::Client::new(&aws_config::load_from_env().await) })
            .await;
        let output = client
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
            // The SDK's own Display is only "service error": say what SSM
            // answered (ParameterNotFound, AccessDeniedException…), or for
            // a request that got no answer, the chain of causes.
            .map_err(|err| {
                let why = match (err.code(), err.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    _ => DisplayErrorContext(&err).to_string(),
                };
                unreadable(why.into())
            })?;
        let found = output
            .parameter
            .ok_or_else(|| unreadable("GetParameter answered without a parameter".into()))?;
        if found.r#type != Some(ParameterType::SecureString) {
            tracing::warn!(
                %parameter,
                kind = ?found.r#type,
                "the secret's SSM parameter is not a SecureString: it is stored unencrypted"
            );
        }
        Ok(found.value.unwrap_or_default())
    }

    /// Without the `aws` feature a parameter cannot be read: refuse, never
    /// fall back to running without the secret.
    #[cfg(not(feature = "aws"))]
    async fn parameter(
        &self,
        name: &str,
        parameter_var: &str,
        parameter: &str,
    ) -> Result<String, SecretError> {
        Err(SecretError::NoParameterStore {
            name: name.to_owned(),
            parameter_var: parameter_var.to_owned(),
            parameter: parameter.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |var| map.get(var).cloned().ok_or(VarError::NotPresent)
    }

    #[test]
    fn neither_variable_set_is_no_secret() {
        assert_eq!(source_of("S", env(&[("OTHER", "x")])).unwrap(), None);
    }

    #[test]
    fn the_plain_variable_is_the_value() {
        assert_eq!(
            source_of("S", env(&[("S", "hunter2")])).unwrap(),
            Some(SecretSource::Value("hunter2".into()))
        );
    }

    #[test]
    fn the_parameter_variable_names_the_parameter() {
        assert_eq!(
            source_of("S", env(&[("S_PARAMETER", "/edgecall/s")])).unwrap(),
            Some(SecretSource::Parameter("/edgecall/s".into()))
        );
    }

    #[test]
    fn both_set_is_refused_naming_both_variables() {
        let err = source_of("S", env(&[("S", "v"), ("S_PARAMETER", "/p")])).unwrap_err();
        assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("S and S_PARAMETER"), "{text}");
    }

    #[test]
    fn both_set_is_refused_even_when_one_is_empty() {
        for pairs in [
            [("S", ""), ("S_PARAMETER", "/p")],
            [("S", "v"), ("S_PARAMETER", "")],
        ] {
            let err = source_of("S", env(&pairs)).unwrap_err();
            assert!(matches!(err, SecretError::Conflict { .. }), "{err:?}");
        }
    }

    #[test]
    fn an_empty_parameter_name_is_refused() {
        for blank in ["", "  "] {
            let err = source_of("S", env(&[("S_PARAMETER", blank)])).unwrap_err();
            assert!(
                matches!(err, SecretError::EmptyParameterName { .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("S_PARAMETER"), "{err}");
        }
    }

    #[test]
    fn a_variable_that_is_not_unicode_is_refused_not_ignored() {
        let lookup = |var: &str| {
            if var == "S" {
                Err(VarError::NotUnicode(std::ffi::OsString::from("x")))
            } else {
                Err(VarError::NotPresent)
            }
        };
        let err = source_of("S", lookup).unwrap_err();
        assert!(matches!(err, SecretError::NotUnicode { ref var } if var == "S"));
    }

    #[test]
    fn debug_output_never_shows_a_value() {
        let shown = format!("{:?}", SecretSource::Value("hunter2".into()));
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", SecretSource::Parameter("/edgecall/s".into()));
        assert!(shown.contains("/edgecall/s"), "{shown}");
    }

    #[test]
    fn the_parameter_variable_is_the_name_with_the_suffix() {
        assert_eq!(
            parameter_var("EDGECALL_TOKEN_SECRET"),
            "EDGECALL_TOKEN_SECRET_PARAMETER"
        );
    }

    #[cfg(not(feature = "aws"))]
    #[tokio::test]
    async fn a_parameter_without_aws_support_is_refused_never_open() {
        let reader = SecretReader::new();
        let err = reader
            .parameter("S", "S_PARAMETER", "/edgecall/s")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("S_PARAMETER"), "{text}");
        assert!(text.contains("--features aws"), "{text}");
    }
}

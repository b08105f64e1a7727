//! ServiceAccounts: names are DNS-1123 subdomains; nothing else is validated or defaulted
//! (upstream `ValidateServiceAccount`).

use k8s_openapi::api::core::v1::ServiceAccount;

use crate::registry::Strategy;

/// The strategy of `serviceaccounts`.
pub struct ServiceAccountStrategy;

impl Strategy for ServiceAccountStrategy {
    type Object = ServiceAccount;
}

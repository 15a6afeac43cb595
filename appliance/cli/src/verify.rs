//! `stella verify-evidence`: offline checks of a scan's signed evidence.

use crate::cli::VerifyArgs;
use crate::error::CliError;

/// `stella verify-evidence`.
///
/// # Errors
/// [`CliError::NotAvailable`] until `signing::dsse` lands.
pub fn verify_evidence(_args: &VerifyArgs) -> Result<u8, CliError> {
    Err(CliError::NotAvailable("verify-evidence"))
}

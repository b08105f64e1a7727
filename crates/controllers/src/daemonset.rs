//! FIXME: the daemonset controller is being written.

use std::sync::Arc;

use crate::Context;

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let _ = ctx;
}

//! The scheduler: assigns each pending pod with `schedulerName: default-scheduler` to a node
//! through `pods/binding`.

use kube::Client;

/// The scheduler name pods ask for by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// Runs the scheduler until the process ends.
pub async fn run(client: Client) {
    // FIXME: the scheduler is being written; until then pods stay Pending.
    let _ = client;
    std::future::pending::<()>().await
}

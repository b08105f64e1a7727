//! Strategies of the `batch` group: Jobs and CronJobs, plus the cron schedule parser CronJob
//! validation uses.

pub mod cron;
pub mod cron_job;
pub mod job;

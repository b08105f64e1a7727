//! Tables of the workload strategies: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ControllerRevisions, Jobs and CronJobs.

use serde_json::{Value, json};

use super::tester::{assert_fields, create, created, info, test_create, test_update};

fn template(labels: Value) -> Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn workload(spec: Value) -> Value {
    json!({"metadata": {"name": "web"}, "spec": spec})
}

fn selector(labels: Value) -> Value {
    json!({"matchLabels": labels})
}

const NO_SELECTOR: &[&str] = &[
    "spec.selector: Required value",
    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
];

const MISMATCH: &[&str] = &[
    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
];

#[test]
fn deployment() {
    let d = info("apps", "Deployment");
    let good = workload(
        json!({"selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"}))}),
    );
    test_create(
        d,
        &[
            good.clone(),
            workload(json!({
                "replicas": 0,
                "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
                "template": template(json!({"app": "web"})),
                "strategy": {"type": "Recreate"}
            })),
        ],
        &[
            (
                workload(json!({"template": template(json!({"app": "web"}))})),
                NO_SELECTOR,
            ),
            (
                workload(
                    json!({"selector": selector(json!({"app": "api"})), "template": template(json!({"app": "web"}))}),
                ),
                MISMATCH,
            ),
            (
                workload(
                    json!({"replicas": -1, "selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"}))}),
                ),
                &["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "nginx"}]}}
                })),
                &[
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
                })),
                &["spec.template.spec.containers[0].image: Required value"],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": template(json!({"app": "web"})),
                    "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
                })),
                &[
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
                ],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": template(json!({"app": "web"})),
                    "strategy": {"rollingUpdate": {"maxUnavailable": "110%"}}
                })),
                &[
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"110%\": must not be greater than 100%",
                ],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": template(json!({"app": "web"})),
                    "strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
                })),
                &[
                    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
                ],
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": template(json!({"app": "web"})),
                    "minReadySeconds": 700
                })),
                &[
                    "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
                ],
            ),
        ],
    );
    let stored = created(d, good.clone());
    assert_fields(
        &stored,
        &[
            ("/spec/replicas", json!(1)),
            ("/spec/strategy/type", json!("RollingUpdate")),
            ("/spec/strategy/rollingUpdate/maxUnavailable", json!("25%")),
            ("/spec/strategy/rollingUpdate/maxSurge", json!("25%")),
            ("/spec/revisionHistoryLimit", json!(10)),
            ("/spec/progressDeadlineSeconds", json!(600)),
            ("/spec/template/spec/restartPolicy", json!("Always")),
            (
                "/spec/template/spec/containers/0/imagePullPolicy",
                json!("Always"),
            ),
        ],
    );
    assert!(
        stored
            .pointer("/spec/template/spec/serviceAccountName")
            .is_none(),
        "admission defaults only pods"
    );
    assert!(crate::registry::strategy(d).tracks_generation());
    test_update(
        d,
        good,
        &[workload(
            json!({"replicas": 3, "selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web", "v": "2"}))}),
        )],
        &[(
            workload(
                json!({"selector": selector(json!({"app": "web", "v": "2"})), "template": template(json!({"app": "web", "v": "2"}))}),
            ),
            &[
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            ],
        )],
    );
}

#[test]
fn replica_set() {
    let rs = info("apps", "ReplicaSet");
    let good = workload(
        json!({"selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"}))}),
    );
    test_create(
        rs,
        std::slice::from_ref(&good),
        &[
            (
                workload(json!({"template": template(json!({"app": "web"}))})),
                NO_SELECTOR,
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"activeDeadlineSeconds": 5, "containers": [{"name": "c", "image": "nginx"}]}}
                })),
                &[
                    "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
                ],
            ),
        ],
    );
    assert_fields(&created(rs, good), &[("/spec/replicas", json!(1))]);
}

#[test]
fn stateful_set() {
    let sts = info("apps", "StatefulSet");
    let claim = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    let mut mounting = template(json!({"app": "db"}));
    mounting["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/var/lib/db"}]);
    let good = workload(json!({
        "serviceName": "db",
        "selector": selector(json!({"app": "db"})),
        "template": mounting,
        "volumeClaimTemplates": [claim]
    }));
    test_create(
        sts,
        std::slice::from_ref(&good),
        &[
            (
                workload(json!({"template": template(json!({"app": "web"}))})),
                NO_SELECTOR,
            ),
            (
                workload(
                    json!({"selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"})), "podManagementPolicy": "Random"}),
                ),
                &[
                    "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                ],
            ),
            (
                workload(
                    json!({"selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"})), "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {}}]}),
                ),
                &[
                    "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required",
                    "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value",
                ],
            ),
        ],
    );
    let stored = created(sts, good.clone());
    assert_fields(
        &stored,
        &[
            ("/spec/replicas", json!(1)),
            ("/spec/podManagementPolicy", json!("OrderedReady")),
            (
                "/spec/updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            ),
            ("/spec/revisionHistoryLimit", json!(10)),
            (
                "/spec/persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            ),
            (
                "/spec/volumeClaimTemplates/0/spec/volumeMode",
                json!("Filesystem"),
            ),
            (
                "/spec/volumeClaimTemplates/0/status/phase",
                json!("Pending"),
            ),
        ],
    );
    let mut scaled = good.clone();
    scaled["spec"]["replicas"] = json!(3);
    let mut renamed = good.clone();
    renamed["spec"]["serviceName"] = json!("other");
    test_update(
        sts,
        good,
        &[scaled],
        &[(
            renamed,
            &[
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ],
        )],
    );
}

#[test]
fn daemon_set() {
    let ds = info("apps", "DaemonSet");
    let good = workload(
        json!({"selector": selector(json!({"app": "web"})), "template": template(json!({"app": "web"}))}),
    );
    test_create(
        ds,
        std::slice::from_ref(&good),
        &[
            (
                workload(json!({"template": template(json!({"app": "web"}))})),
                MISMATCH,
            ),
            (
                workload(json!({
                    "selector": selector(json!({"app": "web"})),
                    "template": template(json!({"app": "web"})),
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
                })),
                &[
                    "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero",
                ],
            ),
        ],
    );
    let stored = created(ds, good.clone());
    assert_fields(
        &stored,
        &[
            ("/spec/updateStrategy/type", json!("RollingUpdate")),
            (
                "/spec/updateStrategy/rollingUpdate/maxUnavailable",
                json!(1),
            ),
            ("/spec/updateStrategy/rollingUpdate/maxSurge", json!(0)),
            ("/spec/revisionHistoryLimit", json!(10)),
        ],
    );
    test_update(
        ds,
        good,
        &[],
        &[(
            workload(
                json!({"selector": selector(json!({"app": "x"})), "template": template(json!({"app": "x"}))}),
            ),
            &[
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            ],
        )],
    );
}

#[test]
fn controller_revision() {
    let cr = info("apps", "ControllerRevision");
    test_create(
        cr,
        &[json!({"metadata": {"name": "web-1"}, "data": {"spec": {}}, "revision": 1})],
        &[
            (
                json!({"metadata": {"name": "web-1"}, "revision": 1}),
                &["data: Required value: data is mandatory"],
            ),
            (
                json!({"metadata": {"name": "web-1"}, "data": {}, "revision": -1}),
                &["revision: Invalid value: -1: must be greater than or equal to 0"],
            ),
        ],
    );
}

fn job(spec: Value) -> Value {
    json!({"metadata": {"name": "pi", "uid": "3b1c2c1a-1111-2222-3333-444455556666"}, "spec": spec})
}

fn job_template() -> Value {
    json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}})
}

#[test]
fn job_strategy() {
    let j = info("batch", "Job");
    test_create(
        j,
        &[
            job(json!({"template": job_template()})),
            job(
                json!({"completions": 5, "parallelism": 2, "completionMode": "Indexed", "template": job_template()}),
            ),
            job(json!({"completionMode": "Indexed", "template": job_template()})),
            job(
                json!({"manualSelector": true, "selector": selector(json!({"app": "pi"})), "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "pi", "image": "perl"}]}}}),
            ),
        ],
        &[
            (
                job(
                    json!({"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}),
                ),
                &[
                    "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                job(
                    json!({"template": {"spec": {"restartPolicy": "Sometimes", "containers": [{"name": "pi", "image": "perl"}]}}}),
                ),
                &[
                    "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                    "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                job(json!({"parallelism": -1, "backoffLimit": -2, "template": job_template()})),
                &[
                    "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                    "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
                ],
            ),
            (
                job(
                    json!({"manualSelector": true, "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}),
                ),
                &[
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                job(
                    json!({"completionMode": "Indexed", "completions": null, "parallelism": 2, "template": job_template()}),
                ),
                &["spec.completions: Required value: when completion mode is Indexed"],
            ),
        ],
    );
    let stored = created(j, job(json!({"template": job_template()})));
    let uid = "3b1c2c1a-1111-2222-3333-444455556666";
    assert_fields(
        &stored,
        &[
            ("/spec/completions", json!(1)),
            ("/spec/parallelism", json!(1)),
            ("/spec/backoffLimit", json!(6)),
            ("/spec/completionMode", json!("NonIndexed")),
            ("/spec/suspend", json!(false)),
            ("/spec/manualSelector", json!(false)),
            ("/spec/podReplacementPolicy", json!("TerminatingOrFailed")),
            (
                "/spec/selector",
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
            ),
            (
                "/spec/template/metadata/labels",
                json!({
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": "pi",
                    "controller-uid": uid,
                    "job-name": "pi"
                }),
            ),
            ("/metadata/labels/job-name", json!("pi")),
        ],
    );
    assert!(crate::registry::strategy(j).tracks_generation());
    // The template is immutable, except scheduling directives of suspended jobs never started.
    let mut changed = stored.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5");
    let (_, errors) = super::tester::update(j, &stored, changed);
    super::tester::assert_errors(
        &errors,
        &[
            "spec.template: Invalid value: core.PodTemplateSpec{...",
            "spec.template",
        ],
        "job template",
    );
    let suspended = created(j, job(json!({"suspend": true, "template": job_template()})));
    let mut scheduled = suspended.clone();
    scheduled["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    scheduled["spec"]["suspend"] = json!(false);
    let (_, errors) = super::tester::update(j, &suspended, scheduled);
    assert!(errors.is_empty(), "{errors:?}");
}

fn cron_job(spec: Value) -> Value {
    json!({"metadata": {"name": "hello"}, "spec": spec})
}

#[test]
fn cron_job_strategy() {
    let cj = info("batch", "CronJob");
    let jt = json!({"spec": {"template": job_template()}});
    test_create(
        cj,
        &[
            cron_job(json!({"schedule": "*/5 * * * *", "jobTemplate": jt.clone()})),
            cron_job(
                json!({"schedule": "@hourly", "jobTemplate": jt.clone(), "timeZone": "UTC", "concurrencyPolicy": "Forbid"}),
            ),
        ],
        &[
            (
                cron_job(json!({"jobTemplate": jt.clone()})),
                &["spec.schedule: Required value"],
            ),
            (
                cron_job(json!({"schedule": "61 * * * *", "jobTemplate": jt.clone()})),
                &[
                    "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
                ],
            ),
            (
                cron_job(json!({"schedule": "* * *", "jobTemplate": jt.clone()})),
                &[
                    "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]",
                ],
            ),
            (
                cron_job(json!({"schedule": "TZ=UTC * * * * *", "jobTemplate": jt.clone()})),
                &[
                    "spec.schedule: Invalid value: \"TZ=UTC * * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ],
            ),
            (
                cron_job(
                    json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}),
                ),
                &[
                    "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                cron_job(
                    json!({"schedule": "* * * * *", "jobTemplate": jt.clone(), "concurrencyPolicy": "Sometimes"}),
                ),
                &[
                    "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                ],
            ),
            (
                cron_job(
                    json!({"schedule": "* * * * *", "jobTemplate": jt.clone(), "timeZone": "Local"}),
                ),
                &[
                    "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                ],
            ),
            (
                cron_job(
                    json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"selector": selector(json!({"a": "b"})), "template": job_template()}}}),
                ),
                &[
                    "spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
                ],
            ),
        ],
    );
    let stored = created(
        cj,
        cron_job(json!({"schedule": "0 * * * *", "jobTemplate": jt})),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/concurrencyPolicy", json!("Allow")),
            ("/spec/suspend", json!(false)),
            ("/spec/successfulJobsHistoryLimit", json!(3)),
            ("/spec/failedJobsHistoryLimit", json!(1)),
            (
                "/spec/jobTemplate/spec/template/spec/dnsPolicy",
                json!("ClusterFirst"),
            ),
        ],
    );
    assert!(
        stored
            .pointer("/spec/jobTemplate/spec/backoffLimit")
            .is_none(),
        "job defaults do not apply to templates"
    );
    let (_, errors) = create(
        cj,
        json!({"metadata": {"name": "a-very-long-cron-job-name-that-exceeds-fifty-two-chars"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": job_template()}}}}),
    );
    super::tester::assert_errors(
        &errors,
        &[
            "metadata.name: Invalid value: \"a-very-long-cron-job-name-that-exceeds-fifty-two-chars\": must be no more than 52 characters",
        ],
        "cronjob name",
    );
}

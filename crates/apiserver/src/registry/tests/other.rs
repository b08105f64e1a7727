//! Tables of the smaller groups' strategies: networking, autoscaling, policy, coordination,
//! scheduling, storage, RBAC and `events.k8s.io`.

use serde_json::{Value, json};

use super::tester::{assert_fields, create, created, info, test_create, test_update};
use crate::registry::{NameRule, strategy, validate_name};

fn ingress(spec: Value) -> Value {
    json!({"metadata": {"name": "web"}, "spec": spec})
}

fn path(extra: Value) -> Value {
    let mut p = json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        p[k] = v;
    }
    p
}

#[test]
fn ingress_strategy() {
    let rules = |p: Value| json!([{"host": "example.com", "http": {"paths": [p]}}]);
    test_create(
        info("networking.k8s.io", "Ingress"),
        &[
            ingress(json!({"rules": rules(path(json!({})))})),
            ingress(
                json!({"defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}}}),
            ),
            ingress(
                json!({"rules": [{"host": "*.example.com", "http": {"paths": [path(json!({"pathType": "ImplementationSpecific", "path": ""}))]}}]}),
            ),
        ],
        &[
            (
                ingress(json!({})),
                &[
                    "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
                ],
            ),
            (
                ingress(
                    json!({"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}),
                ),
                &[
                    "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                ],
            ),
            (
                ingress(json!({"rules": rules(path(json!({"path": "api"})))})),
                &[
                    "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
                ],
            ),
            (
                ingress(json!({"rules": rules(path(json!({"pathType": "Regex"})))})),
                &[
                    "spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                ],
            ),
            (
                ingress(
                    json!({"rules": rules(path(json!({"backend": {"service": {"name": "web"}}})))}),
                ),
                &[
                    "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
                ],
            ),
            (
                ingress(
                    json!({"rules": [{"host": "10.0.0.1", "http": {"paths": [path(json!({}))]}}]}),
                ),
                &[
                    "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
                ],
            ),
        ],
    );
}

#[test]
fn network_policy() {
    let np = |spec: Value| json!({"metadata": {"name": "deny"}, "spec": spec});
    let npi = info("networking.k8s.io", "NetworkPolicy");
    test_create(
        npi,
        &[
            np(json!({"podSelector": {}})),
            np(
                json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 5432}]}]}),
            ),
        ],
        &[
            (
                np(json!({"podSelector": {}, "policyTypes": ["Sideways"]})),
                &[
                    "spec.policyTypes[0]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
                ],
            ),
            (
                np(json!({"podSelector": {}, "ingress": [{"from": [{}]}]})),
                &["spec.ingress[0].from[0]: Required value: must specify a peer"],
            ),
            (
                np(
                    json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
                ),
                &["spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer"],
            ),
        ],
    );
    let stored = created(
        npi,
        np(json!({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]})),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/policyTypes", json!(["Ingress", "Egress"])),
            ("/spec/egress/0/ports/0/protocol", json!("TCP")),
        ],
    );
}

#[test]
fn horizontal_pod_autoscaler() {
    let hpa = |spec: Value| json!({"metadata": {"name": "web"}, "spec": spec});
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    let hi = info("autoscaling", "HorizontalPodAutoscaler");
    test_create(
        hi,
        &[hpa(
            json!({"scaleTargetRef": target.clone(), "maxReplicas": 5}),
        )],
        &[
            (
                hpa(json!({"scaleTargetRef": target.clone(), "minReplicas": 0, "maxReplicas": 0})),
                &[
                    "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                    "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                ],
            ),
            (
                hpa(json!({"scaleTargetRef": target.clone(), "minReplicas": 5, "maxReplicas": 2})),
                &[
                    "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                ],
            ),
            (
                hpa(json!({"scaleTargetRef": {"kind": "Deployment"}, "maxReplicas": 2})),
                &["spec.scaleTargetRef.name: Required value"],
            ),
        ],
    );
    let stored = created(
        hi,
        hpa(
            json!({"scaleTargetRef": target, "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
        ),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/minReplicas", json!(1)),
            ("/spec/metrics/0/resource/name", json!("cpu")),
            (
                "/spec/metrics/0/resource/target/averageUtilization",
                json!(80),
            ),
            (
                "/spec/behavior/scaleDown/stabilizationWindowSeconds",
                json!(60),
            ),
            ("/spec/behavior/scaleUp/selectPolicy", json!("Max")),
        ],
    );
}

#[test]
fn pod_disruption_budget() {
    let pdb = |spec: Value| json!({"metadata": {"name": "web"}, "spec": spec});
    test_create(
        info("policy", "PodDisruptionBudget"),
        &[
            pdb(json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}})),
            pdb(json!({"maxUnavailable": "50%"})),
        ],
        &[
            (
                pdb(json!({"minAvailable": 1, "maxUnavailable": 1})),
                &["spec: Invalid value: policy.PodDisruptionBudgetSpec{..."],
            ),
            (
                pdb(json!({"minAvailable": "150%"})),
                &["spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"],
            ),
            (
                pdb(json!({"maxUnavailable": -1})),
                &["spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"],
            ),
        ],
    );
}

#[test]
fn lease_priority_class_storage_class() {
    test_create(
        info("coordination.k8s.io", "Lease"),
        &[
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
        ],
        &[(
            json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}),
            &[
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ],
        )],
    );
    let pc = info("scheduling.k8s.io", "PriorityClass");
    test_create(
        pc,
        &[
            json!({"metadata": {"name": "high"}, "value": 1000}),
            json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000}),
        ],
        &[
            (
                json!({"metadata": {"name": "huge"}, "value": 2000000000}),
                &[
                    "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
                ],
            ),
            (
                json!({"metadata": {"name": "system-mine"}, "value": 1}),
                &[
                    "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class",
                ],
            ),
        ],
    );
    assert_fields(
        &created(pc, json!({"metadata": {"name": "high"}, "value": 1000})),
        &[("/preemptionPolicy", json!("PreemptLowerPriority"))],
    );
    test_update(
        pc,
        json!({"metadata": {"name": "high"}, "value": 1000}),
        &[json!({"metadata": {"name": "high"}, "value": 1000, "description": "now described"})],
        &[(
            json!({"metadata": {"name": "high"}, "value": 2000}),
            &["value: Forbidden: may not be changed in an update."],
        )],
    );
    let sc = info("storage.k8s.io", "StorageClass");
    test_create(
        sc,
        &[json!({"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"})],
        &[
            (
                json!({"metadata": {"name": "standard"}}),
                &["provisioner: Required value"],
            ),
            (
                json!({"metadata": {"name": "standard"}, "provisioner": "x", "reclaimPolicy": "Recycle"}),
                &[
                    "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                ],
            ),
        ],
    );
    assert_fields(
        &created(
            sc,
            json!({"metadata": {"name": "standard"}, "provisioner": "x"}),
        ),
        &[
            ("/reclaimPolicy", json!("Delete")),
            ("/volumeBindingMode", json!("Immediate")),
        ],
    );
    test_update(
        sc,
        json!({"metadata": {"name": "standard"}, "provisioner": "x", "parameters": {"a": "b"}}),
        &[
            json!({"metadata": {"name": "standard"}, "provisioner": "x", "parameters": {"a": "b"}, "allowVolumeExpansion": true}),
        ],
        &[(
            json!({"metadata": {"name": "standard"}, "provisioner": "y", "parameters": {"a": "c"}}),
            &[
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
            ],
        )],
    );
}

#[test]
fn rbac() {
    let role = info("rbac.authorization.k8s.io", "Role");
    test_create(
        role,
        &[
            json!({"metadata": {"name": "system:reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        ],
        &[
            (
                json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}),
                &["rules[0].verbs: Required value: verbs must contain at least one value"],
            ),
            (
                json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]}),
                &[
                    "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                    "rules[0].resources: Required value: resource rules must supply at least one resource",
                ],
            ),
            (
                json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}),
                &[
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                ],
            ),
            (
                json!({"metadata": {"name": "a/b"}}),
                &["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
            ),
        ],
    );
    test_create(
        info("rbac.authorization.k8s.io", "ClusterRole"),
        &[
            json!({"metadata": {"name": "health"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}),
        ],
        &[],
    );
    let rb = info("rbac.authorization.k8s.io", "RoleBinding");
    let binding = |kind: &str, subjects: Value| json!({"metadata": {"name": "b"}, "roleRef": {"kind": kind, "name": "view"}, "subjects": subjects});
    test_create(
        rb,
        &[binding(
            "ClusterRole",
            json!([{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}]),
        )],
        &[
            (
                binding("Team", json!([])),
                &[
                    "roleRef.kind: Unsupported value: \"Team\": supported values: \"Role\", \"ClusterRole\"",
                ],
            ),
            (
                binding("Role", json!([{"kind": "Robot", "name": "r2"}])),
                &[
                    "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                ],
            ),
        ],
    );
    let stored = created(
        rb,
        binding("Role", json!([{"kind": "Group", "name": "devs"}])),
    );
    assert_fields(
        &stored,
        &[
            ("/roleRef/apiGroup", json!("rbac.authorization.k8s.io")),
            ("/subjects/0/apiGroup", json!("rbac.authorization.k8s.io")),
        ],
    );
    test_update(
        rb,
        binding("Role", json!([])),
        &[binding("Role", json!([{"kind": "User", "name": "bob"}]))],
        &[(
            binding("ClusterRole", json!([])),
            &[
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"view\"}: cannot change roleRef",
            ],
        )],
    );
    let crb = info("rbac.authorization.k8s.io", "ClusterRoleBinding");
    let (_, errors) = create(
        crb,
        json!({"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
    );
    super::tester::assert_errors(
        &errors,
        &[
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            "subjects[0].namespace: Required value",
        ],
        "cluster role binding",
    );
    assert_eq!(strategy(crb).names(), NameRule::PathSegment);
}

#[test]
fn names() {
    assert_eq!(
        strategy(info("", "Service")).names(),
        NameRule::Dns1035Label
    );
    assert!(!validate_name(NameRule::Dns1035Label, "1abc").is_empty());
    assert!(validate_name(NameRule::Dns1035Label, "abc-1").is_empty());
    assert_eq!(strategy(info("", "Pod")).names(), NameRule::Subdomain);
}

#[test]
fn events_k8s_io() {
    let ev = info("events.k8s.io", "Event");
    test_create(
        ev,
        &[json!({
            "metadata": {"name": "e"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "example.com/controller",
            "reportingInstance": "a",
            "action": "Sync",
            "reason": "Synced",
            "type": "Normal",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "p"}
        })],
        &[(
            json!({"metadata": {"name": "e"}, "regarding": {"kind": "Pod", "namespace": "default", "name": "p"}, "type": "Odd"}),
            &[
                "reportingController: Required value",
                "reportingController",
                "reportingInstance: Required value",
                "action: Required value",
                "reason: Required value",
                "eventTime: Required value",
                "type: Invalid value: \"\": has invalid value: Odd",
            ],
        )],
    );
}

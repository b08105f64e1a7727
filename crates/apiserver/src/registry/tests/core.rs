//! Tables of the core group's strategies: pods (and the shared pod spec), services, nodes,
//! volumes and claims, and the smaller kinds.

use serde_json::{Value, json};

use super::tester::{assert_fields, created, info, test_create, test_update, update};

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "p"}, "spec": spec})
}

fn c(extra: Value) -> Value {
    let mut base = json!({"name": "c", "image": "nginx:1.25"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        base[k] = v;
    }
    base
}

fn pod_with(container: Value) -> Value {
    pod(json!({"containers": [c(container)]}))
}

#[test]
fn pod_spec_validation() {
    let valid = [
        pod(json!({"containers": [c(json!({}))]})),
        pod(json!({
            "containers": [c(json!({
                "ports": [{"name": "http", "containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "my.env-name", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"tcpSocket": {"port": "http"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}]
            }))],
            "initContainers": [
                {"name": "init", "image": "busybox", "command": ["true"]},
                {"name": "sidecar", "image": "busybox", "restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["true"]}}}
            ],
            "volumes": [{"name": "data"}, {"name": "cfg", "configMap": {"name": "cfg"}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists"}],
            "restartPolicy": "OnFailure",
            "dnsPolicy": "Default",
            "terminationGracePeriodSeconds": -1
        })),
    ];
    let invalid: Vec<(Value, &[&str])> = vec![
        (pod(json!({})), &["spec.containers: Required value"]),
        (
            pod(json!({"containers": [{"name": "c"}]})),
            &["spec.containers[0].image: Required value"],
        ),
        (
            pod_with(json!({"name": "C_1"})),
            &["spec.containers[0].name"],
        ),
        (
            pod(json!({"containers": [c(json!({})), c(json!({}))]})),
            &["spec.containers[1].name: Duplicate value: \"c\""],
        ),
        (
            pod_with(json!({"ports": [{"containerPort": 70000}]})),
            &[
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            pod_with(json!({"ports": [{"containerPort": 80, "protocol": "HTTP"}]})),
            &[
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ],
        ),
        (
            pod_with(
                json!({"ports": [{"name": "web", "containerPort": 80}, {"name": "web", "containerPort": 81}]}),
            ),
            &["spec.containers[0].ports[1].name: Duplicate value: \"web\""],
        ),
        (
            pod_with(json!({"ports": [{"name": "Web_Port", "containerPort": 80}]})),
            &["spec.containers[0].ports[0].name"],
        ),
        (
            pod_with(json!({"env": [{"name": "A=B"}]})),
            &[
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            ],
        ),
        (
            pod_with(json!({"env": [{"name": "A", "valueFrom": {}}]})),
            &[
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ],
        ),
        (
            pod_with(json!({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}})),
            &[
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ],
        ),
        (
            pod_with(json!({"resources": {"limits": {"cpu": "lots"}}})),
            &[
                "spec.containers[0].resources.limits[cpu]",
                "spec.containers[0].resources.requests[cpu]",
            ],
        ),
        (
            pod_with(json!({"resources": {"limits": {"memory": "-1"}}})),
            &[
                "spec.containers[0].resources.limits[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            ],
        ),
        (
            pod_with(json!({"resources": {"requests": {"gpu": "1"}}})),
            &[
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "restartPolicy": "Sometimes"})),
            &[
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "dnsPolicy": "Google"})),
            &[
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "volumes": [{"name": "v"}, {"name": "v"}]})),
            &["spec.volumes[1].name: Duplicate value: \"v\""],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "volumes": [{"name": "v", "emptyDir": {}, "configMap": {"name": "x"}}]}),
            ),
            &["spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "volumes": [{"name": "Bad_Name"}]})),
            &["spec.volumes[0].name"],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "volumes": [{"name": "s", "secret": {}}]})),
            &["spec.volumes[0].secret.secretName: Required value"],
        ),
        (
            pod_with(json!({"volumeMounts": [{"name": "x", "mountPath": "/x"}]})),
            &["spec.containers[0].volumeMounts[0].name: Not found: \"x\""],
        ),
        (
            pod_with(json!({"livenessProbe": {"periodSeconds": 5}})),
            &["spec.containers[0].livenessProbe: Required value: must specify a handler type"],
        ),
        (
            pod_with(
                json!({"readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}),
            ),
            &[
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ],
        ),
        (
            pod_with(json!({"livenessProbe": {"httpGet": {"port": 0}, "successThreshold": 2}})),
            &[
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "initContainers": [{"name": "i", "image": "x", "restartPolicy": "OnFailure"}]}),
            ),
            &[
                "spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "initContainers": [{"name": "i", "image": "x", "livenessProbe": {"exec": {"command": ["true"]}}}]}),
            ),
            &[
                "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "initContainers": [{"name": "c", "image": "x"}]}),
            ),
            &["spec.initContainers[0].name: Duplicate value: \"c\""],
        ),
        (
            pod(json!({"containers": [c(json!({"restartPolicy": "Always"}))]})),
            &[
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "nodeSelector": {"bad key": "v"}})),
            &["spec.nodeSelector"],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "tolerations": [{"key": "k", "operator": "Maybe"}]}),
            ),
            &[
                "spec.tolerations[0].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "tolerations": [{"value": "v"}]})),
            &[
                "spec.tolerations[0].operator: Invalid value: \"\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "tolerations": [{"key": "k", "effect": "Sometimes"}]}),
            ),
            &[
                "spec.tolerations[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "tolerations": [{"key": "k", "tolerationSeconds": 5}]}),
            ),
            &[
                "spec.tolerations[0].effect: Invalid value: \"\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "activeDeadlineSeconds": 0})),
            &[
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({}))], "ephemeralContainers": [{"name": "e", "image": "x"}]}),
            ),
            &["spec.ephemeralContainers: Forbidden: cannot be set on create"],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "hostname": "Not_A_Label"})),
            &["spec.hostname"],
        ),
        (
            pod(json!({"containers": [c(json!({"image": " nginx"}))]})),
            &[
                "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
            ],
        ),
    ];
    test_create(info("", "Pod"), &valid, &invalid);
}

#[test]
fn pod_defaults() {
    let stored = created(
        info("", "Pod"),
        pod(json!({
            "containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}], "livenessProbe": {"httpGet": {"port": 80}}},
                {"name": "b", "image": "nginx:1.25", "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}}},
                {"name": "d", "image": "registry:5000/app:latest"}
            ],
            "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "s"}}, {"name": "h", "hostPath": {"path": "/tmp"}}]
        })),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/restartPolicy", json!("Always")),
            ("/spec/dnsPolicy", json!("ClusterFirst")),
            ("/spec/schedulerName", json!("default-scheduler")),
            ("/spec/terminationGracePeriodSeconds", json!(30)),
            ("/spec/securityContext", json!({})),
            ("/spec/enableServiceLinks", json!(true)),
            ("/spec/serviceAccountName", json!("default")),
            ("/spec/serviceAccount", json!("default")),
            ("/spec/containers/0/imagePullPolicy", json!("Always")),
            ("/spec/containers/1/imagePullPolicy", json!("IfNotPresent")),
            ("/spec/containers/2/imagePullPolicy", json!("Always")),
            (
                "/spec/containers/0/terminationMessagePath",
                json!("/dev/termination-log"),
            ),
            ("/spec/containers/0/terminationMessagePolicy", json!("File")),
            ("/spec/containers/0/ports/0/protocol", json!("TCP")),
            ("/spec/containers/0/livenessProbe/timeoutSeconds", json!(1)),
            ("/spec/containers/0/livenessProbe/periodSeconds", json!(10)),
            (
                "/spec/containers/0/livenessProbe/successThreshold",
                json!(1),
            ),
            (
                "/spec/containers/0/livenessProbe/failureThreshold",
                json!(3),
            ),
            ("/spec/containers/0/livenessProbe/httpGet/path", json!("/")),
            (
                "/spec/containers/0/livenessProbe/httpGet/scheme",
                json!("HTTP"),
            ),
            ("/spec/containers/1/resources/limits/cpu", json!("500m")),
            ("/spec/containers/1/resources/limits/memory", json!("1Gi")),
            ("/spec/containers/1/resources/requests/cpu", json!("500m")),
            ("/spec/volumes/0/emptyDir", json!({})),
            ("/spec/volumes/1/secret/defaultMode", json!(420)),
            ("/spec/volumes/2/hostPath/type", json!("")),
            ("/status/phase", json!("Pending")),
            ("/status/qosClass", json!("Burstable")),
        ],
    );
    let best_effort = created(info("", "Pod"), pod_with(json!({})));
    assert_fields(&best_effort, &[("/status/qosClass", json!("BestEffort"))]);
    let guaranteed = created(
        info("", "Pod"),
        pod_with(json!({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})),
    );
    assert_fields(&guaranteed, &[("/status/qosClass", json!("Guaranteed"))]);
    let gated = created(
        info("", "Pod"),
        pod(
            json!({"containers": [c(json!({}))], "schedulingGates": [{"name": "example.com/gate"}]}),
        ),
    );
    assert_fields(
        &gated,
        &[("/status/conditions/0/reason", json!("SchedulingGated"))],
    );
}

#[test]
fn pod_updates() {
    let old = pod(json!({
        "containers": [c(json!({}))],
        "nodeName": "node-a",
        "tolerations": [{"key": "k", "operator": "Exists"}]
    }));
    let valid = [
        pod(
            json!({"containers": [c(json!({"image": "nginx:1.26"}))], "nodeName": "node-a", "tolerations": [{"key": "k", "operator": "Exists"}]}),
        ),
        pod(json!({
            "containers": [c(json!({}))],
            "nodeName": "node-a",
            "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}],
            "activeDeadlineSeconds": 60
        })),
    ];
    let invalid: Vec<(Value, &[&str])> = vec![
        (
            pod(
                json!({"containers": [c(json!({}))], "nodeName": "node-b", "tolerations": [{"key": "k", "operator": "Exists"}]}),
            ),
            &[
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n...",
            ],
        ),
        (
            pod(
                json!({"containers": [c(json!({"ports": [{"containerPort": 80}]}))], "nodeName": "node-a", "tolerations": [{"key": "k", "operator": "Exists"}]}),
            ),
            &["spec: Forbidden: pod updates may not change fields other than ..."],
        ),
        (
            pod(
                json!({"containers": [c(json!({})), c(json!({"name": "d"}))], "nodeName": "node-a", "tolerations": [{"key": "k", "operator": "Exists"}]}),
            ),
            &["spec.containers: Forbidden: pod updates may not add or remove containers"],
        ),
        (
            pod(json!({"containers": [c(json!({}))], "nodeName": "node-a"})),
            &[
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
            ],
        ),
    ];
    // The stored pod carries the tolerations the DefaultTolerationSeconds admission added on
    // create; an update starts from it.
    let admitted = |mut p: Value| {
        if let Some(t) = p["spec"]["tolerations"].as_array_mut() {
            t.push(json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            t.push(json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
        p
    };
    let valid = valid.map(admitted);
    let invalid: Vec<(Value, &[&str])> =
        invalid.into_iter().map(|(p, e)| (admitted(p), e)).collect();
    test_update(info("", "Pod"), old, &valid, &invalid);
}

fn svc(spec: Value) -> Value {
    json!({"metadata": {"name": "web"}, "spec": spec})
}

#[test]
fn service_validation() {
    let valid = [
        svc(json!({"ports": [{"port": 80}], "selector": {"app": "web"}})),
        svc(json!({"clusterIP": "None", "selector": {"app": "web"}})),
        svc(json!({"type": "ExternalName", "externalName": "example.com."})),
        svc(
            json!({"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https", "port": 443}]}),
        ),
        svc(
            json!({"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}], "externalTrafficPolicy": "Local"}),
        ),
        svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.10"})),
    ];
    let invalid: Vec<(Value, &[&str])> = vec![
        (svc(json!({})), &["spec.ports: Required value"]),
        (
            svc(json!({"ports": [{"port": 80}, {"port": 81}]})),
            &[
                "spec.ports[0].name: Required value",
                "spec.ports[1].name: Required value",
            ],
        ),
        (
            svc(json!({"ports": [{"name": "a", "port": 80}, {"port": 81}]})),
            &["spec.ports[1].name: Required value"],
        ),
        (
            svc(json!({"ports": [{"port": 0}]})),
            &[
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]})),
            &[
                "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
            ],
        ),
        (
            svc(json!({"ports": [{"port": 80, "nodePort": 30080}]})),
            &["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        ),
        (
            svc(json!({"type": "Magic", "ports": [{"port": 80}]})),
            &[
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ],
        ),
        (
            svc(json!({"type": "ExternalName"})),
            &["spec.externalName: Required value"],
        ),
        (
            svc(json!({"type": "ExternalName", "externalName": "not a name"})),
            &["spec.externalName"],
        ),
        (
            svc(json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]})),
            &[
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ],
        ),
        (
            svc(json!({"ports": [{"port": 80}], "sessionAffinity": "Sticky"})),
            &[
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
            ],
        ),
        (
            svc(json!({"ports": [{"port": 80}], "externalTrafficPolicy": "Local"})),
            &[
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            ],
        ),
        (
            svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.300"})),
            &[
                "spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ],
        ),
        (
            json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
            &["metadata.name"],
        ),
    ];
    test_create(info("", "Service"), &valid, &invalid);
}

#[test]
fn service_defaults() {
    let s = created(info("", "Service"), svc(json!({"ports": [{"port": 80}]})));
    assert_fields(
        &s,
        &[
            ("/spec/type", json!("ClusterIP")),
            ("/spec/sessionAffinity", json!("None")),
            ("/spec/ports/0/protocol", json!("TCP")),
            ("/spec/ports/0/targetPort", json!(80)),
            ("/spec/internalTrafficPolicy", json!("Cluster")),
        ],
    );
    assert!(s.pointer("/spec/externalTrafficPolicy").is_none());
    let np = created(
        info("", "Service"),
        svc(json!({"type": "NodePort", "ports": [{"port": 80}]})),
    );
    assert_fields(&np, &[("/spec/externalTrafficPolicy", json!("Cluster"))]);
    let ip = created(
        info("", "Service"),
        svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.10"})),
    );
    assert_fields(
        &ip,
        &[
            ("/spec/clusterIPs", json!(["10.96.0.10"])),
            ("/spec/ipFamilies", json!(["IPv4"])),
            ("/spec/ipFamilyPolicy", json!("SingleStack")),
        ],
    );
    let headless = created(info("", "Service"), svc(json!({"clusterIP": "None"})));
    assert_fields(
        &headless,
        &[
            ("/spec/ipFamilyPolicy", json!("RequireDualStack")),
            ("/spec/ipFamilies", json!(["IPv4"])),
        ],
    );
    let lb = created(
        info("", "Service"),
        svc(json!({"type": "LoadBalancer", "ports": [{"port": 80}]})),
    );
    assert_fields(&lb, &[("/spec/allocateLoadBalancerNodePorts", json!(true))]);
}

#[test]
fn service_updates() {
    let svc_info = info("", "Service");
    let old = svc(
        json!({"type": "NodePort", "clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}),
    );
    test_update(
        svc_info,
        old.clone(),
        &[
            svc(json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]})),
            svc(json!({"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]})),
        ],
        &[(
            svc(
                json!({"type": "NodePort", "clusterIP": "10.96.0.11", "ports": [{"name": "http", "port": 80}]}),
            ),
            &[
                "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set",
            ],
        )],
    );
    // `kubectl apply` of the original manifest keeps the allocated values.
    let stored = created(svc_info, old);
    let (applied, errors) = update(
        svc_info,
        &stored,
        svc(json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]})),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_fields(
        &applied,
        &[
            ("/spec/clusterIP", json!("10.96.0.10")),
            ("/spec/clusterIPs", json!(["10.96.0.10"])),
            ("/spec/ports/0/nodePort", json!(30080)),
            ("/spec/ipFamilies", json!(["IPv4"])),
        ],
    );
    let (to_cluster_ip, errors) = update(
        svc_info,
        &stored,
        svc(json!({"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]})),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(to_cluster_ip.pointer("/spec/ports/0/nodePort").is_none());
    assert!(
        to_cluster_ip
            .pointer("/spec/externalTrafficPolicy")
            .is_none()
    );
}

#[test]
fn node() {
    let node = |spec: Value| json!({"metadata": {"name": "node-a"}, "spec": spec});
    test_create(
        info("", "Node"),
        &[
            node(json!({})),
            node(
                json!({"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}], "podCIDRs": ["10.244.0.0/24"]}),
            ),
        ],
        &[
            (
                node(json!({"taints": [{"key": "k", "effect": "Sometimes"}]})),
                &[
                    "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                ],
            ),
            (
                node(json!({"taints": [{"key": "k"}]})),
                &["metadata.taints[0].effect: Required value"],
            ),
            (
                node(
                    json!({"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "x", "effect": "NoSchedule"}]}),
                ),
                &[
                    "metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"x\", Effect:\"NoSchedule\", TimeAdded:<nil>}: taints must be unique by key and effect pair",
                ],
            ),
            (
                node(json!({"podCIDRs": ["10.244.0.0/33"]})),
                &["spec.podCIDRs[0]"],
            ),
        ],
    );
    test_update(
        info("", "Node"),
        node(json!({"podCIDRs": ["10.244.0.0/24"], "providerID": "kind://a"})),
        &[node(
            json!({"podCIDRs": ["10.244.0.0/24"], "providerID": "kind://a", "unschedulable": true}),
        )],
        &[
            (
                node(json!({"podCIDRs": ["10.244.1.0/24"], "providerID": "kind://a"})),
                &[
                    "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
                ],
            ),
            (
                node(json!({"podCIDRs": ["10.244.0.0/24"], "providerID": "kind://b"})),
                &[
                    "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid",
                ],
            ),
        ],
    );
}

fn pv(spec: Value) -> Value {
    json!({"metadata": {"name": "pv1"}, "spec": spec})
}

#[test]
fn persistent_volume() {
    let good = json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}});
    test_create(
        info("", "PersistentVolume"),
        &[pv(good.clone())],
        &[
            (
                pv(json!({})),
                &[
                    "spec.accessModes: Required value",
                    "spec.capacity: Required value",
                    "spec.capacity: Unsupported value: core.ResourceList(nil): supported values: \"storage\"",
                    "spec: Required value: must specify a volume type",
                ],
            ),
            (
                pv(
                    json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteSometimes"], "nfs": {"server": "s", "path": "/x"}}),
                ),
                &[
                    "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                ],
            ),
            (
                pv(
                    json!({"capacity": {"storage": "0"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}),
                ),
                &["spec.capacity[storage]: Invalid value: \"0\": must be greater than zero"],
            ),
            (
                pv(
                    json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}, "nfs": {"server": "s", "path": "/x"}}),
                ),
                &["spec.nfs: Forbidden: may not specify more than 1 volume type"],
            ),
            (
                pv(
                    json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt"}}),
                ),
                &["spec.nodeAffinity: Required value: Local volume requires node affinity"],
            ),
            (
                pv(
                    json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}, "persistentVolumeReclaimPolicy": "Keep"}),
                ),
                &[
                    "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\"",
                ],
            ),
        ],
    );
    let stored = created(info("", "PersistentVolume"), pv(good.clone()));
    assert_fields(
        &stored,
        &[
            ("/spec/persistentVolumeReclaimPolicy", json!("Retain")),
            ("/spec/volumeMode", json!("Filesystem")),
            ("/status/phase", json!("Pending")),
        ],
    );
    let mut bigger = good.clone();
    bigger["capacity"]["storage"] = json!("2Gi");
    let mut moved = good.clone();
    moved["hostPath"]["path"] = json!("/elsewhere");
    test_update(
        info("", "PersistentVolume"),
        pv(good),
        &[pv(bigger)],
        &[(
            pv(moved),
            &[
                "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n...",
            ],
        )],
    );
}

fn pvc(spec: Value) -> Value {
    json!({"metadata": {"name": "claim"}, "spec": spec})
}

#[test]
fn persistent_volume_claim() {
    let good =
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
    test_create(
        info("", "PersistentVolumeClaim"),
        &[
            pvc(good.clone()),
            pvc(
                json!({"accessModes": ["ReadWriteOncePod"], "resources": {"requests": {"storage": "500Mi"}}, "storageClassName": "standard"}),
            ),
        ],
        &[
            (
                pvc(json!({})),
                &[
                    "spec.accessModes: Required value: at least 1 access mode is required",
                    "spec.resources[storage]: Required value",
                ],
            ),
            (
                pvc(
                    json!({"accessModes": ["ReadWriteOnce", "ReadWriteOncePod"], "resources": {"requests": {"storage": "1Gi"}}}),
                ),
                &[
                    "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                ],
            ),
            (
                pvc(
                    json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0"}}}),
                ),
                &["spec.resources[storage]: Invalid value: \"0\": must be greater than zero"],
            ),
            (
                pvc(
                    json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Raw"}),
                ),
                &[
                    "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
                ],
            ),
        ],
    );
    let stored = created(info("", "PersistentVolumeClaim"), pvc(good.clone()));
    assert_fields(
        &stored,
        &[
            ("/spec/volumeMode", json!("Filesystem")),
            ("/status/phase", json!("Pending")),
        ],
    );
    let mut bound_to = good.clone();
    bound_to["volumeName"] = json!("pv1");
    let mut changed = good.clone();
    changed["accessModes"] = json!(["ReadWriteMany"]);
    test_update(
        info("", "PersistentVolumeClaim"),
        pvc(good),
        &[pvc(bound_to)],
        &[(
            pvc(changed),
            &[
                "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n...",
            ],
        )],
    );
}

#[test]
fn service_account_and_endpoints() {
    test_create(
        info("", "ServiceAccount"),
        &[json!({"metadata": {"name": "builder"}})],
        &[(json!({"metadata": {"name": "Builder"}}), &["metadata.name"])],
    );
    let ep = |subsets: Value| json!({"metadata": {"name": "web"}, "subsets": subsets});
    test_create(
        info("", "Endpoints"),
        &[
            ep(json!([{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}])),
            ep(json!([])),
        ],
        &[
            (
                ep(json!([{"ports": [{"port": 80}]}])),
                &["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"],
            ),
            (
                ep(json!([{"addresses": [{"ip": "127.0.0.1"}]}])),
                &[
                    "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                ],
            ),
            (
                ep(
                    json!([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 81}]}]),
                ),
                &[
                    "subsets[0].ports[0].name: Required value",
                    "subsets[0].ports[1].name: Required value",
                ],
            ),
        ],
    );
    let stored = created(
        info("", "Endpoints"),
        ep(json!([{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}])),
    );
    assert_fields(&stored, &[("/subsets/0/ports/0/protocol", json!("TCP"))]);
}

#[test]
fn events() {
    let event = |extra: Value| {
        let mut e = json!({
            "metadata": {"name": "web.17a"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
            "reason": "Started",
            "message": "Started container",
            "type": "Normal",
            "source": {"component": "kubelet"}
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            e[k] = v;
        }
        e
    };
    test_create(
        info("", "Event"),
        &[
            event(json!({})),
            event(
                json!({"eventTime": "2024-01-01T00:00:00.000000Z", "reportingComponent": "kubelet", "reportingInstance": "node-a", "action": "Start"}),
            ),
        ],
        &[
            (
                event(
                    json!({"involvedObject": {"kind": "Pod", "namespace": "other", "name": "web"}}),
                ),
                &[
                    "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace",
                ],
            ),
            (
                event(json!({"eventTime": "2024-01-01T00:00:00.000000Z"})),
                &[
                    "reportingComponent: Required value",
                    "reportingComponent",
                    "reportingInstance: Required value",
                    "action: Required value",
                ],
            ),
        ],
    );
    let fields = crate::registry::strategy(info("", "Event")).fields();
    for f in [
        "involvedObject.kind",
        "involvedObject.name",
        "involvedObject.namespace",
        "involvedObject.uid",
        "reason",
        "source",
        "type",
        "reportingComponent",
    ] {
        assert!(fields.contains(&f), "{f}");
    }
}

#[test]
fn replication_controller() {
    let rc = |spec: Value| json!({"metadata": {"name": "rc"}, "spec": spec});
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    test_create(
        info("", "ReplicationController"),
        &[
            rc(json!({"template": template.clone()})),
            rc(json!({"selector": {"app": "web"}, "replicas": 0, "template": template.clone()})),
        ],
        &[
            (
                rc(json!({})),
                &[
                    "spec.selector: Required value",
                    "spec.template: Required value",
                ],
            ),
            (
                rc(json!({"selector": {"app": "other"}, "template": template.clone()})),
                &[
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                rc(json!({"replicas": -1, "template": template.clone()})),
                &["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                rc(
                    json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "nginx"}]}}}),
                ),
                &[
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ],
            ),
        ],
    );
    let stored = created(
        info("", "ReplicationController"),
        rc(json!({"template": template})),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/selector", json!({"app": "web"})),
            ("/metadata/labels", json!({"app": "web"})),
            ("/spec/replicas", json!(1)),
            ("/spec/template/spec/restartPolicy", json!("Always")),
        ],
    );
    assert!(crate::registry::strategy(info("", "ReplicationController")).tracks_generation());
}

#[test]
fn limit_range_and_quota() {
    let lr = |limits: Value| json!({"metadata": {"name": "limits"}, "spec": {"limits": limits}});
    test_create(
        info("", "LimitRange"),
        &[lr(
            json!([{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}]),
        )],
        &[
            (
                lr(json!([{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}}])),
                &[
                    "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
                    "spec.limits[0].defaultRequest[cpu]...",
                    "spec.limits[0].default[cpu]...",
                ],
            ),
            (
                lr(json!([{"type": "Thing"}])),
                &[
                    "spec.limits[0].type: Invalid value: \"Thing\": must be a standard limit type or fully qualified",
                ],
            ),
            (
                lr(json!([{"type": "Pod", "default": {"cpu": "1"}}])),
                &["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"],
            ),
        ],
    );
    let stored = created(
        info("", "LimitRange"),
        lr(json!([{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}])),
    );
    assert_fields(
        &stored,
        &[
            ("/spec/limits/0/default/cpu", json!("2")),
            ("/spec/limits/0/defaultRequest/cpu", json!("2")),
        ],
    );
    let rq = |hard: Value| json!({"metadata": {"name": "quota"}, "spec": {"hard": hard}});
    test_create(
        info("", "ResourceQuota"),
        &[rq(
            json!({"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"}),
        )],
        &[
            (
                rq(json!({"foo": "1"})),
                &[
                    "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                    "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
                ],
            ),
            (
                rq(json!({"pods": "-1"})),
                &["spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0"],
            ),
            (
                rq(json!({"pods": "1.5"})),
                &["spec.hard[pods]: Invalid value: \"1500m\": must be an integer"],
            ),
        ],
    );
}

#[test]
fn pod_template() {
    let pt = |template: Value| json!({"metadata": {"name": "pt"}, "template": template});
    test_create(
        info("", "PodTemplate"),
        &[pt(
            json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        )],
        &[(
            pt(json!({"spec": {"containers": [{"name": "c"}]}})),
            &["template.spec.containers[0].image: Required value"],
        )],
    );
}

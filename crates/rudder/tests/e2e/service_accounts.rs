//! Service account tokens end to end: `kubectl create token` issues tokens that authenticate
//! as the service account and that RBAC governs; pods get their credentials (token, CA,
//! namespace) mounted and the token works from the pod; the root CA ConfigMap is kept in
//! every namespace; downwardAPI volumes follow the pod's labels.

use std::{path::Path, time::Duration};

use testkit::{Cluster, Run, eventually};

use crate::node_agent::field;

/// A kubeconfig that trusts `ca` for the cluster and carries no credentials of its own, as a
/// program in a pod has only the CA and its token.
fn anonymous_kubeconfig(cluster: &Cluster, name: &str, ca: &Path) -> String {
    let path = cluster.file(
        name,
        &format!(
            r#"apiVersion: v1
kind: Config
clusters:
- name: rudder
  cluster: {{server: "{}", certificate-authority: "{}"}}
users:
- name: nobody
  user: {{}}
contexts:
- name: rudder
  context: {{cluster: rudder, user: nobody}}
current-context: rudder
"#,
            cluster.url(),
            ca.display()
        ),
    );
    path.to_string_lossy().into_owned()
}

/// kubectl with nothing but `token` against the cluster.
fn with_token(cluster: &Cluster, kubeconfig: &str, token: &str, args: &[&str]) -> Run {
    let mut all = vec!["--kubeconfig", kubeconfig, "--token", token];
    all.extend_from_slice(args);
    cluster.kubectl(&all)
}

fn wait_for(cluster: &Cluster, args: &[&str]) {
    assert!(
        eventually(Duration::from_secs(20), || cluster.kubectl(args).success),
        "kubectl {args:?} never succeeded\n{}",
        cluster.log()
    );
}

#[test]
fn kubectl_create_token_authenticates_the_account_and_rbac_governs_it() {
    let cluster = crate::cluster();
    wait_for(&cluster, &["get", "serviceaccount", "default"]);
    let ca = cluster.data_dir().join("server/tls/ca.crt");
    let kubeconfig = anonymous_kubeconfig(&cluster, "sa.kubeconfig", &ca);

    let token = cluster
        .kubectl(&["create", "token", "default"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    // Authenticated as the service account, but allowed nothing yet.
    let err = with_token(&cluster, &kubeconfig, &token, &["get", "pods"])
        .fails()
        .to_string();
    assert!(
        err.contains(
            "User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{err}"
    );
    cluster
        .kubectl(&[
            "create",
            "rolebinding",
            "default-view",
            "--clusterrole=view",
            "--serviceaccount=default:default",
        ])
        .ok();
    with_token(&cluster, &kubeconfig, &token, &["get", "pods"]).ok();
    // The group of all service accounts of the namespace is bound as well.
    cluster
        .kubectl(&[
            "create",
            "rolebinding",
            "all-accounts-edit-cm",
            "--clusterrole=edit",
            "--group=system:serviceaccounts:default",
        ])
        .ok();
    with_token(
        &cluster,
        &kubeconfig,
        &token,
        &["create", "configmap", "from-a-token"],
    )
    .ok();
    // A token for another audience, or a garbled one, does not authenticate at all.
    let vault = cluster
        .kubectl(&["create", "token", "default", "--audience", "vault"])
        .ok()
        .trim()
        .to_string();
    let err = with_token(&cluster, &kubeconfig, &vault, &["get", "pods"])
        .fails()
        .to_string();
    assert!(err.contains("Unauthorized"), "{err}");
    let garbled = format!("{token}x");
    assert!(
        with_token(&cluster, &kubeconfig, &garbled, &["get", "pods"])
            .fails()
            .contains("Unauthorized")
    );

    // A token bound to a secret lives as long as the secret.
    cluster
        .kubectl(&["create", "secret", "generic", "anchor"])
        .ok();
    let bound = cluster
        .kubectl(&[
            "create",
            "token",
            "default",
            "--bound-object-kind",
            "Secret",
            "--bound-object-name",
            "anchor",
            "--duration",
            "2h",
        ])
        .ok()
        .trim()
        .to_string();
    with_token(&cluster, &kubeconfig, &bound, &["get", "pods"]).ok();
    cluster.kubectl(&["delete", "secret", "anchor"]).ok();
    assert!(
        eventually(Duration::from_secs(5), || with_token(
            &cluster,
            &kubeconfig,
            &bound,
            &["get", "pods"]
        )
        .stderr
        .contains("Unauthorized")),
        "a token bound to a deleted secret still works"
    );

    // A token of a deleted service account no longer works.
    cluster.kubectl(&["create", "serviceaccount", "robot"]).ok();
    let robot = cluster
        .kubectl(&["create", "token", "robot"])
        .ok()
        .trim()
        .to_string();
    // It may list pods through the binding of every account of the namespace.
    with_token(&cluster, &kubeconfig, &robot, &["get", "pods"]).ok();
    cluster.kubectl(&["delete", "serviceaccount", "robot"]).ok();
    assert!(
        eventually(Duration::from_secs(5), || with_token(
            &cluster,
            &kubeconfig,
            &robot,
            &["get", "pods"]
        )
        .stderr
        .contains("Unauthorized")),
        "a deleted service account's token still works"
    );

    // Upstream's errors for bad requests.
    let err = cluster
        .kubectl(&["create", "token", "nosuch"])
        .fails()
        .to_string();
    assert!(
        err.contains("serviceaccounts \"nosuch\" not found"),
        "{err}"
    );
    let err = cluster
        .kubectl(&["create", "token", "default", "--duration", "1m"])
        .fails()
        .to_string();
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = cluster
        .kubectl(&[
            "create",
            "token",
            "default",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "nowhere",
        ])
        .fails()
        .to_string();
    assert!(err.contains("pods \"nowhere\" not found"), "{err}");

    // The root CA is published in every namespace and kept as it should be.
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    let published = |ns: &str| {
        cluster
            .kubectl(&[
                "get",
                "configmap",
                "kube-root-ca.crt",
                "-n",
                ns,
                "-o",
                "jsonpath={.data.ca\\.crt}",
            ])
            .stdout
    };
    for ns in ["default", "kube-system"] {
        assert!(
            eventually(Duration::from_secs(10), || published(ns) == ca_pem),
            "{ns}: {:?}",
            published(ns)
        );
    }
    cluster.kubectl(&["create", "namespace", "team"]).ok();
    assert!(eventually(Duration::from_secs(10), || published("team") == ca_pem));
    cluster
        .kubectl(&["delete", "configmap", "kube-root-ca.crt", "-n", "team"])
        .ok();
    assert!(eventually(Duration::from_secs(10), || published("team") == ca_pem));
    cluster
        .kubectl(&[
            "patch",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team",
            "-p",
            r#"{"data":{"ca.crt":"tampered"}}"#,
        ])
        .ok();
    assert!(eventually(Duration::from_secs(10), || published("team") == ca_pem));
}

#[test]
fn pods_get_credentials_that_work_and_downward_api_files_that_follow_labels() {
    let cluster = crate::node_agent::cluster();
    let node = cluster.node().unwrap();
    wait_for(&cluster, &["get", "serviceaccount", "default"]);
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: creds
  labels: {app: demo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    volumeMounts: [{name: podinfo, mountPath: /etc/podinfo}]
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - path: mem
        resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}
"#,
        )
        .ok();
    // Admission added the credentials volume and mounted it read-only.
    let volume = field(&cluster, "creds", ".spec.volumes[1].name");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");
    assert_eq!(
        field(
            &cluster,
            "creds",
            ".spec.containers[0].volumeMounts[1].mountPath"
        ),
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "creds",
            ".status.phase"
        ) == "Running"),
        "{}\n{}",
        cluster.kubectl(&["describe", "pod", "creds"]).stdout,
        node.log()
    );
    let cat = |path: &str| {
        cluster
            .kubectl(&["exec", "creds", "--", "cat", path])
            .ok()
            .to_string()
    };
    let dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let listing = cluster
        .kubectl(&["exec", "creds", "--", "ls", dir])
        .ok()
        .to_string();
    let mut files: Vec<&str> = listing.split_whitespace().collect();
    files.sort();
    assert_eq!(files, ["ca.crt", "namespace", "token"]);
    assert_eq!(cat(&format!("{dir}/namespace")), "default");
    let ca_pem = std::fs::read_to_string(cluster.data_dir().join("server/tls/ca.crt")).unwrap();
    let pod_ca = cat(&format!("{dir}/ca.crt"));
    assert_eq!(pod_ca, ca_pem);
    // The volume is read-only in the container.
    assert!(
        !cluster
            .kubectl(&["exec", "creds", "--", "touch", &format!("{dir}/x")])
            .success
    );

    // The pod's token, with the pod's CA, authenticates as the pod's service account.
    let token = cat(&format!("{dir}/token"));
    let ca = cluster.file("pod-ca.crt", &pod_ca);
    let kubeconfig = anonymous_kubeconfig(&cluster, "pod.kubeconfig", &ca);
    let err = with_token(&cluster, &kubeconfig, &token, &["get", "pod", "creds"])
        .fails()
        .to_string();
    assert!(
        err.contains("User \"system:serviceaccount:default:default\" cannot get resource \"pods\""),
        "{err}"
    );
    cluster
        .kubectl(&[
            "create",
            "rolebinding",
            "default-view",
            "--clusterrole=view",
            "--serviceaccount=default:default",
        ])
        .ok();
    let phase = with_token(
        &cluster,
        &kubeconfig,
        &token,
        &["get", "pod", "creds", "-o", "jsonpath={.status.phase}"],
    )
    .ok()
    .to_string();
    assert_eq!(phase, "Running");

    // The downwardAPI volume shows the pod's fields and follows its labels.
    assert_eq!(cat("/etc/podinfo/labels"), "app=\"demo\"");
    assert_eq!(cat("/etc/podinfo/name"), "creds");
    // Without a memory limit, the node's allocatable memory stands in.
    let mem: u64 = cat("/etc/podinfo/mem").parse().unwrap();
    assert!(mem > 0);
    cluster.kubectl(&["label", "pod", "creds", "tier=web"]).ok();
    assert!(
        eventually(Duration::from_secs(20), || cat("/etc/podinfo/labels")
            == "app=\"demo\"\ntier=\"web\""),
        "{}",
        cat("/etc/podinfo/labels")
    );

    // A pod that opts out gets no credentials.
    let opted_out = cluster
        .kubectl_stdin(
            &["create", "--dry-run=server", "-o", "json", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: quiet}
spec:
  automountServiceAccountToken: false
  containers: [{name: main, image: busybox}]
"#,
        )
        .json();
    assert!(opted_out["spec"].get("volumes").is_none(), "{opted_out}");

    // The pod-bound token dies with the pod.
    cluster
        .kubectl(&["delete", "pod", "creds", "--timeout=60s"])
        .ok();
    let err = with_token(&cluster, &kubeconfig, &token, &["get", "pods"])
        .fails()
        .to_string();
    assert!(err.contains("Unauthorized"), "{err}");
}

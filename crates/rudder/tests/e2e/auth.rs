//! Authentication and authorization: client certificates, bearer tokens, 401 and 403.

use std::process::Command;

use testkit::Cluster;

fn curl(c: &Cluster, path: &str, token: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "-o", "-", "-w", "\n%{http_code}"]);
    if let Some(token) = token {
        cmd.arg("-H").arg(format!("Authorization: Bearer {token}"));
    }
    let out = cmd
        .arg(format!("{}{path}", c.url()))
        .output()
        .expect("running curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn certificates_tokens_and_rbac() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "admintoken,root,1,system:masters\nalicetoken,alice,2,developers\n",
    )
    .unwrap();
    let c = Cluster::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_rudder")),
        &["--token-file", tokens.to_str().unwrap()],
    )
    .unwrap();

    // No credentials: 401 with a Status.
    let (code, body) = curl(&c, "/api/v1/namespaces", None);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    // An unknown token: 401.
    assert_eq!(curl(&c, "/api/v1/namespaces", Some("nope")).0, 401);
    // Health and version are public.
    assert_eq!(curl(&c, "/healthz", None), (200, "ok".to_string()));
    assert_eq!(curl(&c, "/version", None).0, 200);
    // A token in system:masters may do anything.
    let (code, body) = curl(&c, "/api/v1/namespaces", Some("admintoken"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("kube-system"));
    // A user without bindings may discover but not read secrets.
    assert_eq!(curl(&c, "/apis", Some("alicetoken")).0, 200);
    let (code, body) = curl(&c, "/api/v1/namespaces/default/secrets", Some("alicetoken"));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("User \\\"alice\\\" cannot list resource \\\"secrets\\\" in API group \\\"\\\" in the namespace \\\"default\\\""), "{body}");
    let err = c
        .kubectl(&["--token=alicetoken", "get", "secrets"])
        .fails()
        .to_string();
    assert!(
        err.contains("Forbidden") && err.contains("cannot list resource \"secrets\""),
        "{err}"
    );

    // Binding the view role lets alice read pods but still not secrets.
    c.kubectl(&[
        "create",
        "rolebinding",
        "alice-view",
        "--clusterrole=view",
        "--group=developers",
        "-n",
        "default",
    ])
    .ok();
    c.kubectl(&["--token=alicetoken", "get", "pods"]).ok();
    c.kubectl(&["--token=alicetoken", "get", "secrets"]).fails();

    // Metrics need authentication and count requests.
    let (code, body) = curl(&c, "/metrics", Some("admintoken"));
    assert_eq!(code, 200);
    assert!(
        body.contains(
            "apiserver_request_total{verb=\"LIST\",resource=\"namespaces\",code=\"200\"}"
        ),
        "{body}"
    );
}

//! Bad input gets upstream's errors from kubectl, and the server stays up.

use super::cluster;

#[test]
fn bad_input_gets_upstream_errors() {
    let c = cluster();
    // An invalid name: 422 with the field and upstream's message.
    let err = c
        .kubectl(&["create", "configmap", "Bad_Name", "--from-literal=a=b"])
        .fails()
        .to_string();
    assert!(err.contains("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{err}");

    // An unknown field with strict validation (kubectl's default).
    let typo = c.file("typo.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typo\nspec:\n  replicass: 2\n  selector:\n    matchLabels: {app: t}\n  template:\n    metadata:\n      labels: {app: t}\n    spec:\n      containers:\n      - name: t\n        image: busybox\n");
    let err = c
        .kubectl(&["apply", "--validate=strict", "-f", typo.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(err.contains("unknown field \"spec.replicass\""), "{err}");
    c.kubectl(&["get", "deploy", "typo"]).fails();
    // With validation off the field is dropped and the object created.
    c.kubectl(&["apply", "--validate=false", "-f", typo.to_str().unwrap()])
        .ok();

    // A kind that does not exist.
    let wrong = c.file(
        "wrong.yaml",
        "apiVersion: apps/v1\nkind: Deploymentt\nmetadata:\n  name: x\n",
    );
    let err = c
        .kubectl(&["apply", "-f", wrong.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(
        err.contains("no matches for kind \"Deploymentt\" in version \"apps/v1\""),
        "{err}"
    );

    // A value of the wrong type.
    let typed = c.file(
        "typed.json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t"},"data":{"a":1}}"#,
    );
    let err = c
        .kubectl(&["create", "-f", typed.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(
        err.contains("BadRequest") || err.contains("cannot be handled"),
        "{err}"
    );

    // Not found, already exists.
    let err = c.kubectl(&["get", "configmap", "nope"]).fails().to_string();
    assert!(
        err.contains("Error from server (NotFound): configmaps \"nope\" not found"),
        "{err}"
    );
    c.kubectl(&["create", "configmap", "dup"]).ok();
    let err = c
        .kubectl(&["create", "configmap", "dup"])
        .fails()
        .to_string();
    assert!(err.contains("configmaps \"dup\" already exists"), "{err}");

    // An update from a stale resourceVersion conflicts.
    let stale = c
        .kubectl(&["get", "configmap", "dup", "-o", "json"])
        .ok()
        .to_string();
    c.kubectl(&["label", "configmap", "dup", "changed=yes"])
        .ok();
    let stale = c.file(
        "stale.json",
        &stale.replace(
            "\"kind\": \"ConfigMap\"",
            "\"data\": {\"k\": \"v\"}, \"kind\": \"ConfigMap\"",
        ),
    );
    let err = c
        .kubectl(&["replace", "-f", stale.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(err.contains("the object has been modified; please apply your changes to the latest version and try again"), "{err}");

    // Malformed JSON straight to the API: 400 with a Status.
    let garbage = c.file("garbage.json", "{\"apiVersion\": \"v1\", \"kind\": ");
    let err = c
        .kubectl(&[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            garbage.to_str().unwrap(),
        ])
        .fails()
        .to_string();
    assert!(
        err.contains("BadRequest") || err.contains("json parse error"),
        "{err}"
    );

    // A body over 3 MiB: 413.
    let huge = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"huge\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    let huge = c.file("huge.json", &huge);
    let err = c
        .kubectl(&[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            huge.to_str().unwrap(),
        ])
        .fails()
        .to_string();
    assert!(
        err.contains("Request entity too large") || err.contains("RequestEntityTooLarge"),
        "{err}"
    );

    // A ConfigMap over 1 MiB of data but under the body limit: 422.
    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let big = c.file("big.json", &big);
    let err = c
        .kubectl(&["create", "-f", big.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(err.contains("is invalid"), "{err}");

    // Objects in a namespace that does not exist are refused.
    let err = c
        .kubectl(&["create", "configmap", "orphan", "-n", "missing"])
        .fails()
        .to_string();
    assert!(err.contains("namespaces \"missing\" not found"), "{err}");

    // The server is still up and serving.
    let out = c.kubectl(&["get", "namespaces"]).ok().to_string();
    assert!(out.contains("default"), "{out}");
}

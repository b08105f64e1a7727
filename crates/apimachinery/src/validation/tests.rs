//! Tests of the validation helpers, with upstream's exact messages.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference, Time,
};
use serde_json::json;

use super::*;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

fn meta() -> Path {
    Path::new("metadata")
}

#[test]
fn paths_render_like_upstream() {
    let containers = Path::new("spec")
        .child("template")
        .child("spec")
        .child("containers");
    assert_eq!(
        containers.index(0).child("image").to_string(),
        "spec.template.spec.containers[0].image"
    );
    assert_eq!(
        meta().child("labels").key("app").to_string(),
        "metadata.labels[app]"
    );
    assert_eq!(
        Path::new("values").index(0).key("a").to_string(),
        "values[0][a]"
    );
    assert_eq!(Path::root().to_string(), "");
    assert_eq!(Path::root().child("key").to_string(), "key");
    assert_eq!(Path::root().index(2).to_string(), "[2]");
}

#[test]
fn field_error_messages() {
    let name = meta().child("name");
    let cases: Vec<(FieldError, &str)> = vec![
        (
            FieldError::invalid(&name, "Foo_Bar", is_dns1123_subdomain("Foo_Bar").remove(0)),
            "metadata.name: Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            FieldError::required(
                &Path::new("spec")
                    .child("containers")
                    .index(0)
                    .child("image"),
                "",
            ),
            "spec.containers[0].image: Required value",
        ),
        (
            FieldError::required(&name, "name or generateName is required"),
            "metadata.name: Required value: name or generateName is required",
        ),
        (
            FieldError::invalid(
                &Path::new("spec").child("replicas"),
                -1,
                IS_NEGATIVE_ERROR_MSG,
            ),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            FieldError::not_supported(
                &Path::new("spec").child("restartPolicy"),
                "Sometimes",
                &["Always", "Never", "OnFailure"],
            ),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\"",
        ),
        (
            FieldError::not_supported(&name, "x", &[]),
            "metadata.name: Unsupported value: \"x\"",
        ),
        (
            FieldError::forbidden(&meta().child("namespace"), "not allowed on this type"),
            "metadata.namespace: Forbidden: not allowed on this type",
        ),
        (
            FieldError::invalid(
                &Path::new("spec").child("selector"),
                json!({"a": "b"}),
                FIELD_IMMUTABLE_ERROR_MSG,
            ),
            "spec.selector: Invalid value: {\"a\":\"b\"}: field is immutable",
        ),
        (
            FieldError::duplicate(&Path::new("spec").child("ports").index(1), "http"),
            "spec.ports[1]: Duplicate value: \"http\"",
        ),
        (
            FieldError::not_found(&Path::new("spec").child("node"), "n1"),
            "spec.node: Not found: \"n1\"",
        ),
        (
            FieldError::too_long(&meta().child("annotations"), TOTAL_ANNOTATION_SIZE_LIMIT),
            "metadata.annotations: Too long: may not be more than 262144 bytes",
        ),
        (
            FieldError::too_long(&name, 1),
            "metadata.name: Too long: may not be more than 1 byte",
        ),
        (
            FieldError::too_many(&Path::new("spec").child("items"), Some(5), 3),
            "spec.items: Too many: 5: must have at most 3 items",
        ),
        (
            FieldError::too_many(&Path::new("spec").child("items"), None, 1),
            "spec.items: Too many: must have at most 1 item",
        ),
        (
            FieldError::internal(&name, "boom"),
            "metadata.name: Internal error: boom",
        ),
        (
            FieldError::type_invalid(&name, 5, "must be a string"),
            "metadata.name: Invalid value: 5: must be a string",
        ),
        (
            FieldError::invalid(&name, Value::Null, "x"),
            "metadata.name: Invalid value: null: x",
        ),
        (
            FieldError::invalid(&name, true, "x"),
            "metadata.name: Invalid value: true: x",
        ),
        (
            FieldError::invalid(&name, vec!["a", "<b>"], "x"),
            "metadata.name: Invalid value: [\"a\",\"\\u003cb\\u003e\"]: x",
        ),
        (
            FieldError::invalid(&name, "tab\there \"q\" é\u{1}", "x"),
            "metadata.name: Invalid value: \"tab\\there \\\"q\\\" é\\x01\": x",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
        assert_eq!(err.message(), want);
    }
}

#[test]
fn field_error_body_and_reason() {
    let err = FieldError::invalid(&Path::new("spec").child("replicas"), -1, "bad");
    assert_eq!(err.body(), "Invalid value: -1: bad");
    assert_eq!(err.kind.reason(), "FieldValueInvalid");
    assert_eq!(err.field, "spec.replicas");
    let reasons = [
        (ErrorType::NotFound, "FieldValueNotFound", "Not found"),
        (ErrorType::Required, "FieldValueRequired", "Required value"),
        (
            ErrorType::Duplicate,
            "FieldValueDuplicate",
            "Duplicate value",
        ),
        (ErrorType::Invalid, "FieldValueInvalid", "Invalid value"),
        (
            ErrorType::NotSupported,
            "FieldValueNotSupported",
            "Unsupported value",
        ),
        (ErrorType::Forbidden, "FieldValueForbidden", "Forbidden"),
        (ErrorType::TooLong, "FieldValueTooLong", "Too long"),
        (ErrorType::TooMany, "FieldValueTooMany", "Too many"),
        (ErrorType::Internal, "InternalError", "Internal error"),
        (
            ErrorType::TypeInvalid,
            "FieldValueTypeInvalid",
            "Invalid value",
        ),
    ];
    for (kind, reason, text) in reasons {
        assert_eq!(kind.reason(), reason);
        assert_eq!(kind.to_string(), text);
    }
}

#[test]
fn aggregate_messages() {
    let a = FieldError::required(&Path::new("a"), "");
    let b = FieldError::required(&Path::new("b"), "");
    assert_eq!(aggregate_message(&[]), None);
    assert_eq!(
        aggregate_message(std::slice::from_ref(&a)).as_deref(),
        Some("a: Required value")
    );
    assert_eq!(
        aggregate_message(&[a.clone(), b, a]).as_deref(),
        Some("[a: Required value, b: Required value]")
    );
}

#[test]
fn name_validators() {
    let long64 = "a".repeat(64);
    let long254 = "a".repeat(254);
    type Validator = fn(&str) -> Vec<String>;
    let cases: Vec<(Validator, &str, Vec<String>)> = vec![
        (is_dns1123_subdomain, "example.com", vec![]),
        (is_dns1123_subdomain, "Foo_Bar", vec![SUBDOMAIN_MSG.into()]),
        (is_dns1123_subdomain, "", vec![SUBDOMAIN_MSG.into()]),
        (is_dns1123_subdomain, "a..b", vec![SUBDOMAIN_MSG.into()]),
        (
            is_dns1123_subdomain,
            &long254,
            vec!["must be no more than 253 characters".into()],
        ),
        (is_dns1123_label, "my-name", vec![]),
        (is_dns1123_label, "a.b", vec!["must not contain dots".into()]),
        (is_dns1123_label, "-a", vec![LABEL_MSG.into()]),
        (
            is_dns1123_label,
            &long64,
            vec!["must be no more than 63 characters".into()],
        ),
        (is_dns1035_label, "abc-123", vec![]),
        (
            is_dns1035_label,
            "1abc",
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into()],
        ),
        (is_valid_path_segment_name, "ok", vec![]),
        (is_valid_path_segment_name, "..", vec!["may not be '..'".into()]),
        (
            is_valid_path_segment_name,
            "a/b%c",
            vec!["may not contain '/'".into(), "may not contain '%'".into()],
        ),
    ];
    for (f, input, want) in cases {
        assert_eq!(f(input), want, "input {input:?}");
    }
}

#[test]
fn qualified_names_and_label_values() {
    for ok in ["app", "app.kubernetes.io/name", "A_b.c-d", "x/Y"] {
        assert!(is_qualified_name(ok).is_empty(), "{ok}");
    }
    assert_eq!(is_qualified_name("a_"), vec![NAME_PART_MSG.to_string()]);
    assert_eq!(
        is_qualified_name("/a"),
        vec!["prefix part must be non-empty".to_string()]
    );
    assert_eq!(
        is_qualified_name("a/"),
        vec![
            "name part must be non-empty".to_string(),
            NAME_PART_MSG.to_string()
        ]
    );
    assert_eq!(
        is_qualified_name("Example.com/a"),
        vec![format!("prefix part {SUBDOMAIN_MSG}")]
    );
    assert_eq!(
        is_qualified_name(&"a".repeat(64)),
        vec!["name part must be no more than 63 characters".to_string()]
    );
    assert_eq!(
        is_qualified_name("a/b/c"),
        vec!["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_string()]
    );

    for ok in ["", "v1", "my_value", "1.2-3"] {
        assert!(is_valid_label_value(ok).is_empty(), "{ok}");
    }
    assert_eq!(
        is_valid_label_value("-a"),
        vec![LABEL_VALUE_MSG.to_string()]
    );
    assert_eq!(
        is_valid_label_value(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}

#[test]
fn misc_validators() {
    assert!(is_c_identifier("_my_Name1").is_empty());
    assert_eq!(
        is_c_identifier("1a"),
        vec!["a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')".to_string()]
    );
    assert!(is_env_var_name("MY_ENV.name-1").is_empty());
    assert_eq!(
        is_env_var_name("1A"),
        vec!["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')".to_string()]
    );
    assert_eq!(is_env_var_name(".."), vec!["must not be '..'".to_string()]);
    assert_eq!(
        is_env_var_name("..a"),
        vec!["must not start with '..'".to_string()]
    );
    assert!(is_config_map_key("key.name").is_empty());
    assert_eq!(
        is_config_map_key("a/b"),
        vec!["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()]
    );
    assert_eq!(is_config_map_key("."), vec!["must not be '.'".to_string()]);

    assert!(is_valid_port_num(80).is_empty());
    assert_eq!(
        is_valid_port_num(0),
        vec!["must be between 1 and 65535, inclusive".to_string()]
    );
    assert_eq!(
        is_valid_port_num(65536),
        vec!["must be between 1 and 65535, inclusive".to_string()]
    );
    assert!(is_valid_port_name("http-alt").is_empty());
    assert_eq!(
        is_valid_port_name("-Http--aaaaaaaaaaaaa"),
        vec![
            "must be no more than 15 characters".to_string(),
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
            "must not contain consecutive hyphens".to_string(),
            "must not begin or end with a hyphen".to_string(),
        ]
    );
    assert_eq!(
        is_valid_port_name("123"),
        vec!["must contain at least one letter (a-z)".to_string()]
    );

    for ok in [
        "10.9.8.7",
        "010.1.1.1",
        "::1",
        "2001:db8::ffff",
        "::ffff:1.2.3.4",
    ] {
        assert!(is_valid_ip(ok).is_empty(), "{ok}");
    }
    for bad in ["1.2.3", "256.1.1.1", "", "fe80::1%eth0", "a.b.c.d"] {
        assert_eq!(
            is_valid_ip(bad),
            vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".to_string()],
            "{bad}"
        );
    }
    assert!(is_valid_ipv4_address("1.2.3.4").is_empty());
    assert_eq!(
        is_valid_ipv4_address("::1"),
        vec!["must be a valid IPv4 address".to_string()]
    );
    assert!(is_valid_ipv6_address("::1").is_empty());
    for ok in ["10.0.0.0/8", "2001:db8::/64", "10.1.2.3/32", "0.0.0.0/0"] {
        assert!(is_valid_cidr(ok).is_empty(), "{ok}");
    }
    for bad in [
        "10.0.0.0",
        "10.0.0.0/33",
        "2001:db8::/129",
        "x/8",
        "10.0.0.0/",
    ] {
        assert_eq!(
            is_valid_cidr(bad),
            vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".to_string()],
            "{bad}"
        );
    }

    assert!(is_valid_percent("25%").is_empty());
    assert_eq!(
        is_valid_percent("25"),
        vec!["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')".to_string()]
    );
    assert!(is_http_header_name("X-Header").is_empty());
    assert_eq!(mask_trailing_dash("web-"), "weba");
    assert_eq!(mask_trailing_dash("-"), "-");
}

#[test]
fn int_or_percent() {
    let p = Path::new("spec")
        .child("strategy")
        .child("rollingUpdate")
        .child("maxSurge");
    assert!(validate_positive_int_or_percent(&json!("25%"), &p).is_empty());
    assert!(validate_positive_int_or_percent(&json!(1), &p).is_empty());
    assert_eq!(
        messages(&validate_positive_int_or_percent(&json!(-1), &p)),
        vec![
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"
        ]
    );
    assert_eq!(
        messages(&validate_positive_int_or_percent(&json!("50x"), &p)),
        vec![
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"50x\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        ]
    );
}

fn object_meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        namespace: namespace.map(str::to_string),
        ..Default::default()
    }
}

#[test]
fn object_meta_on_create() {
    let ok = object_meta("web", Some("default"));
    assert!(validate_object_meta(&ok, true, name_is_dns_subdomain, &meta()).is_empty());

    let generate_name_err =
        format!("metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN_MSG}");
    let name_err = format!("metadata.name: Invalid value: \"Web-abcde\": {SUBDOMAIN_MSG}");
    let label_key_err = format!("metadata.labels: Invalid value: \"bad key\": {NAME_PART_MSG}");
    let label_value_err = format!("metadata.labels: Invalid value: \"-v\": {LABEL_VALUE_MSG}");
    let cases: Vec<(ObjectMeta, bool, Vec<&str>)> = vec![
        (
            ObjectMeta::default(),
            true,
            vec![
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Required value",
            ],
        ),
        (
            object_meta("node-1", Some("default")),
            false,
            vec!["metadata.namespace: Forbidden: not allowed on this type"],
        ),
        (
            object_meta("Foo_Bar", None),
            false,
            vec![
                "metadata.name: Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ],
        ),
        (
            object_meta("web", Some("Bad.NS")),
            true,
            vec![
                "metadata.namespace: Invalid value: \"Bad.NS\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ],
        ),
        (
            ObjectMeta {
                generation: Some(-1),
                ..object_meta("web", None)
            },
            false,
            vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"],
        ),
        (
            ObjectMeta {
                generate_name: Some("Web-".into()),
                ..object_meta("Web-abcde", Some("default"))
            },
            true,
            vec![&generate_name_err, &name_err],
        ),
        (
            ObjectMeta {
                labels: Some(BTreeMap::from([
                    ("app".into(), "web".into()),
                    ("bad key".into(), "-v".into()),
                ])),
                ..object_meta("web", None)
            },
            false,
            vec![&label_key_err, &label_value_err],
        ),
        (
            ObjectMeta {
                annotations: Some(BTreeMap::from([
                    ("Example.COM/Key".into(), "ok".into()),
                    ("big".into(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)),
                ])),
                ..object_meta("web", None)
            },
            false,
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"],
        ),
        (
            ObjectMeta {
                finalizers: Some(vec![
                    "orphan".into(),
                    "foregroundDeletion".into(),
                    "a/b/c".into(),
                ]),
                ..object_meta("web", None)
            },
            false,
            vec![
                "metadata.finalizers: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                "metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\",\"a/b/c\"]: finalizer orphan and foregroundDeletion cannot be both set",
            ],
        ),
    ];
    for (m, namespaced, want) in cases {
        assert_eq!(
            messages(&validate_object_meta(
                &m,
                namespaced,
                name_is_dns_subdomain,
                &meta()
            )),
            want
        );
    }
}

#[test]
fn owner_references() {
    let owner = |kind: &str, name: &str, controller: bool| OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: "u1".into(),
        controller: Some(controller),
        block_owner_deletion: None,
    };
    let p = meta().child("ownerReferences");
    assert!(validate_owner_references(&[owner("ReplicaSet", "a", true)], &p).is_empty());
    let errs = validate_owner_references(
        &[
            owner("ReplicaSet", "a", true),
            owner("ReplicaSet", "b", true),
        ],
        &p,
    );
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().ends_with(
        ": Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"
    ));
    let bad = OwnerReference {
        api_version: "v1".into(),
        kind: "Event".into(),
        name: String::new(),
        uid: String::new(),
        ..Default::default()
    };
    assert_eq!(
        messages(&validate_owner_references(&[bad], &p)),
        vec![
            "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences: Invalid value: {\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"\",\"uid\":\"\"}: /v1, Kind=Event is disallowed from being an owner",
        ]
    );
}

fn time(s: &str) -> Time {
    Time(s.parse().unwrap())
}

#[test]
fn object_meta_on_update() {
    let old = ObjectMeta {
        uid: Some("u1".into()),
        resource_version: Some("5".into()),
        creation_timestamp: Some(time("2024-01-01T00:00:00Z")),
        generation: Some(2),
        ..object_meta("web", Some("default"))
    };
    assert!(validate_object_meta_update(&old, &old, &meta()).is_empty());

    let new = ObjectMeta {
        name: Some("other".into()),
        namespace: Some("kube-system".into()),
        uid: Some("u2".into()),
        resource_version: None,
        generation: Some(1),
        creation_timestamp: Some(time("2025-01-01T00:00:00Z")),
        deletion_grace_period_seconds: Some(30),
        ..old.clone()
    };
    assert_eq!(
        messages(&validate_object_meta_update(&new, &old, &meta())),
        vec![
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 1: must not be decremented",
            "metadata.name: Invalid value: \"other\": field is immutable",
            "metadata.namespace: Invalid value: \"kube-system\": field is immutable",
            "metadata.uid: Invalid value: \"u2\": field is immutable",
            "metadata.creationTimestamp: Invalid value: \"2025-01-01T00:00:00Z\": field is immutable",
            "metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable",
        ]
    );

    let deleting = ObjectMeta {
        deletion_timestamp: Some(time("2024-02-01T00:00:00Z")),
        finalizers: Some(vec!["a.io/x".into()]),
        ..old.clone()
    };
    let added = ObjectMeta {
        finalizers: Some(vec!["a.io/x".into(), "b.io/y".into(), "a.io/z".into()]),
        ..deleting.clone()
    };
    assert_eq!(
        messages(&validate_object_meta_update(&added, &deleting, &meta())),
        vec![
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"a.io/z\", \"b.io/y\"}"
        ]
    );
    let undeleted = ObjectMeta {
        deletion_timestamp: None,
        ..deleting.clone()
    };
    assert_eq!(
        messages(&validate_object_meta_update(&undeleted, &deleting, &meta())),
        vec!["metadata.deletionTimestamp: Invalid value: null: field is immutable"]
    );
}

#[test]
fn immutable_fields() {
    let p = Path::new("spec").child("selector");
    assert!(validate_immutable_field(&json!({"a": 1, "b": []}), &json!({"a": 1}), &p).is_empty());
    assert!(
        validate_immutable_field(&json!({"b": 2, "a": 1}), &json!({"a": 1, "b": 2}), &p).is_empty()
    );
    assert!(validate_immutable_field(&json!(null), &json!({}), &p).is_empty());
    assert_eq!(
        messages(&validate_immutable_field(
            &json!({"matchLabels": {"app": "b"}}),
            &json!({"matchLabels": {"app": "a"}}),
            &p
        )),
        vec!["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"b\"}}: field is immutable"]
    );
}

#[test]
fn label_selectors_of_specs() {
    let sel = LabelSelector {
        match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
        match_expressions: Some(vec![
            LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: None,
            },
            LabelSelectorRequirement {
                key: "env".into(),
                operator: "Exists".into(),
                values: Some(vec!["x".into()]),
            },
            LabelSelectorRequirement {
                key: "k".into(),
                operator: "Equals".into(),
                values: Some(vec!["-bad".into()]),
            },
        ]),
    };
    let p = Path::new("spec").child("selector");
    assert_eq!(
        messages(&validate_label_selector(&sel, &p)),
        vec![
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_string(),
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_string(),
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Equals\": not a valid selector operator".to_string(),
            format!("spec.selector.matchExpressions[2].values[0]: Invalid value: \"-bad\": {LABEL_VALUE_MSG}"),
        ]
    );
}

#[test]
fn managed_fields_and_field_manager() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    let entries = vec![
        ManagedFieldsEntry {
            manager: Some("kubectl".into()),
            operation: Some("Update".into()),
            fields_type: Some("FieldsV1".into()),
            ..Default::default()
        },
        ManagedFieldsEntry {
            manager: Some("bad\u{7}".into()),
            operation: Some("Patch".into()),
            fields_type: Some("FieldsV2".into()),
            ..Default::default()
        },
    ];
    assert_eq!(
        messages(&validate_managed_fields(
            &entries,
            &meta().child("managedFields")
        )),
        vec![
            "metadata.managedFields[1].operation: Invalid value: \"Patch\": must be `Apply` or `Update`",
            "metadata.managedFields[1].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`",
            "metadata.managedFields[1].manager: Invalid value: \"bad\\a\": invalid character U+0007 (at position 3)",
        ]
    );
}

#[test]
fn quantities_parse_and_canonicalize() {
    // input, canonical form, milli value
    let cases: &[(&str, &str, i128)] = &[
        ("0", "0", 0),
        ("100m", "100m", 100),
        ("1Gi", "1Gi", 1_073_741_824_000),
        ("2", "2", 2000),
        ("1e3", "1e3", 1_000_000),
        ("500M", "500M", 500_000_000_000),
        ("1000m", "1", 1000),
        ("1000", "1k", 1_000_000),
        ("1024Mi", "1Gi", 1_073_741_824_000),
        ("1.5Gi", "1536Mi", 1_610_612_736_000),
        ("0.5Ki", "512", 512_000),
        ("1023Ki", "1023Ki", 1_047_552_000),
        ("0.1", "100m", 100),
        (".5", "500m", 500),
        ("1.", "1", 1000),
        ("1.5", "1500m", 1500),
        ("1.5e3", "1500", 1_500_000),
        ("12e6", "12e6", 12_000_000_000),
        ("1E", "1E", 1_000_000_000_000_000_000_000),
        ("-100m", "-100m", -100),
        ("+2k", "2k", 2_000_000),
        ("1n", "1n", 1),
        ("0.1n", "1n", 1),
        ("1e-12", "1e-9", 1),
        ("1.5m", "1500u", 2),
        ("007", "7", 7000),
        (
            "9223372036854775807Ki",
            "9223372036854775807",
            9_223_372_036_854_775_807_000,
        ),
    ];
    for (input, canonical, milli) in cases {
        let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(q.to_string(), *canonical, "canonical form of {input}");
        assert_eq!(q.milli_value(), *milli, "milli value of {input}");
    }
    assert_eq!(parse_quantity("1.5").unwrap().value(), 2);
    assert_eq!(parse_quantity("-1.5").unwrap().value(), -2);
    assert_eq!(parse_quantity("250m").unwrap().as_decimal(), (25, -2));
}

#[test]
fn quantities_reject_garbage() {
    let format = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    let suffix = "unable to parse quantity's suffix";
    let cases = [
        ("", format),
        ("abc", format),
        ("1Zi", format),
        ("1.1.1", format),
        (" 1", format),
        ("1 ", format),
        ("1Gix", format),
        ("1+1.0M", format),
        ("1ki", suffix),
        ("1e", suffix),
        ("0.1mi", suffix),
        (".5i", suffix),
        ("-3.01e-", suffix),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_quantity(input).map_err(|e| e.to_string()),
            Err(want.to_string()),
            "{input:?}"
        );
    }
}

#[test]
fn quantities_compare_and_add() {
    let q = |s: &str| parse_quantity(s).unwrap();
    assert_eq!(q("1"), q("1000m"));
    assert_eq!(q("1k"), q("1e3"));
    assert!(q("1Gi") > q("1G"));
    assert!(q("100m") < q("0.2"));
    assert!(q("-1") < q("0"));
    assert!(q("-2") < q("-1"));
    assert!(q("1E") > q("999P"));
    assert_eq!(q("100m").add(&q("1")), q("1100m"));
    assert_eq!(q("100m").add(&q("1")).to_string(), "1100m");
    assert_eq!(q("1Gi").sub(&q("512Mi")).to_string(), "512Mi");
    assert_eq!(Quantity::from_milli(250).to_string(), "250m");
    let mut list = [q("2"), q("100m"), q("1Gi"), q("0")];
    list.sort();
    assert_eq!(
        list.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["0", "100m", "2", "1Gi"]
    );
    assert_eq!(
        messages(&validate_nonnegative_quantity(
            &q("-1"),
            &Path::new("spec").child("hard").key("cpu")
        )),
        vec!["spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"]
    );
}

//! Tests of field selector parsing, printing and matching.

use serde_json::json;

use super::*;

#[test]
fn parses_and_prints() {
    let cases = [
        ("", ""),
        ("metadata.name=web", "metadata.name=web"),
        ("metadata.name==web", "metadata.name=web"),
        ("status.phase!=Running", "status.phase!=Running"),
        (
            "status.phase!=Running,metadata.name=web",
            "metadata.name=web,status.phase!=Running",
        ),
        ("spec.nodeName=", "spec.nodeName="),
        ("a=b,,c=d,", "a=b,c=d"),
        ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
        ("a==", "a="),
    ];
    for (input, want) in cases {
        let sel = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), want, "{input:?}");
        assert_eq!(parse(want).unwrap(), sel, "{want:?}");
    }
    let sel = parse("a=x\\,y\\=z\\\\").unwrap();
    assert_eq!(sel.requirements()[0].value, "x,y=z\\");
    assert!(parse("").unwrap().is_empty());
}

#[test]
fn parse_errors() {
    let cases = [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("x=y,a", "invalid selector: 'x=y,a'; can't understand 'a'"),
        (
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a=b\\c",
            "invalid field selector: invalid escape sequence: \\c",
        ),
        (
            "a=b\\",
            "invalid field selector: invalid escape sequence: \\",
        ),
        (
            "a!==b",
            "invalid field selector: unescaped character in value: 61",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse(input).map_err(|e| e.to_string()),
            Err(want.to_string()),
            "{input:?}"
        );
    }
}

#[test]
fn matches_objects() {
    let pod = json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"restartPolicy": "Always", "hostNetwork": false, "priority": 5},
        "status": {"phase": "Running"}
    });
    let cases = [
        ("", true),
        ("metadata.name=web", true),
        ("metadata.name=db", false),
        ("metadata.name!=db", true),
        ("metadata.name=web,status.phase=Running", true),
        ("metadata.name=web,status.phase!=Running", false),
        ("spec.nodeName=", true),
        ("spec.nodeName!=", false),
        ("spec.nodeName=n1", false),
        ("spec.hostNetwork=false", true),
        ("spec.priority=5", true),
    ];
    for (selector, want) in cases {
        let sel = parse(selector).unwrap();
        assert_eq!(sel.matches_json(&pod), want, "{selector:?}");
        assert_eq!(sel.matches(|f| json_field(&pod, f)), want, "{selector:?}");
    }
}

#[test]
fn resolves_json_fields() {
    let obj = json!({
        "metadata": {"name": "ev", "labels": {"a": "b"}},
        "involvedObject": {"uid": "u-1", "kind": "Pod"},
        "count": 3,
        "flag": true,
        "nothing": null
    });
    assert_eq!(json_field(&obj, "metadata.name").as_deref(), Some("ev"));
    assert_eq!(
        json_field(&obj, "involvedObject.uid").as_deref(),
        Some("u-1")
    );
    assert_eq!(json_field(&obj, "count").as_deref(), Some("3"));
    assert_eq!(json_field(&obj, "flag").as_deref(), Some("true"));
    assert_eq!(json_field(&obj, "nothing"), None);
    assert_eq!(json_field(&obj, "metadata"), None);
    assert_eq!(json_field(&obj, "metadata.namespace"), None);
    assert_eq!(json_field(&obj, "metadata.name.x"), None);
    assert_eq!(json_field(&obj, "metadata.labels.a").as_deref(), Some("b"));
}

#[test]
fn supported_fields_and_transforms() {
    let sel = parse("spec.host=n1,metadata.name=web").unwrap();
    assert_eq!(
        sel.requirements()
            .iter()
            .map(|r| r.field.as_str())
            .collect::<Vec<_>>(),
        ["metadata.name", "spec.host"]
    );
    assert_eq!(
        sel.check_supported(&["metadata.name", "spec.nodeName"])
            .map_err(|e| e.to_string()),
        Err("field label not supported: spec.host".to_string())
    );
    assert!(sel.check_supported(&["metadata.name", "spec.host"]).is_ok());
    let mapped = sel
        .transform(|f, v| {
            Ok::<_, FieldLabelError>((
                if f == "spec.host" { "spec.nodeName" } else { f }.to_string(),
                v.to_string(),
            ))
        })
        .unwrap();
    assert_eq!(mapped.to_string(), "metadata.name=web,spec.nodeName=n1");
    assert_eq!(mapped.requires_exact_match("spec.nodeName"), Some("n1"));
    assert_eq!(
        sel.transform(default_meta_field_conversion)
            .map_err(|e| e.to_string()),
        Err("\"spec.host\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"".to_string())
    );
    assert_eq!(
        FieldSelector::one_term_equal("metadata.name", "a,b").to_string(),
        "metadata.name=a\\,b"
    );
    assert_eq!(
        parse("status.phase!=Running")
            .unwrap()
            .requires_exact_match("status.phase"),
        None
    );
    assert_eq!(escape_value("a\\b,c=d"), "a\\\\b\\,c\\=d");
    assert_eq!(unescape_value("a\\\\b\\,c\\=d").unwrap(), "a\\b,c=d");
    assert_eq!(
        unescape_value("a,b").map_err(|e| e.to_string()),
        Err("invalid field selector: unescaped character in value: 44".to_string())
    );
}

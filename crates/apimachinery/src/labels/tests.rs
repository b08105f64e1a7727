//! Tests of label selector parsing, printing and matching.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::json;

use super::*;

const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_and_prints_canonically() {
    let cases = [
        ("", ""),
        ("x=a", "x=a"),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=c,x=a", "x=a,z=c"),
        ("x==a", "x==a"),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("  x  =  a  ,  y  ", "x=a,y"),
        ("!x", "!x"),
        ("! x", "!x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x in (b,a)", "x in (a,b)"),
        ("x in (a,a)", "x in (a)"),
        ("x notin (a)", "x notin (a)"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("x in (in)", "x in (in)"),
        ("x in (notin,a)", "x in (a,notin)"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
        ("x\tin\t(a)", "x in (a)"),
    ];
    for (input, want) in cases {
        let sel = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), want, "{input:?}");
        // The canonical form parses back to the same selector.
        assert_eq!(parse(want).unwrap(), sel, "{want:?}");
    }
    assert!(parse("").unwrap().is_empty());
    assert!(!parse("x").unwrap().is_empty());
}

#[test]
fn parse_errors_carry_upstream_messages() {
    let cases: Vec<(&str, String)> = vec![
        (
            "x==a==b",
            "found '==', expected: ',' or 'end of string'".into(),
        ),
        ("!x=a", "found '=', expected: ',' or 'end of string'".into()),
        ("x=a b", "found 'b', expected: ',' or 'end of string'".into()),
        (
            ",x",
            "found ',', expected: !, identifier, or 'end of string'".into(),
        ),
        ("x,", "found '', expected: identifier after ','".into()),
        ("x,,y", "found ',', expected: identifier after ','".into()),
        (
            "x y",
            "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt".into(),
        ),
        (
            "x in a",
            "unable to parse requirement: found 'a' expected: '('".into(),
        ),
        (
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'".into(),
        ),
        (
            "x in (a b)",
            "unable to parse requirement: found 'b', expected: ',' or ')'".into(),
        ),
        (
            "x in",
            "unable to parse requirement: found '' expected: '('".into(),
        ),
        (
            "x in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier".into(),
        ),
        (
            "x>=1",
            "unable to parse requirement: found '=', expected: identifier".into(),
        ),
        (
            "!=x",
            "found '!=', expected: !, identifier, or 'end of string'".into(),
        ),
        (
            "!!x",
            "unable to parse requirement: found '!', expected: identifier".into(),
        ),
        (
            "x<a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer".into(),
        ),
        (
            "a_=b",
            format!("unable to parse requirement: <nil>: Invalid value: \"a_\": {NAME_PART_MSG}"),
        ),
        (
            "x=a||y=b",
            format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {LABEL_VALUE_MSG}"),
        ),
        (
            "x>a_",
            format!("unable to parse requirement: [values[0]: Invalid value: \"a_\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"a_\": {LABEL_VALUE_MSG}]"),
        ),
        (
            "a/b/c",
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse(input).map_err(|e| e.to_string()),
            Err(want),
            "{input:?}"
        );
    }
}

type MatchCase<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

#[test]
fn matches_labels() {
    let cases: &[MatchCase] = &[
        ("", &[], true),
        ("", &[("x", "y")], true),
        ("x=y", &[("x", "y")], true),
        ("x=y", &[("x", "z")], false),
        ("x=y", &[], false),
        ("x==y", &[("x", "y")], true),
        ("x!=y", &[], true),
        ("x!=y", &[("x", "y")], false),
        ("x!=y", &[("x", "z")], true),
        ("x in (a,b)", &[("x", "b")], true),
        ("x in (a,b)", &[("x", "c")], false),
        ("x in (a,b)", &[], false),
        ("x notin (a)", &[], true),
        ("x notin (a)", &[("x", "a")], false),
        ("x", &[("x", "")], true),
        ("x", &[], false),
        ("!x", &[("x", "")], false),
        ("!x", &[("y", "")], true),
        ("x=", &[("x", "")], true),
        ("x=", &[], false),
        ("x>1", &[("x", "2")], true),
        ("x>1", &[("x", "1")], false),
        ("x>1", &[("x", "a")], false),
        ("x>1", &[], false),
        ("x<1", &[("x", "-1")], true),
        ("x in (,a)", &[("x", "")], true),
        ("a=b,c", &[("a", "b"), ("c", "d")], true),
        ("a=b,c", &[("a", "b")], false),
        ("a=b,!c", &[("a", "b")], true),
    ];
    for (selector, set, want) in cases {
        let sel = parse(selector).unwrap();
        assert_eq!(sel.matches(&labels(set)), *want, "{selector:?} on {set:?}");
        let obj: serde_json::Map<String, Value> = set
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        assert_eq!(
            sel.matches_json(Some(&Value::Object(obj))),
            *want,
            "json {selector:?} on {set:?}"
        );
    }
}

#[test]
fn matches_json_labels() {
    let obj = json!({"metadata": {"name": "web", "labels": {"app": "web", "n": 1}}});
    let labels = obj.pointer("/metadata/labels");
    assert!(parse("app=web").unwrap().matches_json(labels));
    assert!(!parse("n").unwrap().matches_json(labels));
    assert!(parse("!app").unwrap().matches_json(None));
    assert!(!parse("app").unwrap().matches_json(None));
    assert!(parse("").unwrap().matches_json(Some(&Value::Null)));
}

#[test]
fn converts_label_selectors() {
    let empty = Selector::from_label_selector(&LabelSelector::default()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_string(), "");
    assert!(empty.matches(&labels(&[("a", "b")])));

    let expr = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: if values.is_empty() {
            None
        } else {
            Some(values.iter().map(|v| v.to_string()).collect())
        },
    };
    let sel = Selector::from_label_selector(&LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![
            expr("tier", "In", &["b", "a"]),
            expr("canary", "DoesNotExist", &[]),
            expr("env", "NotIn", &["dev"]),
            expr("zone", "Exists", &[]),
        ]),
    })
    .unwrap();
    assert_eq!(
        sel.to_string(),
        "app=web,!canary,env notin (dev),tier in (a,b),zone"
    );
    assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("zone", "z")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("zone", "z")])));
    assert!(!sel.matches(&labels(&[
        ("app", "web"),
        ("tier", "a"),
        ("zone", "z"),
        ("canary", "1")
    ])));
    assert_eq!(sel.requires_exact_match("app"), Some("web"));
    assert_eq!(sel.requires_exact_match("env"), None);
    assert_eq!(sel.requires_exact_match("other"), None);

    let bad = |e: LabelSelectorRequirement| {
        Selector::from_label_selector(&LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![e]),
        })
        .map_err(|e| e.to_string())
    };
    assert_eq!(
        bad(expr("a", "Equals", &["x"])),
        Err("\"Equals\" is not a valid label selector operator".to_string())
    );
    assert_eq!(
        bad(expr("a", "In", &[])),
        Err(
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
                .to_string()
        )
    );
    assert_eq!(
        bad(expr("a", "Exists", &["x"])),
        Err("values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist".to_string())
    );
    assert_eq!(
        bad(expr("a_", "In", &["-x"])),
        Err(format!(
            "[key: Invalid value: \"a_\": {NAME_PART_MSG}, values[0][a_]: Invalid value: \"-x\": {LABEL_VALUE_MSG}]"
        ))
    );
    let bad_label = Selector::from_label_selector(&LabelSelector {
        match_labels: Some(labels(&[("app", "a b")])),
        match_expressions: None,
    });
    assert_eq!(
        bad_label.map_err(|e| e.to_string()),
        Err(format!(
            "values[0][app]: Invalid value: \"a b\": {LABEL_VALUE_MSG}"
        ))
    );
}

#[test]
fn builds_requirements_and_sets() {
    let r = Requirement::new("x", Operator::GreaterThan, vec!["3".into()]).unwrap();
    assert_eq!(r.to_string(), "x>3");
    assert_eq!(r.key(), "x");
    assert_eq!(r.operator(), Operator::GreaterThan);
    assert_eq!(r.values(), ["3".to_string()]);
    assert_eq!(
        Requirement::new("x", Operator::Equals, vec![])
            .unwrap_err()
            .to_string(),
        "values: Invalid value: null: exact-match compatibility requires one single value"
    );
    let sel = Selector::from_set(&labels(&[("b", "2"), ("a", "1")]));
    assert_eq!(sel.to_string(), "a=1,b=2");
    let sel = sel.with([Requirement::new("a0", Operator::Exists, vec![]).unwrap()]);
    assert_eq!(sel.to_string(), "a=1,a0,b=2");
    assert_eq!(sel.requirements().len(), 3);
    assert_eq!(Selector::everything().to_string(), "");
    assert_eq!(
        "x in (b,a)".parse::<Selector>().unwrap().to_string(),
        "x in (a,b)"
    );
    assert_eq!(Operator::NotIn.as_str(), "notin");
}

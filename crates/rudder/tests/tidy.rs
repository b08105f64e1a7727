//! Tidy checks of the whole tree: every Rust file starts with a `//!` summary, and crates
//! depend on each other only in the allowed direction (components never on each other).

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_starts_with_a_summary() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` summary line: {missing:#?}"
    );
}

/// The internal crates each crate may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("apimachinery", &[]),
    ("store", &[]),
    ("testkit", &[]),
    ("httpstream", &[]),
    ("apiserver", &["apimachinery", "store", "httpstream"]),
    ("bench", &[]),
    ("component", &["apimachinery"]),
    ("controllers", &["apimachinery", "component"]),
    ("scheduler", &["apimachinery", "component"]),
    ("simulator", &["apimachinery", "component"]),
    ("kubelet", &["apimachinery", "component", "httpstream"]),
    (
        "rudder",
        &[
            "apiserver",
            "store",
            "apimachinery",
            "testkit",
            "component",
            "controllers",
            "scheduler",
            "simulator",
            "kubelet",
        ],
    ),
];

#[test]
fn crates_depend_in_the_allowed_direction() {
    let internal: Vec<&str> = ALLOWED.iter().map(|(c, _)| *c).collect();
    for entry in std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap();
        let allowed = ALLOWED
            .iter()
            .find(|(c, _)| *c == name)
            .unwrap_or_else(|| {
                panic!("crate {name} is not listed in the tidy test's ALLOWED table")
            })
            .1;
        for dep in &internal {
            let uses = manifest.lines().any(|l| {
                l.trim_start().starts_with(&format!("{dep}.workspace"))
                    || l.trim_start().starts_with(&format!("{dep} ="))
            });
            if uses && *dep != name {
                assert!(
                    allowed.contains(dep),
                    "crate {name} must not depend on {dep}"
                );
            }
        }
    }
}

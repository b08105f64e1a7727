//! Renders docs/benchmarks.md from the JSON files a run of scripts/bench leaves in its results
//! directory. Text after the `<!-- analysis -->` marker of an existing file is kept.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde_json::Value;

const MARKER: &str = "<!-- analysis: kept across runs of scripts/bench -->";

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Directory with the run's JSON results, commands.txt and notes.txt.
    #[arg(long)]
    results: PathBuf,
    /// The Markdown file to write.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// When the run happened.
    #[arg(long, default_value = "")]
    date: String,
    /// The commit measured.
    #[arg(long, default_value = "")]
    commit: String,
}

fn load(dir: &Path, name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The rounds `PREFIX-1.json`, `PREFIX-2.json`, …: the round with the median rate, and every
/// round's rate in order.
fn median_round(dir: &Path, prefix: &str) -> Option<(Value, Vec<f64>)> {
    let rounds: Vec<Value> = (1..)
        .map_while(|i| load(dir, &format!("{prefix}-{i}.json")))
        .collect();
    if rounds.is_empty() {
        return None;
    }
    let rates: Vec<f64> = rounds
        .iter()
        .map(|r| f(&r["per_second"]).unwrap_or_default())
        .collect();
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| rates[a].total_cmp(&rates[b]));
    let median = order[(order.len() - 1) / 2];
    Some((rounds[median].clone(), rates))
}

fn rates_text(rates: &[f64]) -> String {
    rates
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / (1024.0 * 1024.0))
        .unwrap_or_default();
    format!("{cores} cores (nproc), {model}, {mem_gib:.0} GiB memory")
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "not measured",
    }
}

pub fn run(args: ReportArgs) -> Result<()> {
    let dir = &args.results;
    let idle = load(dir, "idle-rss.json");
    let creates_rounds = median_round(dir, "creates");
    let creates = creates_rounds.as_ref().map(|(v, _)| v.clone());
    let creates_h1 = load(dir, "creates-h1.json");
    let list = load(dir, "list-pods.json");
    let watch = load(dir, "watchers.json");
    let rss10k = load(dir, "rss-10k.json");
    let rss_end = load(dir, "rss-end.json");
    let etcd_rounds = median_round(dir, "etcd-gateway");
    let etcd = etcd_rounds.as_ref().map(|(v, _)| v.clone());
    let grpc_rounds = median_round(dir, "etcd-grpc");
    let watch_conns = load(dir, "watchers-1000conns.json");
    let durable = load(dir, "durability.json");

    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Benchmarks\n")?;
    writeln!(
        w,
        "Figures from one run of `make bench` (`./scripts/bench`), which writes this file; the \
         text after the analysis marker at the end is kept across runs. A benchmark, not a test: \
         nothing here fails a build.\n"
    )?;
    writeln!(w, "- Date: {}", args.date)?;
    writeln!(w, "- Commit: {}", args.commit)?;
    writeln!(w, "- Machine: {}", machine())?;
    let load_start = text(dir, "load-start.txt");
    if !load_start.trim().is_empty() {
        writeln!(
            w,
            "- Load average (1, 5, 15 min) when the run started: {} (other work on the machine \
             shows up here and in the \"other processes\" row below)",
            load_start.trim()
        )?;
    }
    let etcd_version = text(dir, "etcd-version.txt");
    if !etcd_version.trim().is_empty() {
        writeln!(w, "- etcd: {}", etcd_version.trim())?;
    }
    writeln!(
        w,
        "- Server: `rudder server` (release build), sqlite store (WAL, `synchronous=FULL`, group \
         commit), HTTPS with the admin client certificate, on loopback; client and server share \
         the machine's cores.\n"
    )?;

    writeln!(w, "## Figures against the targets\n")?;
    writeln!(w, "| What | Target | Measured | Met |")?;
    writeln!(w, "| --- | --- | --- | --- |")?;
    match &creates {
        Some(c) => {
            let rate = f(&c["per_second"]).unwrap_or_default();
            writeln!(
                w,
                "| ConfigMap creates, {} clients over {} {} connection(s), durably stored (median of {} rounds: {}) | ≥ 5,000/s | **{rate:.0}/s** ({} in {:.2} s; latency p50 {:.1} ms, p99 {:.1} ms; {} errors) | {} |",
                c["clients"],
                c["connections"],
                c["proto"].as_str().unwrap_or_default(),
                creates_rounds
                    .as_ref()
                    .map(|(_, r)| r.len())
                    .unwrap_or_default(),
                creates_rounds
                    .as_ref()
                    .map(|(_, r)| rates_text(r))
                    .unwrap_or_default(),
                c["ok"],
                f(&c["seconds"]).unwrap_or_default(),
                f(&c["latency"]["p50_ms"]).unwrap_or_default(),
                f(&c["latency"]["p99_ms"]).unwrap_or_default(),
                c["errors"],
                met(Some(rate >= 5000.0))
            )?;
        }
        None => writeln!(
            w,
            "| ConfigMap creates, 64 clients | ≥ 5,000/s | did not run | {} |",
            met(None)
        )?,
    }
    if let Some(c) = &creates_h1 {
        let rate = f(&c["per_second"]).unwrap_or_default();
        writeln!(
            w,
            "| (same over {} HTTP/1.1 connections) | ≥ 5,000/s | {rate:.0}/s (p50 {:.1} ms, p99 {:.1} ms) | {} |",
            c["connections"],
            f(&c["latency"]["p50_ms"]).unwrap_or_default(),
            f(&c["latency"]["p99_ms"]).unwrap_or_default(),
            met(Some(rate >= 5000.0))
        )?;
    }
    match &list {
        Some(l) => {
            let median = f(&l["lists"]["p50_ms"]).unwrap_or_default();
            writeln!(
                w,
                "| LIST of {} Pods (JSON, {:.1} MiB), {} consecutive | < 100 ms | **median {median:.1} ms** (min {:.1}, p99 {:.1}; of 10 samples p99 is the max){} | {} |",
                l["pods"],
                f(&l["bytes"]).unwrap_or_default() / (1024.0 * 1024.0),
                l["lists"]["count"],
                f(&l["lists"]["min_ms"]).unwrap_or_default(),
                f(&l["lists"]["p99_ms"]).unwrap_or_default(),
                f(&l["server_cpu_ms_per_list"])
                    .map(|c| format!("; server CPU {c:.0} ms per LIST"))
                    .unwrap_or_default(),
                met(Some(median < 100.0))
            )?;
        }
        None => writeln!(
            w,
            "| LIST of 10,000 Pods | < 100 ms | did not run | {} |",
            met(None)
        )?,
    }
    for (i, v) in [&watch, &watch_conns].into_iter().enumerate() {
        match v {
            Some(v) => {
                let p99 = f(&v["latency"]["p99_ms"]).unwrap_or(f64::INFINITY);
                let all = v["deliveries"] == v["expected"] && v["established"] == v["watchers"];
                writeln!(
                    w,
                    "| Watch delivery, {} watchers over {} {} connection(s), {} creates at {}/s | p99 < 100 ms | **p99 {p99:.1} ms** (p50 {:.1}, max {:.1}); {}/{} deliveries{} | {} |",
                    v["watchers"],
                    v["connections"],
                    v["proto"].as_str().unwrap_or_default(),
                    v["events"],
                    v["rate"],
                    f(&v["latency"]["p50_ms"]).unwrap_or_default(),
                    f(&v["latency"]["max_ms"]).unwrap_or_default(),
                    v["deliveries"],
                    v["expected"],
                    f(&v["server_cpu_seconds"])
                        .zip(f(&v["seconds"]))
                        .map(|(c, s)| format!(
                            "; server at {:.0}% of a core meanwhile",
                            100.0 * c / s
                        ))
                        .unwrap_or_default(),
                    met(Some(p99 < 100.0 && all))
                )?;
            }
            None if i == 0 => writeln!(
                w,
                "| Watch delivery to 1,000 watchers | p99 < 100 ms | did not run | {} |",
                met(None)
            )?,
            None => {}
        }
    }
    match &idle {
        Some(r) => {
            let mib = f(&r["rss_mib"]).unwrap_or_default();
            writeln!(
                w,
                "| Server RSS, idle after startup | < 50 MiB | **{mib:.1} MiB** | {} |",
                met(Some(mib < 50.0))
            )?;
        }
        None => writeln!(
            w,
            "| Server RSS, idle | < 50 MiB | did not run | {} |",
            met(None)
        )?,
    }
    match &rss10k {
        Some(r) => {
            let mib = f(&r["rss_mib"]).unwrap_or_default();
            writeln!(
                w,
                "| Server RSS holding 10,000 Pods (right after creating and listing them; peak {:.1} MiB) | < 300 MiB | **{mib:.1} MiB** | {} |",
                f(&r["hwm_mib"]).unwrap_or_default(),
                met(Some(mib < 300.0))
            )?;
        }
        None => writeln!(
            w,
            "| Server RSS holding 10,000 Pods | < 300 MiB | did not run | {} |",
            met(None)
        )?,
    }
    if let Some(r) = &rss_end {
        writeln!(
            w,
            "| Server RSS at the end, holding {} (peak {:.1} MiB) | (none) | {:.1} MiB | |",
            r["label"].as_str().unwrap_or_default(),
            f(&r["hwm_mib"]).unwrap_or_default(),
            f(&r["rss_mib"]).unwrap_or_default()
        )?;
    }
    if let Some(d) = &durable {
        let ok = d["expect"].is_null() || d["expect"] == d["count"];
        writeln!(
            w,
            "| Durability: ConfigMaps of {} found after `kill -9` and restart | all {} | {} | {} |",
            d["namespace"].as_str().unwrap_or_default(),
            d["expect"],
            d["count"],
            met(Some(ok))
        )?;
    }
    writeln!(w)?;
    if let Some(l) = &list
        && let Some(c) = l.get("created").filter(|c| !c.is_null())
    {
        writeln!(
            w,
            "Creating the 10,000 Pods for the LIST ran at {:.0}/s (p50 {:.1} ms, p99 {:.1} ms).\n",
            f(&c["per_second"]).unwrap_or_default(),
            f(&c["latency"]["p50_ms"]).unwrap_or_default(),
            f(&c["latency"]["p99_ms"]).unwrap_or_default()
        )?;
    }
    if let Some(c) = &creates {
        writeln!(
            w,
            "Each ConfigMap is {} bytes of JSON as sent; the server stores and returns {} bytes for it \
             (uid, timestamps, managedFields added).\n",
            c["request_bytes"], c["stored_object_bytes"]
        )?;
    }

    writeln!(w, "## Comparison with etcd\n")?;
    let etcd_grpc = grpc_rounds.as_ref().map(|(v, _)| v.clone());
    match (&creates, &etcd) {
        (Some(c), Some(e)) => {
            writeln!(
                w,
                "Same run, same machine, interleaved round by round (rudder, etcd gateway, etcd gRPC, \
                 and again): 64 concurrent clients, 20,000 durable writes per round, client and \
                 server sharing the 2 cores; each side's median round is compared.\n"
            )?;
            let mut columns: Vec<(&str, &Value)> = vec![("etcd: v3 put, HTTP/JSON gateway", e)];
            if let Some(g) = &etcd_grpc {
                columns.push(("etcd: v3 put, gRPC", g));
            }
            let mut header = "| | rudder: ConfigMap create |".to_string();
            let mut rule = "| --- | --- |".to_string();
            for (name, _) in &columns {
                header += &format!(" {name} | rudder / that |");
                rule += " --- | --- |";
            }
            writeln!(w, "{header}\n{rule}")?;
            let ratio = |a: f64, b: f64| {
                if b > 0.0 {
                    format!("{:.2}", a / b)
                } else {
                    "-".into()
                }
            };
            let num = |v: &Value, key: &str| f(&v[key]).unwrap_or_default();
            let lat = |v: &Value, key: &str| f(&v["latency"][key]).unwrap_or_default();
            let mut row = format!(
                "| Rounds (writes/s) | {} |",
                creates_rounds
                    .as_ref()
                    .map(|(_, r)| rates_text(r))
                    .unwrap_or_default()
            );
            for rounds in [&etcd_rounds, &grpc_rounds].into_iter().take(columns.len()) {
                row += &format!(
                    " {} | |",
                    rounds
                        .as_ref()
                        .map(|(_, r)| rates_text(r))
                        .unwrap_or_default()
                );
            }
            writeln!(w, "{row}")?;
            let mut row = format!(
                "| Writes/s (median round) | **{:.0}** |",
                num(c, "per_second")
            );
            for (_, v) in &columns {
                row += &format!(
                    " {:.0} | **{}** |",
                    num(v, "per_second"),
                    ratio(num(c, "per_second"), num(v, "per_second"))
                );
            }
            writeln!(w, "{row}")?;
            for (label, key) in [("p50 latency", "p50_ms"), ("p99 latency", "p99_ms")] {
                let mut row = format!("| {label} | {:.1} ms |", lat(c, key));
                for (_, v) in &columns {
                    row += &format!(
                        " {:.1} ms | {} |",
                        lat(v, key),
                        ratio(lat(c, key), lat(v, key))
                    );
                }
                writeln!(w, "{row}")?;
            }
            for (label, key) in [
                ("Server CPU per write", "server_cpu_us_per_request"),
                ("Client CPU per write", "client_cpu_us_per_request"),
            ] {
                if c[key].is_null() {
                    continue;
                }
                let mut row = format!("| {label} | {:.0} µs |", num(c, key));
                for (_, v) in &columns {
                    row += &format!(
                        " {:.0} µs | {} |",
                        num(v, key),
                        ratio(num(c, key), num(v, key))
                    );
                }
                writeln!(w, "{row}")?;
            }
            if !c["other_cpu_percent_of_machine"].is_null() {
                let mut row = format!(
                    "| Other processes' CPU meanwhile (share of the machine) | {:.0}% |",
                    num(c, "other_cpu_percent_of_machine")
                );
                for (_, v) in &columns {
                    row += &format!(" {:.0}% | |", num(v, "other_cpu_percent_of_machine"));
                }
                writeln!(w, "{row}")?;
            }
            let mut row = format!(
                "| Transport | HTTPS, {} × {} connection(s), client certificate |",
                c["connections"],
                c["proto"].as_str().unwrap_or_default()
            );
            for (_, v) in &columns {
                row += &format!(
                    " plain {}, {} connection(s) | |",
                    v["proto"].as_str().unwrap_or("HTTP/1.1"),
                    v["connections"]
                );
            }
            writeln!(w, "{row}")?;
            let mut row = format!(
                "| Payload | {} B ConfigMap JSON in, {} B object stored |",
                c["request_bytes"], c["stored_object_bytes"]
            );
            for (_, v) in &columns {
                row += &format!(" {} B value | |", v["value_bytes"]);
            }
            writeln!(w, "{row}")?;
            let mut row = format!("| Errors | {} |", c["errors"]);
            for (_, v) in &columns {
                row += &format!(" {} | |", v["errors"]);
            }
            writeln!(w, "{row}\n")?;
        }
        _ => writeln!(
            w,
            "The etcd comparison did not run in this run; see the notes below.\n"
        )?,
    }
    writeln!(
        w,
        "What the ratio compares: each rudder create is a full Kubernetes API request over TLS \
         (authentication, RBAC, decoding, defaulting, validation, managedFields, a \
         compare-and-swap create in the sqlite store whose writer thread group-commits pending \
         writes with one fsync per batch, then the watch cache update) and each etcd put is a raw \
         key-value write through etcd's HTTP/JSON gRPC gateway (JSON to gRPC translation \
         in-process, raft on a single member, WAL fsync per batch, bbolt backend); the gRPC \
         column is the same put through etcd's native API, which is how kube-apiserver talks to \
         etcd. Both are durable when answered. etcd here does none of the API server's work, so the \
         ratio is an upper bound on what an API server in front of etcd could do on this machine \
         (a real kube-apiserver adds its own cost on top of etcd's).\n"
    )?;

    if let Some(section) = crate::schedule::section(dir) {
        w.push_str(&section);
    }
    if let Some(section) = crate::node::section(dir) {
        w.push_str(&section);
    }
    writeln!(w, "## Commands\n")?;
    writeln!(
        w,
        "Exactly as the run executed them (temporary paths and ports vary):\n"
    )?;
    writeln!(w, "```sh")?;
    write!(w, "{}", text(dir, "commands.txt"))?;
    writeln!(w, "```\n")?;

    let notes = text(dir, "notes.txt");
    if !notes.trim().is_empty() {
        writeln!(w, "## Notes from the run\n")?;
        for line in notes.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(w, "- {line}")?;
        }
        writeln!(w)?;
    }

    let previous = std::fs::read_to_string(&args.out).unwrap_or_default();
    let kept = previous
        .split_once(MARKER)
        .map(|(_, rest)| rest.trim_start_matches('\n').to_string())
        .unwrap_or_default();
    writeln!(w, "{MARKER}\n")?;
    if kept.trim().is_empty() {
        writeln!(w, "## Reading of the figures\n\n(Not written yet.)")?;
    } else {
        write!(w, "{kept}")?;
    }
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&args.out, md).with_context(|| format!("writing {}", args.out.display()))?;
    println!("report: wrote {}", args.out.display());
    Ok(())
}

//! Container logs as `kubectl logs` reads them: the runtime writes each container's output in
//! the CRI log format (`<RFC 3339 time> <stdout|stderr> <P|F> <text>`, `P` for a line the
//! runtime split), and this module turns such a file back into the container's output with
//! upstream's options: timestamps, tail lines, since a time, a byte limit, and following.
//! Logs that outgrow `MAX_SIZE` are rotated as upstream's kubelet does (the runtime reopens
//! the file; `MAX_FILES` are kept); reading covers the current file.

use std::{io::SeekFrom, os::unix::fs::MetadataExt, path::PathBuf, time::Duration};

use k8s_cri::v1::{
    ContainerFilter, ContainerStateValue, ContainerStatusRequest, ListContainersRequest,
    ReopenContainerLogRequest,
};

use crate::cri::Cri;

/// Upstream's `containerLogMaxSize` and `containerLogMaxFiles` defaults.
pub const MAX_SIZE: u64 = 10 << 20;
pub const MAX_FILES: usize = 5;
/// How often the logs' sizes are checked.
const ROTATE_PERIOD: Duration = Duration::from_secs(10);

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncSeekExt},
    sync::mpsc,
};

/// What to read (upstream's `PodLogOptions`, less the container).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Keep reading while the container runs.
    pub follow: bool,
    /// Prefix each line with its time.
    pub timestamps: bool,
    /// Only the last lines.
    pub tail_lines: Option<usize>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<usize>,
    /// Only lines written at or after this time.
    pub since: Option<jiff::Timestamp>,
}

impl Options {
    /// Reads the options from a query (`follow=true&tailLines=10&...`); a malformed value is
    /// an error naming the parameter.
    pub fn from_query(query: &[(String, String)]) -> Result<Options, String> {
        let mut options = Options::default();
        let number = |name: &str, value: &str| {
            value
                .parse::<i64>()
                .map_err(|_| format!("invalid value {value:?} for {name}"))
        };
        for (key, value) in query {
            match key.as_str() {
                "follow" => options.follow = value == "true" || value == "1",
                "timestamps" => options.timestamps = value == "true" || value == "1",
                "tailLines" => {
                    options.tail_lines = Some(number(key, value)?.max(0) as usize);
                }
                "limitBytes" => match number(key, value)? {
                    n if n < 1 => return Err("limitBytes: must be greater than 0".into()),
                    n => options.limit_bytes = Some(n as usize),
                },
                "sinceSeconds" => match number(key, value)? {
                    n if n < 1 => return Err("sinceSeconds: must be greater than 0".into()),
                    n => {
                        options.since =
                            Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(n));
                    }
                },
                "sinceTime" => {
                    options.since = Some(
                        value
                            .parse()
                            .map_err(|_| format!("invalid value {value:?} for sinceTime"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

/// One line of a CRI log file.
#[derive(Debug, PartialEq)]
struct Entry<'a> {
    time: &'a str,
    /// The runtime split a long line here; the next entry continues it.
    partial: bool,
    text: &'a [u8],
}

fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let _stream = fields.next()?;
    let tag = fields.next()?;
    let text = fields.next().unwrap_or_default();
    Some(Entry {
        time,
        partial: tag.split(|b| *b == b':').next() == Some(b"P"),
        text,
    })
}

/// Turns whole lines of a log file into output, applying `since` and `timestamps`.
fn render(out: &mut Vec<u8>, line: &[u8], options: &Options) {
    let Some(entry) = parse(line) else {
        return;
    };
    if let Some(since) = options.since
        && entry
            .time
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| t < since)
    {
        return;
    }
    if options.timestamps {
        out.extend_from_slice(entry.time.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(entry.text);
    if !entry.partial {
        out.push(b'\n');
    }
}

/// The start of the last `n` complete lines of `data` (partial entries belong to the line
/// they end in).
fn tail_start(data: &[u8], n: usize) -> usize {
    let lines: Vec<usize> = std::iter::once(0)
        .chain(
            data.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < data.len())
        .collect();
    let mut complete = 0;
    for &start in lines.iter().rev() {
        let end = data[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(data.len(), |p| start + p);
        let partial = parse(&data[start..end]).is_some_and(|e| e.partial);
        if !partial {
            if complete == n {
                // `start` begins the (n+1)-th complete line from the end: the tail
                // begins after it.
                return end + 1;
            }
            complete += 1;
        }
    }
    0
}

/// Streams a container's log into `tx`: what the file holds, then, with `follow`, what is
/// appended while `running` says the container runs. Ends when the receiver goes away.
pub async fn stream<F, Fut>(
    path: PathBuf,
    options: Options,
    tx: mpsc::Sender<Bytes>,
    running: F,
) -> std::io::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut file = tokio::fs::File::open(&path).await?;
    let mut file_ino = file.metadata().await?.ino();
    let mut data = Vec::new();
    file.read_to_end(&mut data).await?;
    let start = options.tail_lines.map_or(0, |n| tail_start(&data, n));
    let mut budget = options.limit_bytes.unwrap_or(usize::MAX);
    let mut pending: Vec<u8> = data.split_off(start);
    let mut position = file.stream_position().await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle = 0u32;
    loop {
        // Emit every whole line collected so far.
        if let Some(last) = pending.iter().rposition(|b| *b == b'\n') {
            let mut out = Vec::new();
            for line in pending[..last].split(|b| *b == b'\n') {
                render(&mut out, line, &options);
            }
            pending.drain(..=last);
            out.truncate(budget);
            budget -= out.len();
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return Ok(());
            }
            if budget == 0 {
                return Ok(());
            }
        }
        if !options.follow {
            return Ok(());
        }
        file.seek(SeekFrom::Start(position)).await?;
        let n = file.read(&mut buf).await?;
        if n > 0 {
            position += n as u64;
            pending.extend_from_slice(&buf[..n]);
            idle = 0;
            continue;
        }
        // Nothing new. Rotated? Then what comes next is in the new file at the same path.
        if std::fs::metadata(&path).is_ok_and(|m| m.ino() != file_ino) {
            file = tokio::fs::File::open(&path).await?;
            file_ino = file.metadata().await?.ino();
            position = 0;
            continue;
        }
        // Is the container still there to write more? (checked every second)
        idle += 1;
        if idle.is_multiple_of(10) && !running().await {
            return Ok(());
        }
        if tx.is_closed() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rotates the logs of the running containers that outgrew `MAX_SIZE`, forever.
pub async fn rotate_forever(cri: Cri) {
    loop {
        tokio::time::sleep(ROTATE_PERIOD).await;
        if let Err(error) = rotate(&cri).await {
            tracing::warn!(%error, "log rotation failed");
        }
    }
}

async fn rotate(cri: &Cri) -> Result<(), tonic::Status> {
    let mut runtime = cri.runtime.clone();
    let running = runtime
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                state: Some(ContainerStateValue { state: 1 }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    for c in running {
        let status = runtime
            .container_status(ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await?
            .into_inner()
            .status
            .unwrap_or_default();
        let path = PathBuf::from(&status.log_path);
        if std::fs::metadata(&path).map_or(0, |m| m.len()) <= MAX_SIZE {
            continue;
        }
        let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
        let rotated = PathBuf::from(format!("{}.{stamp}", status.log_path));
        if std::fs::rename(&path, &rotated).is_err() {
            continue;
        }
        if let Err(error) = runtime
            .reopen_container_log(ReopenContainerLogRequest {
                container_id: c.id.clone(),
            })
            .await
        {
            // The runtime still writes the renamed file: give it its name back.
            let _ = std::fs::rename(&rotated, &path);
            return Err(error);
        }
        prune_rotated(&path);
        tracing::debug!(log = %path.display(), "container log rotated");
    }
    Ok(())
}

/// Keeps the newest `MAX_FILES - 1` rotated files of a log.
fn prune_rotated(path: &std::path::Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    rotated.sort();
    let excess = rotated.len().saturating_sub(MAX_FILES - 1);
    for old in &rotated[..excess] {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[u8] = b"2026-01-01T00:00:01.000000000Z stdout F one\n\
2026-01-01T00:00:02.000000000Z stderr P tw\n\
2026-01-01T00:00:02.500000000Z stderr F o\n\
2026-01-01T00:00:03.000000000Z stdout F three\n";

    fn read(options: Options) -> String {
        let start = options.tail_lines.map_or(0, |n| tail_start(LOG, n));
        let mut out = Vec::new();
        for line in LOG[start..].split(|b| *b == b'\n') {
            render(&mut out, line, &options);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_joined_and_filtered() {
        assert_eq!(read(Options::default()), "one\ntwo\nthree\n");
        let tail = |n| Options {
            tail_lines: Some(n),
            ..Default::default()
        };
        assert_eq!(read(tail(1)), "three\n");
        assert_eq!(read(tail(2)), "two\nthree\n", "a split line counts once");
        assert_eq!(read(tail(0)), "");
        assert_eq!(read(tail(10)), "one\ntwo\nthree\n");
        let since = Options {
            since: Some("2026-01-01T00:00:02.400Z".parse().unwrap()),
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            read(since),
            "2026-01-01T00:00:02.500000000Z o\n2026-01-01T00:00:03.000000000Z three\n"
        );
    }

    #[test]
    fn rotation_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        std::fs::write(&log, "current").unwrap();
        for stamp in [
            "20260101-000001",
            "20260101-000002",
            "20260101-000003",
            "20260101-000004",
            "20260101-000005",
            "20260101-000006",
        ] {
            std::fs::write(dir.path().join(format!("0.log.{stamp}")), stamp).unwrap();
        }
        std::fs::write(
            dir.path().join("1.log.20260101-000000"),
            "another container",
        )
        .unwrap();
        prune_rotated(&log);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "0.log",
                "0.log.20260101-000003",
                "0.log.20260101-000004",
                "0.log.20260101-000005",
                "0.log.20260101-000006",
                "1.log.20260101-000000"
            ]
        );
    }

    #[test]
    fn query_options() {
        let q = |s: &[(&str, &str)]| {
            Options::from_query(
                &s.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let o = q(&[("follow", "true"), ("tailLines", "5"), ("limitBytes", "10")]).unwrap();
        assert!(o.follow);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(5), Some(10)));
        assert!(q(&[("tailLines", "x")]).unwrap_err().contains("tailLines"));
        assert!(q(&[("limitBytes", "0")]).is_err());
    }

    #[tokio::test]
    async fn follows_appended_lines_until_the_container_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, &LOG[..44]).unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = running.clone();
        let reader = tokio::spawn(stream(
            path.clone(),
            Options {
                follow: true,
                ..Default::default()
            },
            tx,
            move || {
                let flag = flag.clone();
                async move { flag.load(std::sync::atomic::Ordering::SeqCst) }
            },
        ));
        assert_eq!(rx.recv().await.unwrap(), "one\n");
        std::fs::write(&path, LOG).unwrap();
        let mut rest = Vec::new();
        while rest.len() < "two\nthree\n".len() {
            rest.extend_from_slice(&rx.recv().await.unwrap());
        }
        assert_eq!(rest, b"two\nthree\n");
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        reader.await.unwrap().unwrap();
        assert!(
            rx.recv().await.is_none(),
            "the stream ends with the container"
        );
    }
}

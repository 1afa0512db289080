//! A forbidden `tools/call`, dressed up every way (`support/forbidden_call.rs`), through the
//! layers and a reverse proxy to real MCP servers built with the official Python SDK (`mcp`
//! 2.3, `tests/fixtures/sdk/python_server.py`) and TypeScript SDK (`@modelcontextprotocol/sdk`
//! 1.32 on Express, `tests/fixtures/sdk/ts_server.mjs`), started on loopback by the tests.
//!
//! Each test first shows what the SDK server itself accepts when nothing guards it (Python runs
//! `NaN`, `Infinity` and a non-ASCII content type; Express inflates gzip and decodes UTF-16),
//! then that through the guard no dressing runs the tool.
//!
//! `.ci/install-mcp-sdks` installs both SDKs from PyPI and npm into `target/mcp-sdks` (`.ci/run`
//! calls it). Without them these tests say so and pass, except under CI (`CI` set), where a
//! missing SDK fails them.

mod support;
use support::forbidden_call;

use std::path::{Path, PathBuf};
use std::time::Duration;

use forbidden_call::*;
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Bounds the wait for a child server to listen; never a pass/fail threshold.
const START_GUARD: Duration = Duration::from_secs(60);

struct Upstream {
    url: String,
    runs: PathBuf,
    _child: tokio::process::Child,
    /// Held open so that a later write by the child finds a reader rather than a broken pipe.
    _stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Upstream {
    /// Starts `program script runs` in `dir` and waits for its "listening PORT" line, or `None`
    /// (skipped) when the SDK is absent.
    ///
    /// The script binds an ephemeral port itself and names it once it listens. Choosing a port
    /// here and passing it on raced with the other test of this binary, whose proxy could take
    /// the port before the child bound it (session 25 saw that once in CI).
    async fn start(sdk: &str, program: PathBuf, script: PathBuf, dir: &Path) -> Option<Self> {
        if !program.exists() || !dir.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the {sdk} MCP SDK is not installed: run .ci/install-mcp-sdks"
            );
            eprintln!("skipped: the {sdk} MCP SDK is not installed (run .ci/install-mcp-sdks)");
            return None;
        }
        let runs = std::env::temp_dir().join(format!(
            "tower-mcp-auth-{sdk}-{}-{}.runs",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let _ = std::fs::remove_file(&runs);
        let mut child = tokio::process::Command::new(program)
            .arg(script)
            .arg(&runs)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SDK server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(START_GUARD, async {
            while let Some(line) = stdout
                .next_line()
                .await
                .expect("read the SDK server's output")
            {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().expect("a port number");
                }
            }
            panic!(
                "the {sdk} SDK server ended before it listened: {:?}",
                child.wait().await
            );
        })
        .await
        .expect("the SDK server listens");
        Some(Self {
            url: format!("http://127.0.0.1:{port}/mcp"),
            runs,
            _child: child,
            _stdout: stdout,
        })
    }

    async fn python() -> Option<Self> {
        let sdks = sdk_dir();
        let script = fixtures().join("python_server.py");
        Self::start("Python", sdks.join("python-venv/bin/python"), script, &sdks).await
    }

    async fn typescript() -> Option<Self> {
        let node = sdk_dir().join("node");
        // ES modules resolve packages from the script's own folder: run a copy from there.
        if node.exists() {
            std::fs::copy(fixtures().join("ts_server.mjs"), node.join("ts_server.mjs")).unwrap();
        }
        Self::start(
            "TypeScript",
            which_node(),
            node.join("ts_server.mjs"),
            &node,
        )
        .await
    }

    /// How often `tool` ran.
    fn runs(&self, tool: &str) -> usize {
        std::fs::read_to_string(&self.runs)
            .unwrap_or_default()
            .lines()
            .filter(|line| *line == tool)
            .count()
    }
}

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mcp-sdks")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sdk")
}

fn which_node() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("node"))
        .find(|node| node.exists())
        .unwrap_or_else(|| PathBuf::from("/nonexistent/node"))
}

fn by_name(name: &str) -> Dressing {
    dressings()
        .into_iter()
        .find(|dressing| dressing.name == name)
        .unwrap_or_else(|| panic!("no dressing {name}"))
}

/// Sends each named dressing straight to the SDK server: it runs the forbidden tool.
async fn unguarded_server_runs(upstream: &Upstream, names: &[&str]) {
    let client = reqwest::Client::new();
    for (i, name) in names.iter().enumerate() {
        let (status, body) = send(
            &client,
            &upstream.url,
            READER,
            &by_name(name),
            &HeaderMap::new(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(
            upstream.runs("admin_report"),
            i + 1,
            "unguarded, {name} runs the tool: {body}"
        );
    }
}

/// Sends every dressing through the guard: none runs the tool; the allowed call does.
async fn guarded_server_never_runs(upstream: &Upstream) {
    let guarded = format!("{}/mcp", serve(proxy_to(upstream.url.clone())).await);
    let client = reqwest::Client::new();
    let protocol = HeaderMap::from_iter([(
        http::header::HeaderName::from_static("mcp-protocol-version"),
        HeaderValue::from_static("2025-11-25"),
    )]);
    assert_no_dressing_runs_the_tool(&client, &guarded, &protocol, || {
        upstream.runs("admin_report")
    })
    .await;
    assert_eq!(upstream.runs("open_report"), 1);
}

#[tokio::test]
async fn no_dressing_of_a_forbidden_call_runs_the_python_sdk_tool() {
    let Some(upstream) = Upstream::python().await else {
        return;
    };
    unguarded_server_runs(
        &upstream,
        &["NaN", "Infinity", "-Infinity", "non-ASCII content type"],
    )
    .await;
    guarded_server_never_runs(&upstream).await;
}

#[tokio::test]
async fn no_dressing_of_a_forbidden_call_runs_the_typescript_sdk_tool() {
    let Some(upstream) = Upstream::typescript().await else {
        return;
    };
    unguarded_server_runs(&upstream, &["gzip", "UTF-16LE declared"]).await;
    guarded_server_never_runs(&upstream).await;
}

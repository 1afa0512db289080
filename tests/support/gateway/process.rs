//! Runs the example gateway binary for real: builds it if needed, starts it with a clean
//! environment, reads what it prints, and stops it when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// `target/<profile>/examples/gateway`, next to this test executable's `deps/` directory.
fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target/<profile>");
            let binary = profile_dir
                .join("examples")
                .join(format!("gateway{}", std::env::consts::EXE_SUFFIX));
            // Build with this test's features so the library is not rebuilt differently.
            let mut features = Vec::new();
            if cfg!(feature = "auth0") {
                features.push("auth0");
            }
            if cfg!(feature = "axum") {
                features.push("axum");
            }
            if cfg!(feature = "metrics") {
                features.push("metrics");
            }
            let status = Command::new(env!("CARGO"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["build", "--example", "gateway", "--no-default-features"])
                .args(["--features", &features.join(",")])
                .status()
                .expect("cargo build --example gateway");
            assert!(status.success(), "building the gateway example failed");
            assert!(
                binary.exists(),
                "{} missing after the build",
                binary.display()
            );
            binary
        })
        .clone()
}

/// A running gateway.
pub struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Everything printed on stdout until the "listening" line.
    pub stdout: String,
    stderr: std::sync::Arc<Mutex<String>>,
}

impl GatewayProcess {
    /// Starts the gateway with exactly `vars` (plus `PATH`), `PORT=0`, and waits until it
    /// listens.
    pub fn start(vars: &[(&str, &str)]) -> Self {
        let mut child = command(vars, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the gateway");
        let stderr = std::sync::Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout_pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = String::new();
        loop {
            match lines_rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    stdout.push_str(&line);
                    stdout.push('\n');
                    if let Some(base) = line.strip_prefix("gateway listening on ") {
                        return Self {
                            child,
                            base: base.trim().to_owned(),
                            stdout,
                            stderr,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the gateway did not start.\nstdout:\n{stdout}\nstderr:\n{}",
                        stderr.lock().unwrap()
                    );
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit (after a signal); returns its exit status.
    pub fn wait(mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway command with a clean environment, run from a directory without a `.env`.
pub fn command(vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

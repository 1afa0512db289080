//! Load run: a plain axum app against the same app behind `BearerAuthLayer` + `ScopeGuardLayer`,
//! and against a naive decode-per-request middleware, all measured in one run.
//!
//! `cargo bench --bench load` (about 85 s; `LOAD_ROUNDS`, `LOAD_SECS`, `LOAD_CONCURRENCY` tune it,
//! `LOAD_ONLY=<part of a scenario name>` runs only matching scenarios, e.g. to profile one).
//!
//! - Each server is a child process (this binary re-executed with a role), pinned with `taskset`
//!   to CPU 0; this process (client + the issuer's JWKS server) pins itself to CPU 1.
//! - The client is closed-loop HTTP/1.1 over keep-alive connections; each scenario runs in
//!   rounds, the scenario order rotating every round (A/B alternation), each round with a
//!   warm-up that is not counted.
//! - Peak RSS is the server's `VmHWM`, reset before every round (`/proc/<pid>/clear_refs`).
//! - `LOAD_BASELINE_EXE=<a build of this bench without the metrics feature>` adds the repeated-
//!   token scenario served by that binary, the baseline of what the metrics cost (BENCHMARKS.md).
//! - Server CPU per request (from `/proc/<pid>/stat`) is reported too: unlike requests/s, it does
//!   not depend on whether the client or the server is the bottleneck.

mod client;
mod server;
mod tokens;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use client::Outcome;
use server::{BASELINE_EXE_ENV, REFRESH_COOLDOWN, ROLE_ENV, Role};
use tower_mcp_auth::dev::DevIssuer;

fn main() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        server::serve(&role);
        return;
    }
    // `cargo test --all-targets` runs bench binaries without `--bench`: stay quick there.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("load: skipped (run it with `cargo bench --bench load`)");
        return;
    }
    let config = Config::from_env();
    let started = Instant::now();
    let signer = DevIssuer::generate().expect("key");
    // The issuer's address is in every token: bind its JWKS server's socket first.
    let jwks_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let jwks_addr = jwks_listener.local_addr().expect("addr");
    let issuer = format!("http://{jwks_addr}/");
    // Minting costs ~1 ms a token: do it on both cores, before pinning and before any clock.
    let requests = tokens::requests(&signer, &issuer, config.pool_size);
    let pinned = pin_self_to(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(RunInputs {
        config,
        signer,
        jwks_listener,
        issuer,
        requests,
        pinned,
        started,
    }));
}

struct Config {
    rounds: usize,
    warmup: Duration,
    measure: Duration,
    concurrency: usize,
    pool_size: usize,
    /// Runs only the scenarios whose name contains this (for profiling one path).
    only: Option<String>,
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str, default: f64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(default)
        };
        Self {
            rounds: var("LOAD_ROUNDS", 4.0) as usize,
            warmup: Duration::from_secs_f64(0.5),
            measure: Duration::from_secs_f64(var("LOAD_SECS", 2.0)),
            concurrency: var("LOAD_CONCURRENCY", 32.0) as usize,
            pool_size: var("LOAD_TOKENS", 4000.0) as usize,
            only: std::env::var("LOAD_ONLY").ok(),
        }
    }
}

/// Pins every thread of this process to `cpu` with `taskset` (util-linux), if there is one.
fn pin_self_to(cpu: usize) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus > cpu
        && Command::new("taskset")
            .args([
                "-a",
                "-p",
                "-c",
                &cpu.to_string(),
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

struct Scenario {
    name: &'static str,
    role: Role,
    requests: Arc<Vec<Vec<u8>>>,
    expect: u16,
}

#[derive(Default)]
struct Measured {
    outcome: Outcome,
    seconds: f64,
    peak_rss_kib: u64,
    server_cpu_secs: f64,
}

struct RunInputs {
    config: Config,
    signer: DevIssuer,
    jwks_listener: std::net::TcpListener,
    issuer: String,
    requests: tokens::Requests,
    pinned: bool,
    started: Instant,
}

async fn run(inputs: RunInputs) {
    let RunInputs {
        config,
        signer,
        jwks_listener,
        issuer,
        requests,
        pinned,
        started,
    } = inputs;
    let jwks_hits = Arc::new(AtomicU64::new(0));
    let jwks_uri = format!("{issuer}jwks");
    serve_jwks(&signer, jwks_listener, Arc::clone(&jwks_hits));

    let jwk = signer.jwk();
    let mut servers = HashMap::new();
    let baseline_exe = std::env::var(BASELINE_EXE_ENV).ok();
    for role in Role::ALL {
        // The baseline is the same role served by the build without the `metrics` feature.
        let (exe, role_name) = match (role, &baseline_exe) {
            (Role::Baseline, None) => continue,
            (Role::Baseline, Some(exe)) => (exe.into(), Role::Protected.name()),
            _ => (std::env::current_exe().expect("exe"), role.name()),
        };
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        command
            .env(ROLE_ENV, role_name)
            .env(server::ISSUER_ENV, &issuer)
            .env(server::JWKS_ENV, &jwks_uri)
            .env(server::KEY_N_ENV, jwk["n"].as_str().expect("n"))
            .env(server::KEY_E_ENV, jwk["e"].as_str().expect("e"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        servers.insert(role, ServerProcess::start(command).await);
    }

    let scenarios: Vec<Scenario> = [
        Scenario {
            name: "plain",
            role: Role::Plain,
            requests: requests.repeated.clone(),
            expect: 200,
        },
        Scenario {
            name: "naive decode per request",
            role: Role::Naive,
            requests: requests.distinct.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, repeated token",
            role: Role::Protected,
            requests: requests.repeated.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, distinct tokens",
            role: Role::ProtectedSmallCache,
            requests: requests.distinct.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, malformed token",
            role: Role::Protected,
            requests: requests.malformed.clone(),
            expect: 401,
        },
        Scenario {
            name: "protected, bad signature",
            role: Role::Protected,
            requests: requests.bad_signature.clone(),
            expect: 401,
        },
        Scenario {
            name: "bearer layer only, repeated token",
            role: Role::BearerOnly,
            requests: requests.repeated.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, repeated token, Prometheus recorder",
            role: Role::ProtectedPrometheus,
            requests: requests.repeated.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, repeated token, metrics compiled out",
            role: Role::Baseline,
            requests: requests.repeated.clone(),
            expect: 200,
        },
        Scenario {
            name: "protected, random-kid flood",
            role: Role::Protected,
            requests: requests.random_kid.clone(),
            expect: 401,
        },
    ]
    .into_iter()
    // The baseline runs only when its binary is given.
    .filter(|scenario| servers.contains_key(&scenario.role))
    .collect();
    // The flood is last: its JWKS fetches are counted per round.
    let flood = scenarios.len() - 1;

    println!(
        "load run: {} rounds x {} scenarios, {:?} warm-up + {:?} measured each, {} connections, \
         {} distinct tokens, pinned: {pinned}, load average before: {}",
        config.rounds,
        scenarios.len(),
        config.warmup,
        config.measure,
        config.concurrency,
        config.pool_size,
        load_average()
    );
    let mut measured: Vec<Measured> = scenarios.iter().map(|_| Measured::default()).collect();
    let mut rss_first_round: HashMap<Role, u64> = HashMap::new();
    let mut flood_hits_per_round = Vec::new();
    for round in 0..config.rounds {
        for step in 0..scenarios.len() {
            // Rotate the order every round, so no scenario always runs first or after another.
            let index = (step + round) % scenarios.len();
            let scenario = &scenarios[index];
            if !config
                .only
                .as_deref()
                .is_none_or(|only| scenario.name.contains(only))
            {
                continue;
            }
            let server = &servers[&scenario.role];
            server.reset_peak_rss();
            let cpu_before = server.cpu_secs();
            let hits_before = jwks_hits.load(Ordering::Relaxed);
            let outcome = client::drive(
                server.addr,
                Arc::clone(&scenario.requests),
                scenario.expect,
                config.concurrency,
                config.warmup,
                config.measure,
            )
            .await;
            let slot = &mut measured[index];
            slot.server_cpu_secs += server.cpu_secs() - cpu_before;
            slot.seconds += config.measure.as_secs_f64() + config.warmup.as_secs_f64();
            slot.peak_rss_kib = slot.peak_rss_kib.max(server.status_kib("VmHWM:"));
            slot.outcome.merge(outcome);
            if index == flood {
                flood_hits_per_round.push(jwks_hits.load(Ordering::Relaxed) - hits_before);
            }
        }
        if round == 0 {
            for (role, server) in &servers {
                rss_first_round.insert(*role, server.status_kib("VmRSS:"));
            }
        }
    }

    report(&config, &scenarios, &mut measured, &flood_hits_per_round);
    println!(
        "\nserver RSS after round 1 -> after round {} (growth beyond the caches would show here):",
        config.rounds
    );
    for role in Role::ALL {
        let Some(server) = servers.get(&role) else {
            continue;
        };
        let now = server.status_kib("VmRSS:");
        let first = rss_first_round.get(&role).copied().unwrap_or_default();
        println!(
            "  {:<22} {:>7.1} MiB -> {:>7.1} MiB",
            role.name(),
            mib(first),
            mib(now)
        );
    }
    println!(
        "load average after: {}; whole run {:.0} s",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    for (_, server) in servers {
        server.stop();
    }
}

fn report(config: &Config, scenarios: &[Scenario], measured: &mut [Measured], flood_hits: &[u64]) {
    let measure_secs = config.measure.as_secs_f64() * config.rounds as f64;
    let stats: Vec<(f64, f64, f64, f64)> = measured
        .iter_mut()
        .map(|m| {
            m.outcome.latencies_ns.sort_unstable();
            let rps = m.outcome.completed as f64 / measure_secs;
            let p = |q: f64| {
                let l = &m.outcome.latencies_ns;
                l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or_default() as f64
                    / 1000.0
            };
            // CPU is sampled over warm-up + measure; so is the request count it is divided by.
            let served = m.outcome.completed as f64 * (m.seconds / measure_secs);
            let cpu_us = m.server_cpu_secs * 1e6 / served.max(1.0);
            (rps, p(0.50), p(0.99), cpu_us)
        })
        .collect();
    let (plain_rps, _, plain_p99, plain_cpu) = stats[0];
    let naive_rps = stats[1].0;
    println!(
        "\n| scenario | req/s | p50 µs | p99 µs | peak RSS MiB | server CPU µs/req | × plain req/s | × plain p99 | × plain CPU/req |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, scenario) in scenarios.iter().enumerate() {
        let (rps, p50, p99, cpu) = stats[i];
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            scenario.name,
            rps,
            p50,
            p99,
            mib(measured[i].peak_rss_kib),
            cpu,
            rps / plain_rps,
            p99 / plain_p99,
            cpu / plain_cpu
        );
        let outcome = &measured[i].outcome;
        if outcome.wrong_status > 0 {
            println!(
                "  !! {} answers were not {} (first: {:?})",
                outcome.wrong_status, scenario.expect, outcome.first_wrong
            );
        }
    }
    let target = |ok: bool| if ok { "met" } else { "MISSED" };
    let (hit_rps, _, hit_p99, _) = stats[2];
    let miss_rps = stats[3].0;
    let (_, _, _, malformed_cpu) = stats[4];
    println!("\ntargets:");
    println!(
        "  repeated token >= 0.90 x plain req/s: {:.2} ({})",
        hit_rps / plain_rps,
        target(hit_rps / plain_rps >= 0.90)
    );
    println!(
        "  repeated token p99 <= 1.2 x plain p99: {:.2} ({})",
        hit_p99 / plain_p99,
        target(hit_p99 / plain_p99 <= 1.2)
    );
    println!(
        "  distinct tokens >= 1.3 x naive req/s: {:.2} ({})",
        miss_rps / naive_rps,
        target(miss_rps / naive_rps >= 1.3)
    );
    println!(
        "  malformed-token rejection CPU <= plain request CPU: {:.2} x ({})",
        malformed_cpu / plain_cpu,
        target(malformed_cpu <= plain_cpu)
    );
    // The metrics' cost on the repeated-token figure: against the build without them when it
    // ran, else against the same build without a recorder.
    let by_name = |name: &str| {
        scenarios
            .iter()
            .position(|s| s.name == name)
            .map(|i| stats[i])
    };
    let no_recorder = by_name("protected, repeated token");
    let prometheus = by_name("protected, repeated token, Prometheus recorder");
    let baseline = by_name("protected, repeated token, metrics compiled out");
    let cost = |what: &str,
                run: Option<(f64, f64, f64, f64)>,
                base: Option<(f64, f64, f64, f64)>,
                bound: f64| {
        if let (Some(run), Some(base)) = (run, base) {
            let drop = 1.0 - run.0 / base.0;
            println!(
                "  {what}: req/s {:+.1} % (drop must be <= {:.0} %: {}), CPU/req {:+.1} %",
                -drop * 100.0,
                bound * 100.0,
                target(drop <= bound),
                (run.3 / base.3 - 1.0) * 100.0
            );
        }
    };
    if baseline.is_some() {
        cost(
            "metrics on, no recorder vs compiled out",
            no_recorder,
            baseline,
            0.03,
        );
        cost(
            "Prometheus recorder vs compiled out",
            prometheus,
            baseline,
            0.05,
        );
    } else {
        cost(
            "Prometheus recorder vs no recorder (no LOAD_BASELINE_EXE)",
            prometheus,
            no_recorder,
            0.05,
        );
    }
    let bound = (config.measure + config.warmup).as_secs_f64() / REFRESH_COOLDOWN.as_secs_f64();
    let bound = bound.floor() as u64 + 1;
    println!(
        "  random-kid flood: JWKS fetches per round {flood_hits:?} with a {:?} cooldown, at most {bound} allowed per {:?} round ({})",
        REFRESH_COOLDOWN,
        config.measure + config.warmup,
        target(flood_hits.iter().all(|h| *h <= bound))
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The issuer's JWKS, served by this process, counting fetches.
fn serve_jwks(signer: &DevIssuer, listener: std::net::TcpListener, hits: Arc<AtomicU64>) {
    let jwks = signer.jwks();
    let app = Router::new().route(
        "/jwks",
        get(move || {
            hits.fetch_add(1, Ordering::Relaxed);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    listener.set_nonblocking(true).expect("nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
}

struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    async fn start(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start the server process");
        let stdout = child.stdout.take().expect("stdout");
        // The child prints `listening <addr>` once it is ready.
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).expect("read");
            line
        })
        .await
        .expect("reader");
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("server said {line:?}"));
        Self { child, addr }
    }

    fn proc_path(&self, file: &str) -> String {
        format!("/proc/{}/{file}", self.child.id())
    }

    /// Resets the peak RSS (`VmHWM`) to the current RSS (Linux ≥ 4.0).
    fn reset_peak_rss(&self) {
        let _ = std::fs::write(self.proc_path("clear_refs"), "5");
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(self.proc_path("status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(field))
                    .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            })
            .unwrap_or_default()
    }

    /// User + system CPU time of the server so far.
    fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(self.proc_path("stat")).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // USER_HZ is 100 on every Linux this runs on.
        (ticks(11) + ticks(12)) / 100.0
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(100));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

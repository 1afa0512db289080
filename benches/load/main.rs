//! Load run: a plain axum app against the same app behind `BearerAuthLayer` + `ScopeGuardLayer`,
//! and against a naive decode-per-request middleware, all measured in one run.
//!
//! `cargo bench --bench load` (about 250 s; `LOAD_ROUNDS`, `LOAD_SECS`, `LOAD_CONCURRENCY` tune it,
//! `LOAD_ONLY=<parts of scenario names, comma-separated>` runs only matching scenarios, e.g. to
//! profile one).
//!
//! - Each server is a child process (this binary re-executed with a role), pinned with `taskset`
//!   to CPU 0; this process (client + the issuer's JWKS server) pins itself to CPU 1.
//! - The client is closed-loop HTTP/1.1 over keep-alive connections; each scenario runs in
//!   rounds, the scenario order rotating every round and reversed every other round (A/B then
//!   B/A), each round with a warm-up that is not counted.
//! - Every measurement (one scenario in one round) is served by a fresh server process, so that
//!   the rounds sample how far processes of one binary sit apart instead of measuring one pair
//!   of them (`LOAD_FRESH=0`: one process per role for the whole run, and the RSS growth across
//!   rounds printed).
//! - Peak RSS is the server's `VmHWM`, reset before every round (`/proc/<pid>/clear_refs`).
//! - `LOAD_BASELINE_EXE=<a build of this bench without the metrics feature>` adds the repeated-
//!   token scenarios (`POST /mcp` and `GET`) served by that binary, the baseline of what the
//!   metrics cost (BENCHMARKS.md).
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
use tower_mcp_auth::bearer::DEFAULT_TOKEN_CACHE_CAPACITY;
use tower_mcp_auth::dev::DevIssuer;

fn main() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        if role == RSA_ROLE {
            server::rsa_rate();
        } else {
            server::serve(&role);
        }
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
    /// How long the RSA-rate child verifies in each round.
    rsa: Duration,
    /// How long the distinct-token flood of the default-cache server lasts (after the rounds).
    flood: Duration,
    /// Runs only the scenarios whose name contains this (for profiling one path).
    only: Option<String>,
    /// Whether every measurement (one scenario in one round) gets a server process of its own
    /// (`LOAD_FRESH`, on unless `0`). Two processes of one binary can sit several points apart
    /// for the whole of a run (session 35's A/A control of the protected server: 1.12 on the
    /// malformed token, single rounds 0.96–1.21, where two plain processes sat at 0.99–1.01),
    /// so a run with one process per role measures one draw of that spread, and each paired
    /// ratio's interval, taken over rounds of the same two processes, leaves it out. A process
    /// per measurement makes the rounds independent draws of it, and the median and its
    /// interval cover it. The cache flood keeps its one long-lived process either way.
    fresh: bool,
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
            pool_size: var("LOAD_TOKENS", 12_000.0) as usize,
            rsa: Duration::from_secs_f64(var("LOAD_RSA_SECS", 1.0)),
            flood: Duration::from_secs_f64(var("LOAD_FLOOD_SECS", 60.0)),
            only: std::env::var("LOAD_ONLY").ok(),
            fresh: std::env::var("LOAD_FRESH").as_deref() != Ok("0"),
        }
    }

    fn runs(&self, name: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|part| name.contains(part)))
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
    /// The scenario its ratios are taken against.
    baseline: Option<&'static str>,
}

#[derive(Default)]
struct Measured {
    outcome: Outcome,
    /// Requests per second of each round, in round order (for the paired ratios).
    round_rps: Vec<f64>,
    /// The 99th-percentile latency of each round, in round order (for the paired ratios).
    round_p99_ns: Vec<f64>,
    seconds: f64,
    peak_rss_kib: u64,
    server_cpu_secs: f64,
    /// The user-space part of [`Measured::server_cpu_secs`]: the server's own code, without
    /// the kernel's network stack and wake-ups.
    server_user_secs: f64,
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

const PLAIN: &str = "plain";
const NAIVE: &str = "naive decode per request";
const REPEATED: &str = "protected, repeated token";
const DISTINCT: &str = "protected, distinct tokens";
const BEARER_DISTINCT: &str = "bearer layer only, distinct tokens";
const MALFORMED: &str = "protected, malformed token";
const BARE_401: &str = "bare 401, same answer bytes";
const PLAIN_GET: &str = "plain GET";
const GET_REPEATED: &str = "protected GET (route rule), repeated token";
const PLAIN_CALL: &str = "plain tools/call 1 KiB, handler parses";
const CALL_REPEATED: &str = "protected tools/call 1 KiB (tool rule), repeated token";
const PROMETHEUS: &str = "protected, repeated token, Prometheus recorder";
const NO_METRICS: &str = "protected, repeated token, metrics compiled out";
const GET_NO_METRICS: &str = "protected GET (route rule), repeated token, metrics compiled out";
const RANDOM_KID: &str = "protected, random-kid flood";
const RSA: &str = "RSA-2048 verify on the server core";
const SIGNATURE_ONLY: &str = "floor: signature check only, distinct tokens";
const CLAIMS_FLOOR: &str = "floor: signature check and claims parse, distinct tokens";
const PARSE_ONLY: &str = "floor: strict parse only, tools/call 1 KiB";
const TOOL_GUARD_CALL: &str = "floor: minimal per-tool guard, tools/call 1 KiB";
const TOOL_GUARD_GET: &str = "floor: minimal per-tool guard, GET";
const CHECKED_GUARD_CALL: &str =
    "floor: minimal per-tool guard with the guard's required checks, tools/call 1 KiB";
const CHECKED_GUARD_GET: &str =
    "floor: minimal per-tool guard with the guard's required checks, GET";
const CHECKED_CLAIMS: &str = "floor: signature check and claims checked, distinct tokens";
const SPLIT_GUARD_GET: &str =
    "floor: the checked guard's GET work split into two layers as the crate's are, GET";
const TWIN_GET: &str = "A/A control: plain GET on a second plain server";
const TWIN_CALL: &str = "A/A control: plain tools/call 1 KiB on a second plain server";
const TWIN_PROTECTED_GET: &str =
    "A/A control: protected GET (route rule) on a second protected server";
const TWIN_MALFORMED: &str = "A/A control: protected, malformed token on a second protected server";
const CACHE_FLOOD: &str = "cache flood, distinct tokens (10 000-token cache)";

fn scenarios(requests: &tokens::Requests) -> Vec<Scenario> {
    let scenario = |name, role, requests: &Arc<Vec<Vec<u8>>>, expect, baseline| Scenario {
        name,
        role,
        requests: Arc::clone(requests),
        expect,
        baseline,
    };
    vec![
        scenario(PLAIN, Role::Plain, &requests.repeated, 200, None),
        scenario(NAIVE, Role::Naive, &requests.distinct, 200, Some(PLAIN)),
        scenario(
            REPEATED,
            Role::Protected,
            &requests.repeated,
            200,
            Some(PLAIN),
        ),
        scenario(
            DISTINCT,
            Role::ProtectedSmallCache,
            &requests.distinct,
            200,
            Some(NAIVE),
        ),
        scenario(
            BEARER_DISTINCT,
            Role::BearerOnlySmallCache,
            &requests.distinct,
            200,
            Some(NAIVE),
        ),
        scenario(
            SIGNATURE_ONLY,
            Role::SignatureOnly,
            &requests.distinct,
            200,
            Some(NAIVE),
        ),
        scenario(
            CLAIMS_FLOOR,
            Role::ClaimsFloor,
            &requests.distinct,
            200,
            Some(NAIVE),
        ),
        scenario(
            CHECKED_CLAIMS,
            Role::CheckedClaimsFloor,
            &requests.distinct,
            200,
            Some(NAIVE),
        ),
        scenario(
            BARE_401,
            Role::Bare401,
            &requests.malformed,
            401,
            Some(PLAIN),
        ),
        scenario(
            MALFORMED,
            Role::Protected,
            &requests.malformed,
            401,
            Some(BARE_401),
        ),
        scenario(
            "protected, bad signature",
            Role::Protected,
            &requests.bad_signature,
            401,
            Some(PLAIN),
        ),
        scenario(
            "bearer layer only, repeated token",
            Role::BearerOnly,
            &requests.repeated,
            200,
            Some(PLAIN),
        ),
        scenario(PLAIN_GET, Role::Plain, &requests.get_repeated, 200, None),
        scenario(
            GET_REPEATED,
            Role::Protected,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        scenario(
            PLAIN_CALL,
            Role::Plain,
            &requests.call_1k_repeated,
            200,
            None,
        ),
        scenario(
            CALL_REPEATED,
            Role::Protected,
            &requests.call_1k_repeated,
            200,
            Some(PLAIN_CALL),
        ),
        scenario(
            PARSE_ONLY,
            Role::StrictParseOnly,
            &requests.call_1k_repeated,
            200,
            Some(PLAIN_CALL),
        ),
        scenario(
            TOOL_GUARD_CALL,
            Role::ToolGuardFloor,
            &requests.call_1k_repeated,
            200,
            Some(PLAIN_CALL),
        ),
        scenario(
            CHECKED_GUARD_CALL,
            Role::CheckedToolGuardFloor,
            &requests.call_1k_repeated,
            200,
            Some(PLAIN_CALL),
        ),
        scenario(
            TOOL_GUARD_GET,
            Role::ToolGuardFloor,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        scenario(
            CHECKED_GUARD_GET,
            Role::CheckedToolGuardFloor,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        scenario(
            SPLIT_GUARD_GET,
            Role::SplitCheckedFloor,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        scenario(
            TWIN_GET,
            Role::PlainTwin,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        scenario(
            TWIN_CALL,
            Role::PlainTwin,
            &requests.call_1k_repeated,
            200,
            Some(PLAIN_CALL),
        ),
        scenario(
            TWIN_PROTECTED_GET,
            Role::ProtectedTwin,
            &requests.get_repeated,
            200,
            Some(GET_REPEATED),
        ),
        scenario(
            TWIN_MALFORMED,
            Role::ProtectedTwin,
            &requests.malformed,
            401,
            Some(MALFORMED),
        ),
        scenario(
            PROMETHEUS,
            Role::ProtectedPrometheus,
            &requests.repeated,
            200,
            Some(REPEATED),
        ),
        scenario(
            NO_METRICS,
            Role::Baseline,
            &requests.repeated,
            200,
            Some(PLAIN),
        ),
        scenario(
            GET_NO_METRICS,
            Role::Baseline,
            &requests.get_repeated,
            200,
            Some(PLAIN_GET),
        ),
        // Last: its JWKS fetches are counted per round.
        scenario(
            RANDOM_KID,
            Role::Protected,
            &requests.random_kid,
            401,
            Some(PLAIN),
        ),
    ]
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
    let child = |role_name: &str, exe: &std::path::Path| {
        let mut command = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        command
            .env(ROLE_ENV, role_name)
            .env(server::ISSUER_ENV, &issuer)
            .env(server::JWKS_ENV, &jwks_uri)
            .env(server::KEY_N_ENV, jwk["n"].as_str().expect("n"))
            .env(server::KEY_E_ENV, jwk["e"].as_str().expect("e"))
            .env(server::TOKEN_ENV, &requests.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        command
    };
    let this_exe = std::env::current_exe().expect("exe");
    let baseline_exe = std::env::var(BASELINE_EXE_ENV).ok();
    // Whether a role has a server: the metrics baseline only when its binary is given.
    let served = |role: Role| role != Role::Baseline || baseline_exe.is_some();
    let command_for = |role: Role| match &baseline_exe {
        // The baseline is the same role served by the build without the `metrics` feature.
        Some(exe) if role == Role::Baseline => {
            child(Role::Protected.name(), std::path::Path::new(exe))
        }
        _ => child(role.name(), &this_exe),
    };
    let all = scenarios(&requests);
    let mut servers = HashMap::new();
    for role in Role::ALL.into_iter().filter(|&role| served(role)) {
        let needed = match role {
            Role::ProtectedFlood => config.runs(CACHE_FLOOD),
            // A fresh process per measurement: the rounds start their own.
            _ if config.fresh => false,
            _ => all.iter().any(|s| s.role == role && config.runs(s.name)),
        };
        if needed {
            servers.insert(role, ServerProcess::start(command_for(role)).await);
        }
    }
    let scenarios: Vec<Scenario> = all
        .into_iter()
        .filter(|scenario| served(scenario.role))
        .collect();
    let flood_index = scenarios.iter().position(|s| s.name == RANDOM_KID);

    println!(
        "load run: {} rounds x {} scenarios, {:?} warm-up + {:?} measured each, {} connections, \
         {} distinct tokens, {:?} RSA rate per round, {:?} cache flood, pinned: {pinned}, \
         {}, load average before: {}",
        config.rounds,
        scenarios.len(),
        config.warmup,
        config.measure,
        config.concurrency,
        config.pool_size,
        config.rsa,
        config.flood,
        if config.fresh {
            "a fresh server process for every measurement"
        } else {
            "one server process per role for the whole run"
        },
        load_average()
    );
    let mut measured: Vec<Measured> = scenarios.iter().map(|_| Measured::default()).collect();
    let mut rss_first_round: HashMap<Role, u64> = HashMap::new();
    let mut flood_hits_per_round = Vec::new();
    let mut rsa_rates = Vec::new();
    for round in 0..config.rounds {
        if config.runs(RSA) {
            rsa_rates.push(rsa_rate(
                child(RSA_ROLE, &this_exe),
                &requests.token,
                config.rsa,
            ));
        }
        for step in 0..scenarios.len() {
            // The order rotates every round, so no scenario always runs first, and every other
            // round it runs backwards: a rotation alone keeps each scenario after the same one,
            // and a baseline listed before its scenario always ran before it, so whatever one
            // scenario leaves behind (or a drift within the round) would weigh on one side of a
            // pair in every round. Reversed, the pair's order and its neighbours change.
            let n = scenarios.len();
            let rotated = (step + round) % n;
            let index = if round % 2 == 0 {
                rotated
            } else {
                n - 1 - rotated
            };
            let scenario = &scenarios[index];
            if !config.runs(scenario.name) {
                continue;
            }
            if config.fresh {
                // Every measurement on a process of its own (see `Config::fresh`); the role's last
                // process goes first, so the two never share the core.
                if let Some(old) = servers.remove(&scenario.role) {
                    old.stop();
                }
                let server = ServerProcess::start(command_for(scenario.role)).await;
                servers.insert(scenario.role, server);
            }
            let server = &servers[&scenario.role];
            server.reset_peak_rss();
            let cpu_before = server.cpu_secs();
            let user_before = server.user_secs();
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
            slot.round_rps
                .push(outcome.completed as f64 / config.measure.as_secs_f64());
            slot.round_p99_ns
                .push(percentile(&outcome.latencies_ns, 0.99));
            slot.server_cpu_secs += server.cpu_secs() - cpu_before;
            slot.server_user_secs += server.user_secs() - user_before;
            slot.seconds += config.measure.as_secs_f64() + config.warmup.as_secs_f64();
            slot.peak_rss_kib = slot.peak_rss_kib.max(server.status_kib("VmHWM:"));
            slot.outcome.merge(outcome);
            if Some(index) == flood_index {
                flood_hits_per_round.push(jwks_hits.load(Ordering::Relaxed) - hits_before);
            }
        }
        if round == 0 && !config.fresh {
            for (role, server) in &servers {
                rss_first_round.insert(*role, server.status_kib("VmRSS:"));
            }
        }
    }
    let cache_flood = match servers.get(&Role::ProtectedFlood) {
        Some(server) => Some(cache_flood(&config, server, &requests.distinct).await),
        None => None,
    };

    // Sorted apart: the rates stay in round order, to pair each with its round's plain rate.
    let rsa = middle(&mut rsa_rates.clone());
    report(
        &config,
        &scenarios,
        &mut measured,
        &flood_hits_per_round,
        rsa,
        &rsa_rates,
    );
    if config.fresh {
        println!(
            "\nserver RSS across rounds: not measured (a fresh process for every measurement; \
             LOAD_FRESH=0 keeps one process per role for the whole run and prints it)"
        );
    } else {
        println!(
            "\nserver RSS after round 1 -> after round {} (growth beyond the caches would show \
             here):",
            config.rounds
        );
        for role in Role::ALL {
            let (Some(server), Some(first)) = (servers.get(&role), rss_first_round.get(&role))
            else {
                continue;
            };
            println!(
                "  {:<22} {:>7.1} MiB -> {:>7.1} MiB",
                role.name(),
                mib(*first),
                mib(server.status_kib("VmRSS:"))
            );
        }
    }
    if let Some(flood) = cache_flood {
        flood.report(&config);
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

/// The role of the RSA-rate child (not a server: it prints its rate and exits).
pub const RSA_ROLE: &str = "rsa-rate";

/// RS256 verifications per second of `token`, by a child pinned where the servers run.
fn rsa_rate(mut command: Command, token: &str, secs: Duration) -> f64 {
    let output = command
        .env(server::TOKEN_ENV, token)
        .env(server::RSA_SECS_ENV, secs.as_secs_f64().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run the RSA-rate child");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the RSA-rate child said {output:?}"))
}

/// The `q` quantile of `latencies` (nanoseconds, in any order).
fn percentile(latencies: &[u64], q: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    sorted_percentile(&sorted, q)
}

/// The `q` quantile of `sorted` (nanoseconds, ascending): the value at rank `len × q`.
fn sorted_percentile(sorted: &[u64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default() as f64
}

/// A 95 % confidence interval for the median of `values`, free of any assumption about their
/// distribution: the k-th smallest and the k-th largest, k the largest rank whose binomial
/// tail, P(fewer than k of n values fall below the median), is at most 2.5 % (12 rounds: the
/// 3rd and the 10th, 96 % coverage; 8 rounds: the extremes). `None` under 6 values, where even
/// the extremes cover less than 95 %.
fn median_interval(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // tail(k) = sum over i < k of C(n, i) / 2^n.
    let mut choose = 1.0_f64;
    let mut tail = 0.0_f64;
    let mut k = 0;
    for i in 0..n / 2 {
        tail += choose / 2f64.powi(n as i32);
        if tail > 0.025 {
            break;
        }
        k = i + 1;
        choose = choose * (n - i) as f64 / (i + 1) as f64;
    }
    (k > 0).then(|| (sorted[k - 1], sorted[n - k]))
}

/// The ratios of a line of the report, as it lists them: two decimals, in round order.
fn joined(ratios: &[f64]) -> String {
    let ratios: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    ratios.join(", ")
}

/// The median (of an even count, the mean of the middle two).
fn middle(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// What the distinct-token flood of the default-cache server showed.
struct CacheFlood {
    /// RSS before the first token, then after each sample period.
    rss_kib: Vec<u64>,
    sample: Duration,
    requests_per_sec: f64,
    wrong_status: u64,
}

const FLOOD_SAMPLE: Duration = Duration::from_secs(5);

/// Floods the default-cache server with the distinct-token pool (more tokens than its cache
/// holds, so it fills and then evicts) for `config.flood`, reading its RSS every 5 s.
async fn cache_flood(
    config: &Config,
    server: &ServerProcess,
    requests: &Arc<Vec<Vec<u8>>>,
) -> CacheFlood {
    let mut rss_kib = vec![server.status_kib("VmRSS:")];
    let sample = FLOOD_SAMPLE.min(config.flood);
    let periods = (config.flood.as_secs_f64() / sample.as_secs_f64())
        .ceil()
        .max(1.0) as usize;
    let (mut completed, mut wrong_status) = (0, 0);
    for _ in 0..periods {
        let outcome = client::drive(
            server.addr,
            Arc::clone(requests),
            200,
            config.concurrency,
            Duration::ZERO,
            sample,
        )
        .await;
        completed += outcome.completed;
        wrong_status += outcome.wrong_status;
        rss_kib.push(server.status_kib("VmRSS:"));
    }
    CacheFlood {
        rss_kib,
        sample,
        requests_per_sec: completed as f64 / (sample.as_secs_f64() * periods as f64),
        wrong_status,
    }
}

impl CacheFlood {
    fn report(&self, config: &Config) {
        let target = |ok: bool| if ok { "met" } else { "MISSED" };
        let before = self.rss_kib[0];
        let after_first = self.rss_kib.get(1).copied().unwrap_or(before);
        let last = self.rss_kib.last().copied().unwrap_or(before);
        let peak = self.rss_kib.iter().copied().max().unwrap_or(before);
        let samples: Vec<String> = self
            .rss_kib
            .iter()
            .map(|k| format!("{:.1}", mib(*k)))
            .collect();
        println!(
            "\n{CACHE_FLOOD}: {:.0} req/s for {:.0} s over {} distinct tokens{}; RSS MiB before the \
             first token, then every {:?}: [{}]",
            self.requests_per_sec,
            self.sample.as_secs_f64() * (self.rss_kib.len() - 1) as f64,
            config.pool_size,
            if self.wrong_status > 0 {
                format!(" (!! {} answers were not 200)", self.wrong_status)
            } else {
                String::new()
            },
            self.sample,
            samples.join(", ")
        );
        if config.pool_size <= DEFAULT_TOKEN_CACHE_CAPACITY {
            println!(
                "  !! LOAD_TOKENS={} does not exceed the cache ({DEFAULT_TOKEN_CACHE_CAPACITY}): no eviction ran",
                config.pool_size
            );
        }
        let cache = peak.saturating_sub(before);
        println!(
            "  token cache full (RSS peak - RSS before any token): {:.1} MiB, must be < 16 MiB ({})",
            mib(cache),
            target(cache < 16 * 1024)
        );
        // Flat: after the first period (the cache is full by then) RSS grows by under 5 %.
        let growth = last as f64 / after_first.max(1) as f64 - 1.0;
        println!(
            "  RSS after the first {:?} -> at the end: {:.1} -> {:.1} MiB ({:+.1} %, flat = under +5 %: {})",
            self.sample,
            mib(after_first),
            mib(last),
            growth * 100.0,
            target(growth < 0.05)
        );
    }
}

type Stats = (f64, f64, f64, f64);

fn report(
    config: &Config,
    scenarios: &[Scenario],
    measured: &mut [Measured],
    flood_hits: &[u64],
    rsa: Option<f64>,
    rsa_rates: &[f64],
) {
    let measure_secs = config.measure.as_secs_f64() * config.rounds as f64;
    // CPU is sampled over warm-up + measure; so is the request count it is divided by.
    let per_request_us = |m: &Measured, cpu_secs: f64| {
        let served = m.outcome.completed as f64 * (m.seconds / measure_secs);
        cpu_secs * 1e6 / served.max(1.0)
    };
    let stats: Vec<Stats> = measured
        .iter_mut()
        .map(|m| {
            m.outcome.latencies_ns.sort_unstable();
            let rps = m.outcome.completed as f64 / measure_secs;
            let p = |q: f64| sorted_percentile(&m.outcome.latencies_ns, q) / 1000.0;
            (rps, p(0.50), p(0.99), per_request_us(m, m.server_cpu_secs))
        })
        .collect();
    let user_us: Vec<f64> = measured
        .iter()
        .map(|m| per_request_us(m, m.server_user_secs))
        .collect();
    let index = |name: &str| scenarios.iter().position(|s| s.name == name);
    let by_name = |name: &str| index(name).map(|i| stats[i]).filter(|s| s.0 > 0.0);
    let user_of = |name: &str| index(name).map(|i| user_us[i]);
    println!(
        "\n| scenario | req/s | p50 µs | p99 µs | peak RSS MiB | server CPU µs/req | of which user | baseline | × baseline req/s | × baseline p99 | × baseline CPU/req |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    for (i, scenario) in scenarios.iter().enumerate() {
        let (rps, p50, p99, cpu) = stats[i];
        if rps == 0.0 {
            continue;
        }
        let ratios = match scenario.baseline.and_then(|b| by_name(b).map(|s| (b, s))) {
            Some((name, (b_rps, _, b_p99, b_cpu))) => format!(
                "{name} | {:.2} | {:.2} | {:.2}",
                rps / b_rps,
                p99 / b_p99,
                cpu / b_cpu
            ),
            None => "— | | | ".to_owned(),
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {ratios} |",
            scenario.name,
            rps,
            p50,
            p99,
            mib(measured[i].peak_rss_kib),
            cpu,
            user_us[i],
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
    let ratio = |of: &str, to: &str, field: fn(Stats) -> f64| {
        by_name(of)
            .zip(by_name(to))
            .map(|(a, b)| field(a) / field(b))
    };
    let rps = |s: Stats| s.0;
    let p99 = |s: Stats| s.2;
    let cpu = |s: Stats| s.3;
    // Each round measures a scenario and its baseline seconds apart (the order rotates as a
    // whole, forwards and backwards in turn), so the ratio of each round's pair is free of the
    // drift between rounds; the median of those is the figure a target is judged on, the
    // whole-run ratio is printed beside it.
    let paired_rounds = |of: &str, to: &str, field: fn(&Measured) -> &[f64]| {
        let (of, to) = (field(&measured[index(of)?]), field(&measured[index(to)?]));
        Some(
            of.iter()
                .zip(to)
                .filter(|(_, to)| **to > 0.0)
                .map(|(of, to)| of / to)
                .collect::<Vec<f64>>(),
        )
    };
    let rounds = |of: &str, to: &str| paired_rounds(of, to, |m| &m.round_rps);
    let paired = |of: &str, to: &str| middle(&mut rounds(of, to)?);
    // How far the median of a run's rounds can be trusted: a bound inside the interval is one
    // this run alone cannot tell met from missed.
    let holds = |ratios: &[f64], bound: f64| {
        median_interval(ratios).is_some_and(|(low, high)| low < bound && bound < high)
    };
    let interval = |ratios: &[f64], bound: f64| match median_interval(ratios) {
        Some((low, high)) => {
            let undecided = if bound > 0.0 && holds(ratios, bound) {
                format!(": it holds {bound:.2}, so this run alone cannot tell met from missed")
            } else {
                String::new()
            };
            format!(", 95 % interval of the median {low:.2}-{high:.2}{undecided}")
        }
        None => String::new(),
    };
    let at_least = |what: &str, of: &str, to: &str, bound: f64| {
        if let (Some(value), Some(whole), Some(cpu)) =
            (paired(of, to), ratio(of, to, rps), ratio(of, to, cpu))
        {
            let user = user_of(of)
                .zip(user_of(to))
                .map_or(String::new(), |(of, to)| {
                    format!(
                        ", user CPU per request {of:.1} vs {to:.1} µs ({:+.1})",
                        of - to
                    )
                });
            let ratios = rounds(of, to).unwrap_or_default();
            println!(
                "  {what} >= {bound:.2}: {value:.2} ({}); rounds [{}]{}, whole run {whole:.2}, \
                 baseline/ours CPU per request {:.2}{user}",
                target(value >= bound),
                joined(&ratios),
                interval(&ratios, bound),
                1.0 / cpu
            );
        }
    };
    // A floor server does strictly less than any correct implementation must: when the floor
    // itself misses a target's bound, so must everything above it. It bounds a target only
    // where the run can tell its median is below.
    let reach = |ratios: &[f64], value: f64, bound: f64, out_of_reach: &str| {
        if bound == 0.0 {
            String::new()
        } else if holds(ratios, bound) {
            " (whether the target is within reach, this run cannot tell)".to_string()
        } else if value < bound {
            format!(" (below {bound:.2}: {out_of_reach})")
        } else {
            format!(" (at or above {bound:.2}: the target is within reach)")
        }
    };
    let floor = |what: &str, of: &str, to: &str, bound: f64| {
        if let (Some(value), Some(whole)) = (paired(of, to), ratio(of, to, rps)) {
            let ratios = rounds(of, to).unwrap_or_default();
            let verdict = reach(
                &ratios,
                value,
                bound,
                "the target is out of reach of any implementation on this machine",
            );
            println!(
                "  {what}: {value:.2}; rounds [{}]{}, whole run {whole:.2}{verdict}",
                joined(&ratios),
                interval(&ratios, bound)
            );
        }
    };
    println!("\ntargets (issue 17):");
    at_least(
        "repeated token, GET route, both layers, x plain GET req/s",
        GET_REPEATED,
        PLAIN_GET,
        0.92,
    );
    floor(
        "its floor: a minimal per-tool guard (static token compare, the route's scope), x plain GET",
        TOOL_GUARD_GET,
        PLAIN_GET,
        0.92,
    );
    floor(
        "  both layers x that floor",
        GET_REPEATED,
        TOOL_GUARD_GET,
        0.0,
    );
    floor(
        "its floor with the guard's required checks: the minimal guard plus the token's expiry \
         and session binding, x plain GET",
        CHECKED_GUARD_GET,
        PLAIN_GET,
        0.92,
    );
    floor(
        "  both layers x that floor",
        GET_REPEATED,
        CHECKED_GUARD_GET,
        0.0,
    );
    floor(
        "the same checks split into two layers as the crate's are (the principal in the \
         extensions, a body wrapper each way), x plain GET",
        SPLIT_GUARD_GET,
        PLAIN_GET,
        0.92,
    );
    floor(
        "  both layers x that floor",
        GET_REPEATED,
        SPLIT_GUARD_GET,
        0.0,
    );
    // What the `metrics` feature costs this path without a recorder (with LOAD_BASELINE_EXE).
    floor(
        "(for reference) both layers built without the metrics feature, x plain GET",
        GET_NO_METRICS,
        PLAIN_GET,
        0.0,
    );
    floor(
        "  both layers, metrics on and no recorder x compiled out",
        GET_REPEATED,
        GET_NO_METRICS,
        0.0,
    );
    // Judged as req/s are, on the rounds paired: a host hiccup in one round moves the whole
    // run's 99th percentile of that scenario alone.
    if let (Some(ratios), Some(whole)) = (
        paired_rounds(GET_REPEATED, PLAIN_GET, |m| &m.round_p99_ns),
        ratio(GET_REPEATED, PLAIN_GET, p99),
    ) && let Some(value) = middle(&mut ratios.clone())
    {
        println!(
            "  repeated token, GET route, p99 x plain GET p99 <= 1.20: {value:.2} ({}); rounds \
             [{}]{}, whole run {whole:.2}",
            target(value <= 1.2),
            joined(&ratios),
            interval(&ratios, 1.2)
        );
    }
    at_least(
        "MCP tools/call 1 KiB, both layers + tool rule, x plain handler that parses",
        CALL_REPEATED,
        PLAIN_CALL,
        0.90,
    );
    floor(
        "its floor: a strict parse of the body and nothing else, x plain handler that parses",
        PARSE_ONLY,
        PLAIN_CALL,
        0.90,
    );
    floor("  both layers x that floor", CALL_REPEATED, PARSE_ONLY, 0.0);
    floor(
        "its floor: a minimal per-tool guard (static token compare, strict parse of method and \
         name, one tool table), x plain handler that parses",
        TOOL_GUARD_CALL,
        PLAIN_CALL,
        0.90,
    );
    floor(
        "  both layers x that floor",
        CALL_REPEATED,
        TOOL_GUARD_CALL,
        0.0,
    );
    floor(
        "its floor with the guard's required checks: the minimal guard plus the token's expiry, \
         session binding, the body's content type and coding, and the SEP-2243 headers, x plain \
         handler that parses",
        CHECKED_GUARD_CALL,
        PLAIN_CALL,
        0.90,
    );
    floor(
        "  both layers x that floor",
        CALL_REPEATED,
        CHECKED_GUARD_CALL,
        0.0,
    );
    // The naive middleware authenticates and nothing else: the bearer layer alone is its like.
    at_least(
        "distinct tokens, bearer layer (what the naive middleware does) x naive decode per request",
        BEARER_DISTINCT,
        NAIVE,
        1.35,
    );
    floor(
        "  (for reference) both layers, the guard reading the body too, x naive",
        DISTINCT,
        NAIVE,
        0.0,
    );
    floor(
        "its floor: the signature check and nothing else, x naive decode per request",
        SIGNATURE_ONLY,
        NAIVE,
        1.35,
    );
    floor(
        "  the bearer layer x that floor",
        BEARER_DISTINCT,
        SIGNATURE_ONLY,
        0.0,
    );
    floor(
        "its floor with the claims read: the signature check, the header and claims decoded and \
         parsed, x naive",
        CLAIMS_FLOOR,
        NAIVE,
        1.35,
    );
    floor(
        "  the bearer layer x that floor",
        BEARER_DISTINCT,
        CLAIMS_FLOOR,
        0.0,
    );
    floor(
        "its floor with the claims checked: the header's alg, kid and crit, iss, aud, exp and \
         nbf, sub and scope handed on, x naive",
        CHECKED_CLAIMS,
        NAIVE,
        1.35,
    );
    floor(
        "  the bearer layer x that floor",
        BEARER_DISTINCT,
        CHECKED_CLAIMS,
        0.0,
    );
    if let (Some(rsa), Some(plain), Some(distinct)) =
        (rsa, by_name(PLAIN), by_name(BEARER_DISTINCT))
    {
        let ceiling = 1.0 / (1.0 / plain.0 + 1.0 / rsa);
        let rates: Vec<String> = rsa_rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "  RSA-2048 verify on the server core: {rsa:.0}/s (median of [{}]); RSA ceiling \
             1/(1/plain + 1/rsa) = {ceiling:.0} req/s",
            rates.join(", ")
        );
        // Each round's ceiling from that round's plain and RSA rates, so the ratios pair
        // like the others; the whole-run figure uses the medians.
        let against_ceiling = |of: &str| -> Vec<f64> {
            let (Some(of), Some(plain)) = (index(of), index(PLAIN)) else {
                return Vec::new();
            };
            measured[of]
                .round_rps
                .iter()
                .zip(&measured[plain].round_rps)
                .zip(rsa_rates)
                .filter(|((_, plain), rsa)| **plain > 0.0 && **rsa > 0.0)
                .map(|((of, plain), rsa)| of * (1.0 / plain + 1.0 / rsa))
                .collect()
        };
        let ratios = against_ceiling(BEARER_DISTINCT);
        if let Some(ratio) = middle(&mut ratios.clone()) {
            println!(
                "  distinct tokens, bearer layer x RSA ceiling >= 0.80: {ratio:.2} ({}); rounds \
                 [{}]{}, whole run {:.2}",
                target(ratio >= 0.80),
                joined(&ratios),
                interval(&ratios, 0.80),
                distinct.0 / ceiling
            );
        }
        if let Some(both) = by_name(DISTINCT) {
            println!(
                "    (for reference) both layers x RSA ceiling: {:.2}",
                both.0 / ceiling
            );
        }
        // The bound is the floor that makes the checks a correct verifier must (a verifier
        // that skips the claims accepts what it must refuse); the lighter floors are printed
        // for where the time goes.
        let floors = [
            (
                "its floor: the floor with the claims checked x RSA ceiling",
                CHECKED_CLAIMS,
                0.80,
            ),
            (
                "  (for reference) the floor with the claims read x RSA ceiling",
                CLAIMS_FLOOR,
                0.0,
            ),
            (
                "  (for reference) the signature-check-only floor x RSA ceiling",
                SIGNATURE_ONLY,
                0.0,
            ),
        ];
        for (what, of, bound) in floors {
            let ratios = against_ceiling(of);
            let (Some(ratio), Some(whole)) = (middle(&mut ratios.clone()), by_name(of)) else {
                continue;
            };
            let verdict = reach(
                &ratios,
                ratio,
                bound,
                "no correct verifier of fresh tokens reaches the target on this machine",
            );
            println!(
                "  {what}: {ratio:.2}; rounds [{}]{}, whole run {:.2}{verdict}",
                joined(&ratios),
                interval(&ratios, bound),
                whole.0 / ceiling
            );
        }
    }
    at_least(
        "malformed token x bare 401 with the same answer bytes",
        MALFORMED,
        BARE_401,
        0.95,
    );
    if let Some(value) = ratio(REPEATED, PLAIN, rps) {
        println!(
            "  (for reference) repeated token, POST /mcp 120 B (the guard reads the body) x plain: {value:.2}"
        );
    }
    // The same app in a second process, against the first: nothing differs but the host and the
    // process, so how far these move from 1.00 is how far those alone move any ratio above. The
    // plain pair shows the host; the protected pair, the crate's own server, shows besides how
    // far one of its processes can sit from another (with `LOAD_FRESH=0` the twin's history is
    // shorter too: it serves two scenarios, the first all), which every target on the protected
    // server carries.
    let controls = [
        (
            "plain GET, second plain server x first",
            TWIN_GET,
            PLAIN_GET,
        ),
        (
            "plain tools/call 1 KiB, second plain server x first",
            TWIN_CALL,
            PLAIN_CALL,
        ),
        (
            "protected GET, second protected server x first",
            TWIN_PROTECTED_GET,
            GET_REPEATED,
        ),
        (
            "protected, malformed token, second protected server x first",
            TWIN_MALFORMED,
            MALFORMED,
        ),
    ];
    if controls.iter().any(|(_, of, to)| paired(of, to).is_some()) {
        println!("\nmeasurement control (A/A: the same app in two processes):");
    }
    for (what, of, to) in controls {
        floor(what, of, to, 0.0);
        if let Some(ratios) = rounds(of, to).filter(|r| !r.is_empty()) {
            let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let high = ratios.iter().copied().fold(0.0, f64::max);
            println!("    single rounds ranged {low:.2}-{high:.2}");
        }
    }
    // The metrics' cost on the repeated-token figure (issue 16): against the build without them
    // when it ran, else against the same build without a recorder.
    let cost = |what: &str, run: Option<Stats>, base: Option<Stats>, bound: f64| {
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
    println!("\ntargets (issue 16, metrics):");
    let no_recorder = by_name(REPEATED);
    let prometheus = by_name(PROMETHEUS);
    let baseline = by_name(NO_METRICS);
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
    if !flood_hits.is_empty() {
        let bound = (config.measure + config.warmup).as_secs_f64() / REFRESH_COOLDOWN.as_secs_f64();
        let bound = bound.floor() as u64 + 1;
        println!(
            "  random-kid flood: JWKS fetches per round {flood_hits:?} with a {:?} cooldown, at most {bound} allowed per {:?} round ({})",
            REFRESH_COOLDOWN,
            config.measure + config.warmup,
            target(flood_hits.iter().all(|h| *h <= bound))
        );
    }
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
        let (user, system) = self.user_system_secs();
        user + system
    }

    fn user_secs(&self) -> f64 {
        self.user_system_secs().0
    }

    fn user_system_secs(&self) -> (f64, f64) {
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
        (ticks(11) / 100.0, ticks(12) / 100.0)
    }

    /// Closes the child's stdin, which makes it exit; kills it if it has not within 100 ms.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        for _ in 0..20 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

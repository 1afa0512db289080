//! The ChatGPT ⇄ Auth0 gateway: every layer of tower-mcp-auth assembled into one binary.
//!
//! ```text
//! cargo run --example gateway                 # dev mode: no Auth0 needed
//! cargo run --example gateway -- doctor       # check a real configuration from the outside
//! cargo run --example gateway -- print-action # the Auth0 Post-Login Action for this policy
//! cargo run --example gateway -- setup        # plan the Auth0 tenant set-up (--apply makes it)
//! ```
//!
//! Configuration comes from the environment (and an optional `.env` file); `.env.sample` lists
//! every variable. See the README, "The example gateway".

mod app;
mod config;
mod debug_token;
mod dev_mode;
mod doctor;
mod health;
mod hmac;
mod metrics;
mod policy;
mod print_action;
mod proxy;
mod rate_limit;
mod server;
mod setup;
mod tool_path;
mod verifier;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::{Auth0Health, Auth0LogWebhookService, DcrPromoter, ManagementClient};
use url::Url;

use crate::config::{Config, Mode};

/// The command line: `serve` (the default), `doctor [--token TOKEN|-]`, `print-action`,
/// `setup [--apply] [--json]`; `--help` on each.
fn cli() -> clap::Command {
    use clap::{Arg, Command};
    Command::new("gateway")
        .about("The ChatGPT ⇄ Auth0 gateway built from tower-mcp-auth")
        .after_help("Configuration: environment variables or a .env file; see .env.sample.")
        .subcommand(Command::new("serve").about("Run the gateway (the default)"))
        .subcommand(
            Command::new("doctor")
                .about("Check the configuration against the real issuer and Management API")
                .arg(
                    Arg::new("token")
                        .long("token")
                        .value_name("TOKEN")
                        .help("Also explain what is wrong with this access token (- reads stdin)"),
                ),
        )
        .subcommand(
            Command::new("print-action")
                .about("Print the Auth0 Post-Login Action adding ACTION_SCOPES for every user"),
        )
        .subcommand(
            Command::new("setup")
                .about(
                    "Plan the tenant-wide Auth0 set-up (API, domain-level connection, default \
                     grant, tenant settings, CIMD_CLIENT_IDS); writes nothing without --apply",
                )
                .arg(
                    Arg::new("apply")
                        .long("apply")
                        .action(clap::ArgAction::SetTrue)
                        .help("Apply the plan"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(clap::ArgAction::SetTrue)
                        .help("Print one JSON object on stdout, for scripts"),
                ),
        )
}

fn main() -> ExitCode {
    let matches = match cli().try_get_matches() {
        Ok(matches) => matches,
        // `--help` and `--version` are "errors" that print to stdout and exit 0; usage errors 2.
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
    };
    // A missing .env is normal (containers pass real environment variables).
    let dotenv = dotenvy::dotenv();
    init_logging();
    if let Err(error) = &dotenv
        && !error.not_found()
    {
        eprintln!("error: .env could not be read: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match matches.subcommand() {
        None | Some(("serve", _)) => runtime.block_on(serve()),
        Some(("doctor", args)) => {
            let token = args.get_one::<String>("token").map(String::as_str);
            match runtime.block_on(doctor::run(token)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Some(("print-action", _)) => print_action(),
        Some(("setup", args)) => setup::main(
            &runtime,
            setup::Flags {
                apply: args.get_flag("apply"),
                json: args.get_flag("json"),
            },
        ),
        // clap accepts only the subcommands declared above.
        Some((other, _)) => {
            eprintln!("error: unknown command `{other}`");
            ExitCode::from(2)
        }
    }
}

/// `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` writes one JSON object per line.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = crate::metrics::with_audit(filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Prints the Post-Login Action with `SCOPES_FOR_EVERYONE` = the configured `ACTION_SCOPES`.
fn print_action() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match print_action::render(print_action::TEMPLATE, &config.policy.action_scopes) {
        Ok(action) => {
            print!("{action}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(config: Config) -> Result<(), BoxError> {
    if let Some(addr) = config.metrics_addr {
        crate::metrics::start(addr).await?;
    }
    let listener = TcpListener::bind(SocketAddr::new(config.bind, config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.bind, config.port))?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    // Dev mode: the embedded issuer answers on its own listener before the verifier discovers it.
    let dev = match config.mode {
        Mode::Dev => Some(dev_mode::DevAuthority::start().await?),
        Mode::Production { .. } => None,
    };
    let hmac_secret = match &config.hmac_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => {
            // Dev mode only (production requires GATEWAY_HMAC_SECRET): a fresh random key.
            let mut key = vec![0u8; 32];
            aws_lc_rs::rand::fill(&mut key).map_err(|_| "no randomness for the HMAC key")?;
            key
        }
    };
    let signer = hmac::Signer::new(&hmac_secret);

    let (issuer, audience, resource_url, resource) = match (&config.mode, &dev) {
        (Mode::Production { issuer, audience }, _) => (
            issuer.clone(),
            audience.clone(),
            config
                .resource_url
                .clone()
                .ok_or("RESOURCE_URL is required")?,
            config.resource.clone().unwrap_or_else(|| audience.clone()),
        ),
        (Mode::Dev, Some(dev)) => {
            let resource = match &config.resource_url {
                Some(url) => url.clone(),
                None => Url::parse(&format!("{base}/mcp"))?,
            };
            let raw = config
                .resource
                .clone()
                .unwrap_or_else(|| resource.to_string());
            (dev.issuer_url.clone(), resource.to_string(), resource, raw)
        }
        (Mode::Dev, None) => return Err("dev mode without its issuer".into()),
    };
    let verifier = config
        .verification
        .jwks_builder(&issuer, &audience)
        .build()
        .await
        .map_err(|e| format!("the token verifier could not start: {e}"))?;
    let introspection = match config
        .verification
        .introspection_builder(&issuer, &audience)
    {
        Some(builder) => Some(
            builder
                .build()
                .await
                .map_err(|e| format!("token introspection could not start: {e}"))?,
        ),
        None => None,
    };
    // Keeps /health/auth0 current even when no token needs a new key.
    tower_mcp_auth::health::AuthHealth::new(verifier.clone())
        .spawn_jwks_probe(config.jwks_probe_interval);

    let functions_base = match (&config.functions_base, dev.is_some()) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(Url::parse(&format!("{base}/dev-backend"))?),
        (None, false) => None,
    };
    let webhook = match &config.management {
        Some(management) => Some(webhook(
            management,
            &audience,
            config.policy.policy.all_scopes().to_vec(),
        )?),
        None => None,
    };
    let settings = app::Settings {
        verifier,
        introspection,
        resource,
        functions_base: functions_base.clone(),
        mcp_upstream: config.mcp_upstream.clone(),
        proxy: proxy::Proxy::new(signer.clone(), config.backend_timeout)?,
        app_origin: config.app_origin.clone(),
        debug_token_endpoint: config.debug_token_endpoint,
        health_details: config.limits.health_details,
        mode: if dev.is_some() { "dev" } else { "production" },
        webhook,
        policy: config.policy.clone(),
        rate_limits: rate_limit::RateLimits::new(&config.rate_limits).map(Arc::new),
        client_auth: config.client_auth.clone(),
    };
    let app = app::router(settings).map_err(|e| format!("RESOURCE_URL: {e}"))?;
    let app = match &dev {
        Some(_) => dev_mode::demo_backend(signer).fallback_service(app),
        None => app,
    };
    let server = tokio::spawn(server::run(
        listener,
        app,
        config.limits.clone(),
        shutdown_signal(),
    ));

    tracing::info!(
        %addr,
        mode = if dev.is_some() { "DEV MODE" } else { "production" },
        resource = %resource_url,
        metadata = tower_mcp_auth::prm::metadata_url(resource_url.as_str()).unwrap_or_default(),
        audience = %audience,
        functions_base = functions_base.as_ref().map(proxy::redacted),
        mcp_upstream = config.mcp_upstream.as_ref().map(proxy::redacted),
        debug_token_endpoint = config.debug_token_endpoint,
        audit_log = config.audit_log,
        rate_limited = !config.rate_limits.is_empty(),
        dcr_webhook = if config.management.is_some() { "on: POST /auth0-log-webhook" } else { "off (MGMT_* and LOG_WEBHOOK_SECRET not set)" },
        "gateway listening"
    );
    if let Some(dev) = &dev {
        tracing::warn!(
            "DEV MODE: embedded issuer and demo backend; set OAUTH_ISSUER for production"
        );
        let token = dev.mint(&audience, dev_mode::DEMO_TOKEN_SCOPE)?;
        let public = config
            .client_auth
            .public_tools
            .iter()
            .any(|tool| tool == dev_mode::PUBLIC_TOOL);
        println!("{}", dev_mode::banner(&base, &token, public));
    }
    println!("gateway listening on {base}");

    server.await??;
    tracing::info!("gateway stopped");
    Ok(())
}

/// The log-stream webhook promoting ChatGPT's registered clients, and its health state.
fn webhook(
    management: &config::ManagementConfig,
    audience: &str,
    scopes: Vec<String>,
) -> Result<(Auth0LogWebhookService, Auth0Health), BoxError> {
    let health = Auth0Health::new();
    let mut client = ManagementClient::builder(management.domain.clone())
        .client_credentials(
            management.client_id.clone(),
            ClientSecret::new(management.client_secret.expose()),
        )
        .health(health.clone());
    if let Some(base_url) = &management.base_url {
        client = client.base_url(base_url.as_str());
    }
    let client = client
        .build()
        .map_err(|e| format!("the Management API client could not be built: {e}"))?;
    let mut promoter = DcrPromoter::builder(client, audience, scopes)
        .connections(management.connections.clone())
        .promote_first_party(management.promote_first_party);
    if let Some(callbacks) = &management.allowed_callbacks {
        promoter = promoter.callbacks(callbacks.clone());
    }
    let promoter = promoter.build();
    let service = Auth0LogWebhookService::builder(management.webhook_secret.expose(), promoter)
        .health(health.clone())
        .build()
        .map_err(|e| format!("the log webhook could not be built: {e}"))?;
    Ok((service, health))
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

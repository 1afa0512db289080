//! `gateway setup [--apply] [--json]`: the tenant-wide Auth0 set-up from the gateway's own
//! environment ([`env::SetupEnv`]), planned by the library's `TenantSetup`.
//!
//! - `gateway setup` prints the plan and writes nothing: exit 0; exit 1 when the plan cannot be
//!   made (the reason is printed).
//! - `gateway setup --apply` applies it and prints what it did: exit 0 when the tenant is set up
//!   (the plan read afterwards is empty), exit 1 when a scope is missing (nothing written) or a
//!   change failed (applying again completes it).
//! - `--json`: one JSON object on stdout for scripts.
//!
//! Exit 2 for a usage error.

pub mod env;

use std::process::ExitCode;

use serde_json::json;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::tenant_setup::Applied;
use tower_mcp_auth::auth0::{ManagementClient, TenantSetup, TenantSetupError};

use env::SetupEnv;

/// The flags of `gateway setup` (parsed by clap in `main.rs`).
pub struct Flags {
    /// `--apply`: make the changes, not only plan them.
    pub apply: bool,
    /// `--json`: one JSON object on stdout.
    pub json: bool,
}

/// Runs the subcommand with its parsed `flags`.
pub fn main(runtime: &tokio::runtime::Runtime, flags: Flags) -> ExitCode {
    let env = match SetupEnv::from_env() {
        Ok(env) => env,
        Err(problems) => {
            let reason = format!(
                "the set-up configuration has {} problem(s):\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            );
            return fail(&flags, "config", &reason);
        }
    };
    let setup = match build(&env) {
        Ok(setup) => setup,
        Err(error) => return fail(&flags, error.code(), &error.to_string()),
    };
    runtime.block_on(run(&flags, &setup))
}

fn build(env: &SetupEnv) -> Result<TenantSetup, TenantSetupError> {
    let mut mgmt = ManagementClient::builder(env.domain.clone()).client_credentials(
        env.client_id.clone(),
        ClientSecret::new(env.client_secret.expose()),
    );
    if let Some(base) = &env.base_url {
        mgmt = mgmt.base_url(base.as_str());
    }
    let mgmt = mgmt
        .build()
        .map_err(|e| TenantSetupError::Config(e.to_string()))?;
    TenantSetup::builder(mgmt, &env.policy, env.resource.clone())
        .connections(env.connections.iter().cloned())
        .cimd_client_ids(env.cimd_urls.iter().cloned())
        .dynamic_client_registration(env.dcr)
        .default_grant(env.default_grant)
        .build()
}

/// Prints the reason (or a JSON error) and answers exit 1.
fn fail(flags: &Flags, code: &str, reason: &str) -> ExitCode {
    if flags.json {
        println!("{}", json!({"error": code, "message": reason}));
    } else {
        eprintln!("error: {reason}");
    }
    ExitCode::FAILURE
}

async fn run(flags: &Flags, setup: &TenantSetup) -> ExitCode {
    let plan = match setup.plan().await {
        Ok(plan) => plan,
        Err(error) => return fail(flags, error.code(), &error.to_string()),
    };
    if !flags.apply {
        if flags.json {
            println!("{}", json!({"plan": plan}));
        } else {
            println!("{plan}");
            if !plan.is_empty() {
                println!("run `gateway setup --apply` to make these changes");
            }
        }
        return ExitCode::SUCCESS;
    }
    if !flags.json {
        println!("{plan}");
    }
    let applied = match setup.apply_plan(plan).await {
        Ok(applied) => applied,
        Err(error) => {
            if let TenantSetupError::Apply { done, .. } = &error
                && !flags.json
            {
                for change in done {
                    println!("done: {change}");
                }
            }
            return fail(flags, error.code(), &error.to_string());
        }
    };
    // Read the tenant again: the set-up is done only when nothing is left to change.
    let after = match setup.plan().await {
        Ok(after) => after,
        Err(error) => return fail(flags, error.code(), &error.to_string()),
    };
    report(flags, &applied, after.is_empty());
    if after.is_empty() {
        ExitCode::SUCCESS
    } else {
        if !flags.json {
            println!("still to change after applying:\n{after}");
        }
        ExitCode::FAILURE
    }
}

fn report(flags: &Flags, applied: &Applied, complete: bool) {
    if flags.json {
        let cimd: Vec<_> = applied
            .cimd
            .iter()
            .map(|r| {
                json!({"client_id": r.client_id, "created": r.created,
                       "mapped_fields": r.mapped_fields, "validation": r.validation})
            })
            .collect();
        println!(
            "{}",
            json!({"plan": applied.plan, "done": applied.done, "cimd": cimd, "complete": complete})
        );
        return;
    }
    for change in &applied.done {
        println!("done: {change}");
    }
    for registration in &applied.cimd {
        println!(
            "CIMD client {} {}: valid {}, {} warning(s)",
            registration.client_id,
            if registration.created {
                "created"
            } else {
                "updated"
            },
            registration.validation.valid,
            registration.validation.warnings.len()
        );
    }
    if complete {
        println!(
            "tenant set up: {} change(s) made, nothing left to change",
            applied.done.len()
        );
    }
}

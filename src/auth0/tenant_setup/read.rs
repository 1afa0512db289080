//! Reading the tenant and comparing it with what the set-up wants: the plan. Only `GET`s and the
//! CIMD preview (which validates without registering) are sent.

use super::TenantSetup;
use super::error::TenantSetupError;
use super::plan::{Action, Change, MissingScope, Plan, RegistrationModes, Step};
use super::scopes;
use crate::auth0::ManagementError;
use crate::auth0::management::{
    NewDefaultClientGrant, NewResourceServer, ResourceServerPatch, ResourceServerScope,
    SubjectType, THIRD_PARTY_CLIENTS, TenantFlags, TenantSettings, TenantSettingsPatch,
};

/// A read's failure: a 403 names the scope the read needs (for an M2M token whose scopes the
/// token answer did not list), anything else is a read failure.
fn read_error(e: ManagementError, scope: MissingScope) -> TenantSetupError {
    if e.status() == Some(403) {
        TenantSetupError::MissingScopes {
            missing: vec![scope],
        }
    } else {
        TenantSetupError::Read(e)
    }
}

fn pending(
    target: String,
    action: Action,
    now: String,
    will_be: String,
    why: &str,
    step: Step,
) -> Change {
    Change {
        target,
        action,
        now,
        will_be,
        why: why.to_owned(),
        needs_scope: Some(scopes::for_step(&step).scope),
        step: Some(step),
    }
}

fn join(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "no scopes".to_owned()
    } else {
        scopes.join(" ")
    }
}

pub(super) async fn plan(setup: &TenantSetup) -> Result<Plan, TenantSetupError> {
    let mgmt = &setup.mgmt;
    let cimd = !setup.cimd_urls.is_empty();
    let granted = mgmt
        .granted_scopes()
        .await
        .map_err(TenantSetupError::Read)?;
    if let Some(granted) = &granted {
        let missing = scopes::missing(&scopes::reads(cimd, setup.default_grant), granted);
        if !missing.is_empty() {
            return Err(TenantSetupError::MissingScopes { missing });
        }
    }

    let mut changes = Vec::new();
    let mut warnings = Vec::new();

    // 1. The API: Identifier = the resource, RS256, every policy scope.
    let api = mgmt
        .find_resource_server(&setup.resource)
        .await
        .map_err(|e| read_error(e, scopes::READ_API))?;
    let api_target = format!("API {}", setup.resource);
    match &api {
        None => changes.push(pending(
            api_target,
            Action::Create,
            "absent".into(),
            format!("RS256, scopes {}", join(&setup.scopes)),
            "ChatGPT's RFC 8707 `resource` must name an API whose Identifier is exactly the \
             resource URL; the gateway accepts RS256 only",
            Step::CreateApi(NewResourceServer {
                name: setup.api_name.clone(),
                identifier: setup.resource.clone(),
                signing_alg: "RS256".into(),
                scopes: setup
                    .scopes
                    .iter()
                    .map(|s| ResourceServerScope {
                        value: s.clone(),
                        description: Some(format!("MCP server scope {s}")),
                    })
                    .collect(),
            }),
        )),
        Some(api) => {
            let alg = api.signing_alg.clone().unwrap_or_else(|| "unset".into());
            if alg == "RS256" {
                changes.push(Change::right(
                    format!("{api_target} signing algorithm"),
                    alg,
                    "the gateway accepts RS256 only",
                ));
            } else {
                changes.push(pending(
                    format!("{api_target} signing algorithm"),
                    Action::Change,
                    alg,
                    "RS256".into(),
                    "the gateway refuses HS256 tokens (ALGORITHM_NOT_ALLOWED)",
                    Step::PatchApi {
                        id: api.id.clone(),
                        patch: ResourceServerPatch {
                            signing_alg: Some("RS256".into()),
                            ..ResourceServerPatch::default()
                        },
                    },
                ));
            }
            let have: Vec<String> = api.scopes.iter().map(|s| s.value.clone()).collect();
            let lacking: Vec<&String> = setup.scopes.iter().filter(|s| !have.contains(s)).collect();
            if lacking.is_empty() {
                changes.push(Change::right(
                    format!("{api_target} scopes"),
                    join(&have),
                    "every scope of the policy is defined on the API",
                ));
            } else {
                // Auth0 replaces the list: keep every existing scope, add the missing ones.
                let mut all = api.scopes.clone();
                all.extend(lacking.iter().map(|s| ResourceServerScope {
                    value: (*s).clone(),
                    description: Some(format!("MCP server scope {s}")),
                }));
                let will: Vec<String> = all.iter().map(|s| s.value.clone()).collect();
                changes.push(pending(
                    format!("{api_target} scopes"),
                    Action::Change,
                    join(&have),
                    join(&will),
                    "every scope the policy names must exist on the API to be granted; \
                     existing scopes are kept",
                    Step::PatchApi {
                        id: api.id.clone(),
                        patch: ResourceServerPatch {
                            scopes: Some(all),
                            ..ResourceServerPatch::default()
                        },
                    },
                ));
            }
        }
    }

    // 2. The login connections, at domain level.
    for name in &setup.connections {
        let connection = mgmt
            .find_connection(name)
            .await
            .map_err(|e| read_error(e, scopes::READ_CONNECTIONS))?
            .ok_or_else(|| TenantSetupError::ConnectionNotFound { name: name.clone() })?;
        let target = format!("connection {name} is_domain_connection");
        if connection.is_domain_connection {
            changes.push(Change::right(
                target,
                "true".into(),
                "third-party apps (DCR and CIMD clients) can log in with it",
            ));
        } else {
            changes.push(pending(
                target,
                Action::Change,
                "false".into(),
                "true".into(),
                "third-party applications can only use domain-level connections; DCR and CIMD \
                 clients are always third-party",
                Step::DomainLevel {
                    connection_id: connection.id.clone(),
                },
            ));
        }
    }

    // 3. Default permissions for third-party apps: one `user` grant with every scope (unless
    //    the operator grants per client, e.g. through the webhook's callback allow-list).
    if setup.default_grant {
        let grant = mgmt
            .default_third_party_user_grant(&setup.resource)
            .await
            .map_err(|e| read_error(e, scopes::READ_GRANTS))?;
        let target = format!(
            "default grant for third-party clients (user) on {}",
            setup.resource
        );
        match grant.as_ref() {
            None => changes.push(pending(
                target,
                Action::Create,
                "absent".into(),
                format!("scopes {}", join(&setup.scopes)),
                "without default permissions, DCR and CIMD clients cannot get a user token for any \
                 API (unauthorized_client)",
                Step::CreateDefaultGrant(NewDefaultClientGrant {
                    default_for: THIRD_PARTY_CLIENTS.into(),
                    audience: setup.resource.clone(),
                    scope: setup.scopes.clone(),
                    subject_type: SubjectType::User,
                }),
            )),
            Some(grant) => {
                let lacking: Vec<&String> = setup
                    .scopes
                    .iter()
                    .filter(|s| !grant.scope.contains(s))
                    .collect();
                if lacking.is_empty() {
                    changes.push(Change::right(
                        target,
                        format!("scopes {}", join(&grant.scope)),
                        "third-party clients may ask users for every scope of the policy",
                    ));
                } else {
                    let mut scope = grant.scope.clone();
                    scope.extend(lacking.into_iter().cloned());
                    changes.push(pending(
                        target,
                        Action::Change,
                        format!("scopes {}", join(&grant.scope)),
                        format!("scopes {}", join(&scope)),
                        "a scope the grant lacks is cut from every third-party client's token; \
                         existing scopes are kept",
                        Step::WidenDefaultGrant {
                            grant_id: grant.id.clone(),
                            scope,
                        },
                    ));
                }
            }
        }
    }

    // 4. Tenant settings.
    let settings = mgmt
        .tenant_settings()
        .await
        .map_err(|e| read_error(e, scopes::READ_SETTINGS))?;
    settings_changes(setup, &settings, &mut changes, &mut warnings);

    // 5. CIMD clients.
    let mut registered = 0;
    for url in &setup.cimd_urls {
        let found = mgmt
            .find_cimd_client(url)
            .await
            .map_err(|e| read_error(e, scopes::READ_CLIENTS))?;
        let target = format!("CIMD client {url}");
        if let Some(client) = found {
            registered += 1;
            changes.push(Change::right(
                target,
                format!("registered as {}", client.client_id),
                "Auth0 resolves only CIMD URLs an admin registered",
            ));
            continue;
        }
        let will_be = match mgmt.preview_cimd_client(url).await {
            Ok(preview) => describe_preview(url, &preview, &mut warnings),
            // The preview only informs the plan; registering tells for sure.
            Err(e) => {
                warnings.push(format!("CIMD {url}: the preview failed ({e})"));
                "registered".to_owned()
            }
        };
        changes.push(pending(
            target,
            Action::Create,
            "not registered".into(),
            will_be,
            "ChatGPT and Claude use CIMD when the tenant advertises it, and Auth0 resolves \
             only registered CIMD URLs",
            Step::RegisterCimd { url: url.clone() },
        ));
    }

    let registration = RegistrationModes {
        dcr: settings.flags.enable_dynamic_client_registration == Some(true),
        dcr_security_mode: settings
            .dynamic_client_registration_security_mode
            .clone()
            .unwrap_or_else(|| "strict".into()),
        cimd_advertised: settings.client_id_metadata_document_supported == Some(true),
        cimd_registered: registered,
    };
    if registration.dcr && registration.dcr_security_mode == "permissive" {
        warnings.push(
            "DCR creates permissive third-party clients: their API access follows the API's \
             access policy, not only the default grant"
                .into(),
        );
    }

    let missing_scopes = match &granted {
        Some(granted) => {
            let needed: Vec<MissingScope> = changes
                .iter()
                .filter_map(|c| c.step.as_ref())
                .map(scopes::for_step)
                .collect();
            scopes::missing(&needed, granted)
        }
        None => Vec::new(),
    };
    if granted.is_none() {
        warnings.push(
            "the Management API token did not say which scopes it has: a missing write scope \
             shows only as a 403 while applying"
                .into(),
        );
    }
    Ok(Plan {
        changes,
        registration,
        missing_scopes,
        granted_scopes_known: granted.is_some(),
        warnings,
    })
}

fn describe_preview(
    url: &str,
    preview: &crate::auth0::management::CimdPreview,
    warnings: &mut Vec<String>,
) -> String {
    if !preview.errors.is_empty() {
        let errors: Vec<String> = preview.errors.iter().map(ToString::to_string).collect();
        warnings.push(format!(
            "CIMD {url}: Auth0 could not read the document: {}",
            errors.join("; ")
        ));
        return "registered (the preview could not read the document)".into();
    }
    if let Some(validation) = &preview.validation {
        if !validation.valid {
            warnings.push(format!(
                "CIMD {url}: Auth0 finds the document invalid: {}",
                validation.violations.join("; ")
            ));
        }
        for warning in &validation.warnings {
            warnings.push(format!("CIMD {url}: {warning}"));
        }
    }
    match preview.mapped_fields.get("name").and_then(|n| n.as_str()) {
        Some(name) => format!("CIMD client \"{name}\""),
        None => "registered".into(),
    }
}

fn settings_changes(
    setup: &TenantSetup,
    settings: &TenantSettings,
    changes: &mut Vec<Change>,
    warnings: &mut Vec<String>,
) {
    let mut setting = |name: &str, now: String, want: &str, right: bool, why: &str, patch| {
        let target = format!("tenant setting {name}");
        if right {
            changes.push(Change::right(target, now, why));
        } else {
            changes.push(pending(
                target,
                Action::Change,
                now,
                want.to_owned(),
                why,
                Step::TenantSettings(patch),
            ));
        }
    };
    let profile = settings.resource_parameter_profile.as_deref();
    setting(
        "resource_parameter_profile",
        profile.unwrap_or("absent (audience)").to_owned(),
        "compatibility",
        profile == Some("compatibility"),
        "ChatGPT sends the RFC 8707 `resource`, not `audience`: with the compatibility profile it \
         selects the API and Auth0 issues an RS256 JWT instead of an opaque or JWE token",
        TenantSettingsPatch {
            resource_parameter_profile: Some("compatibility".into()),
            ..TenantSettingsPatch::default()
        },
    );
    let iss = settings.authorization_response_iss_parameter_supported;
    setting(
        "authorization_response_iss_parameter_supported",
        show(iss),
        "true",
        iss == Some(true),
        "RFC 9207 `iss` in authorization responses: ChatGPT then uses its stable redirect and \
         its stable CIMD URL",
        TenantSettingsPatch {
            authorization_response_iss_parameter_supported: Some(true),
            ..TenantSettingsPatch::default()
        },
    );
    if !setup.cimd_urls.is_empty() {
        let cimd = settings.client_id_metadata_document_supported;
        setting(
            "client_id_metadata_document_supported",
            show(cimd),
            "true",
            cimd == Some(true),
            "CIMD URLs are configured: the metadata must advertise CIMD for clients to use it, \
             and Auth0 registers CIMD clients only with it on",
            TenantSettingsPatch {
                client_id_metadata_document_supported: Some(true),
                ..TenantSettingsPatch::default()
            },
        );
    } else if settings.client_id_metadata_document_supported == Some(true) {
        warnings.push(
            "the tenant advertises CIMD but no CIMD URL is configured: ChatGPT then uses CIMD \
             instead of DCR, and an unregistered CIMD URL cannot log in (set CIMD_CLIENT_IDS, \
             e.g. https://chatgpt.com/oauth/client.json)"
                .into(),
        );
    }
    let dcr = settings.flags.enable_dynamic_client_registration;
    let want = setup.dcr;
    setting(
        "flags.enable_dynamic_client_registration",
        show(dcr),
        if want { "true" } else { "false" },
        dcr.unwrap_or(false) == want,
        if want {
            "ChatGPT and Claude register themselves by DCR where CIMD is not used; the default \
             grant and the domain-level connection are what make those clients work"
        } else {
            "DCR is configured off: clients come through CIMD or are created by an admin"
        },
        TenantSettingsPatch {
            flags: Some(TenantFlags {
                enable_dynamic_client_registration: Some(want),
            }),
            ..TenantSettingsPatch::default()
        },
    );
}

fn show(value: Option<bool>) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "absent (false)".into(),
    }
}

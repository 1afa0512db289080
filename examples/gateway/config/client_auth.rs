//! How the gateway answers callers without a token (README, "ChatGPT, Claude and other
//! clients"): `PUBLIC_DISCOVERY`, `PUBLIC_TOOLS`, `AUTH_CHALLENGE`, `CHALLENGE_ALL_SCOPES`,
//! `HIDE_UNAUTHORIZED_TOOLS`. Scope implications (`SCOPE_IMPLIES`) belong to the policy.

use tower_mcp_auth::scope::ChallengeMode;

/// The dev-mode public tool, used when `PUBLIC_TOOLS` is unset in dev mode.
pub const DEV_PUBLIC_TOOL: &str = "status";

/// The settings for callers without a token, and how refusals are answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientAuth {
    /// `PUBLIC_DISCOVERY=true` (or implied by `PUBLIC_TOOLS`): `initialize`, `tools/list` and
    /// the other discovery methods need no token on `/mcp`.
    pub public_discovery: bool,
    /// `PUBLIC_TOOLS=a,b`: tools callable without a token (JSON-RPC and `POST /tools/{tool}`).
    pub public_tools: Vec<String>,
    /// `AUTH_CHALLENGE=http|tool-result`.
    pub challenge: ChallengeMode,
    /// `CHALLENGE_ALL_SCOPES=true`: every 401 asks for every scope of the policy.
    pub challenge_all_scopes: bool,
    /// `HIDE_UNAUTHORIZED_TOOLS=true`: `tools/list` shows each caller only what it may call.
    pub hide_unauthorized_tools: bool,
}

impl ClientAuth {
    /// True when some request may come without a token (the bearer layer is then optional).
    pub fn has_public_operations(&self) -> bool {
        self.public_discovery || !self.public_tools.is_empty()
    }
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &str, problems: &mut Vec<String>) -> bool {
    match get(name).as_deref() {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(other) => {
            problems.push(format!(
                "{name} `{other}` must be true or false (or 1 or 0)"
            ));
            false
        }
    }
}

/// Reads the variables; in dev mode without `PUBLIC_TOOLS`, [`DEV_PUBLIC_TOOL`] is public.
pub(super) fn client_auth(
    get: &impl Fn(&str) -> Option<String>,
    dev: bool,
    problems: &mut Vec<String>,
) -> ClientAuth {
    let public_tools: Vec<String> = match get("PUBLIC_TOOLS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|tool| !tool.is_empty())
            .map(str::to_owned)
            .collect(),
        None if dev => vec![DEV_PUBLIC_TOOL.to_owned()],
        None => Vec::new(),
    };
    for tool in &public_tools {
        if !crate::proxy::is_tool_name(tool) {
            problems.push(format!(
                "PUBLIC_TOOLS: `{tool}` is not a tool name (letters, digits, `-`, `_` and `.`)"
            ));
        }
    }
    let challenge = match get("AUTH_CHALLENGE").as_deref() {
        None | Some("http") => ChallengeMode::Http,
        Some("tool-result") => ChallengeMode::ToolResult,
        Some(other) => {
            problems.push(format!(
                "AUTH_CHALLENGE `{other}` must be `http` (Claude and the MCP spec) or `tool-result` (ChatGPT)"
            ));
            ChallengeMode::Http
        }
    };
    ClientAuth {
        // A public tool is unreachable unless the client may initialize first.
        public_discovery: flag(get, "PUBLIC_DISCOVERY", problems) || !public_tools.is_empty(),
        public_tools,
        challenge,
        challenge_all_scopes: flag(get, "CHALLENGE_ALL_SCOPES", problems),
        hide_unauthorized_tools: flag(get, "HIDE_UNAUTHORIZED_TOOLS", problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)], dev: bool) -> (ClientAuth, Vec<String>) {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        let get = |name: &str| map.get(name).map(|v| v.to_string());
        let mut problems = Vec::new();
        (client_auth(&get, dev, &mut problems), problems)
    }

    #[test]
    fn nothing_set_in_production_is_todays_behaviour() {
        let (auth, problems) = read(&[], false);
        assert_eq!(auth, ClientAuth::default());
        assert!(problems.is_empty() && !auth.has_public_operations());
    }

    #[test]
    fn public_tools_imply_public_discovery_and_dev_mode_shows_one() {
        let (auth, _) = read(&[("PUBLIC_TOOLS", "search, status")], false);
        assert!(auth.public_discovery);
        assert_eq!(auth.public_tools, ["search", "status"]);
        let (auth, _) = read(&[], true);
        assert_eq!(auth.public_tools, [DEV_PUBLIC_TOOL]);
    }

    #[test]
    fn every_variable_is_read_and_bad_values_are_reported() {
        let (auth, problems) = read(
            &[
                ("PUBLIC_DISCOVERY", "true"),
                ("AUTH_CHALLENGE", "tool-result"),
                ("CHALLENGE_ALL_SCOPES", "1"),
                ("HIDE_UNAUTHORIZED_TOOLS", "true"),
            ],
            false,
        );
        assert!(problems.is_empty());
        assert_eq!(
            auth,
            ClientAuth {
                public_discovery: true,
                public_tools: Vec::new(),
                challenge: ChallengeMode::ToolResult,
                challenge_all_scopes: true,
                hide_unauthorized_tools: true,
            }
        );
        let (_, problems) = read(
            &[
                ("AUTH_CHALLENGE", "chatgpt"),
                ("PUBLIC_TOOLS", "a/b"),
                ("HIDE_UNAUTHORIZED_TOOLS", "yes"),
            ],
            false,
        );
        assert_eq!(
            problems,
            [
                "PUBLIC_TOOLS: `a/b` is not a tool name (letters, digits, `-`, `_` and `.`)",
                "AUTH_CHALLENGE `chatgpt` must be `http` (Claude and the MCP spec) or `tool-result` (ChatGPT)",
                "HIDE_UNAUTHORIZED_TOOLS `yes` must be true or false (or 1 or 0)",
            ]
        );
    }
}

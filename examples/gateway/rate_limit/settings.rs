//! `RATE_LIMIT_PER_USER`, `RATE_LIMIT_PER_CLIENT` (`N/sec`, `N/min`, `N/hour`) and
//! `RATE_LIMIT_PER_TOOL` (`tool=N/min;other=N/sec`), read and checked whole.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;

/// `N` requests per period, allowed in a burst of `N` and replenished evenly (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    pub fn quota(self) -> Quota {
        // `per / count` is never zero: `count` ≤ u32::MAX and `per` ≥ 1 s.
        let interval = self.per / self.count.get();
        Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "sec",
            60 => "min",
            _ => "hour",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// The configured limits; all `None`/empty means no rate limiting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub per_user: Option<Rate>,
    pub per_client: Option<Rate>,
    /// Per user and tool: each caller may call that tool this often.
    pub per_tool: Vec<(String, Rate)>,
}

impl RateLimitSettings {
    pub fn is_empty(&self) -> bool {
        self.per_user.is_none() && self.per_client.is_none() && self.per_tool.is_empty()
    }
}

/// `60/min`, `5/sec`, `1000/hour` (also `s`, `second`, `m`, `minute`, `h`).
pub fn parse_rate(raw: &str) -> Result<Rate, String> {
    let (count, unit) = raw
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("`{raw}` is not N/sec, N/min or N/hour"))?;
    let count: NonZeroU32 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{raw}`: `{count}` is not a positive whole number"))?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => return Err(format!("`{raw}`: unit `{other}` is not sec, min or hour")),
    };
    Ok(Rate { count, per })
}

/// Reads the three variables through `get`, adding every problem to `problems`.
pub fn from_env(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> RateLimitSettings {
    let mut rate = |name: &str| {
        get(name).and_then(|raw| {
            parse_rate(&raw)
                .map_err(|e| problems.push(format!("{name} {e}")))
                .ok()
        })
    };
    let per_user = rate("RATE_LIMIT_PER_USER");
    let per_client = rate("RATE_LIMIT_PER_CLIENT");
    let mut per_tool = Vec::new();
    if let Some(raw) = get("RATE_LIMIT_PER_TOOL") {
        for item in raw.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((tool, rate)) = item.split_once('=') else {
                problems.push(format!(
                    "RATE_LIMIT_PER_TOOL `{item}` is not tool=N/min (items are `;`-separated)"
                ));
                continue;
            };
            let tool = tool.trim();
            match parse_rate(rate) {
                Ok(_) if tool.is_empty() => {
                    problems.push(format!("RATE_LIMIT_PER_TOOL `{item}` names no tool"))
                }
                Ok(_) if per_tool.iter().any(|(t, _)| t == tool) => {
                    problems.push(format!("RATE_LIMIT_PER_TOOL names `{tool}` twice"))
                }
                Ok(rate) => per_tool.push((tool.to_owned(), rate)),
                Err(e) => problems.push(format!("RATE_LIMIT_PER_TOOL {e}")),
            }
        }
    }
    RateLimitSettings {
        per_user,
        per_client,
        per_tool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> (RateLimitSettings, Vec<String>) {
        let get = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut problems = Vec::new();
        (from_env(&get, &mut problems), problems)
    }

    #[test]
    fn rates_read_in_every_unit() {
        let rate = |raw| parse_rate(raw).unwrap();
        assert_eq!(rate("60/min").per, Duration::from_secs(60));
        assert_eq!(rate(" 5 / sec ").count.get(), 5);
        assert_eq!(rate("1000/hour").per, Duration::from_secs(3600));
        assert_eq!(rate("60/min").to_string(), "60/min");
        for bad in ["60", "0/min", "-1/min", "ten/min", "5/day", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn all_three_variables_are_read() {
        let (settings, problems) = settings(&[
            ("RATE_LIMIT_PER_USER", "60/min"),
            ("RATE_LIMIT_PER_CLIENT", "600/min"),
            ("RATE_LIMIT_PER_TOOL", "search=10/min; docs.create=2/sec;"),
        ]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(settings.per_user, Some(parse_rate("60/min").unwrap()));
        assert_eq!(settings.per_client, Some(parse_rate("600/min").unwrap()));
        assert_eq!(
            settings.per_tool,
            [
                ("search".to_owned(), parse_rate("10/min").unwrap()),
                ("docs.create".to_owned(), parse_rate("2/sec").unwrap())
            ]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, problems) = settings(&[
            ("RATE_LIMIT_PER_USER", "60"),
            (
                "RATE_LIMIT_PER_TOOL",
                "search;=1/min;a=1/min;a=2/min;b=0/sec",
            ),
        ]);
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(
            problems[0].starts_with("RATE_LIMIT_PER_USER `60`"),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_quota_allows_its_burst_then_one_per_interval() {
        let quota = parse_rate("60/min").unwrap().quota();
        assert_eq!(quota.burst_size().get(), 60);
        assert_eq!(quota.replenish_interval(), Duration::from_secs(1));
    }
}

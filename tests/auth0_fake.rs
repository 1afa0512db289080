//! The fake Auth0 tells the truth: its refusals and shapes, checked over HTTP as any client
//! would see them. Each test names the behaviour and its source is named in the fake's code
//! (`tests/support/fake_auth0/`). Tests elsewhere build on these; a later change to the fake
//! must keep them.
#![cfg(feature = "auth0")]

mod support;
use support::fake_auth0;

use fake_auth0::{
    FakeAuth0, FaultKind, LoginRefusal, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, Population, TENANT,
    ThirdPartyEnable, chatgpt_client, tpc_id,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const API: &str = "https://gateway.example.com/mcp";

struct Http {
    fake: FakeAuth0,
    http: reqwest::Client,
    token: String,
}

impl Http {
    async fn new(fake: FakeAuth0) -> Self {
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{}/oauth/token", fake.base_url))
            .json(
                &json!({"grant_type": "client_credentials", "client_id": MGMT_CLIENT_ID,
                          "client_secret": MGMT_CLIENT_SECRET,
                          "audience": format!("https://{TENANT}/api/v2/")}),
            )
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let token = token["access_token"].as_str().expect("token").to_owned();
        Self { fake, http, token }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v2/{path}", self.fake.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answer");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

async fn tenant() -> Http {
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.add_api(API, &["docs.read", "docs.write"]);
    Http::new(fake).await
}

#[tokio::test]
async fn strict_client_patch_of_ownership_is_refused_whole_and_unchanged_values_pass() {
    let t = tenant().await;
    let id = tpc_id("patch");
    t.fake
        .add_client(chatgpt_client(Population::StrictDcr, &id));
    let before = t.fake.client(&id);
    for body in [
        json!({"is_first_party": true, "name": "renamed"}),
        json!({"third_party_security_mode": "permissive"}),
        json!({"grant_types": ["authorization_code", "implicit"]}),
        json!({"app_type": "box"}),
        json!({"jwt_configuration": {"alg": "HS256"}}),
        json!({"sso": true}),
    ] {
        let (status, _, answer) = t
            .call(
                reqwest::Method::PATCH,
                &format!("clients/{id}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["statusCode"], 400);
        assert_eq!(answer["error"], "Bad Request");
        assert!(answer["errorCode"].is_string() && answer["message"].is_string());
        assert_eq!(t.fake.client(&id), before, "{body}: nothing applied");
    }
    let (status, _, answer) = t
        .call(reqwest::Method::PATCH, &format!("clients/{id}"),
              Some(json!({"is_first_party": false, "third_party_security_mode": "strict", "name": "ChatGPT 2"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["name"], "ChatGPT 2");
}

#[tokio::test]
async fn legacy_client_ownership_can_change_and_permissive_follows_its_knob() {
    let t = tenant().await;
    t.fake
        .add_client(chatgpt_client(Population::LegacyDcr, "legacy1"));
    t.fake
        .add_client(chatgpt_client(Population::PermissiveDcr, "perm1"));
    let (status, _, answer) = t
        .call(
            reqwest::Method::PATCH,
            "clients/legacy1",
            Some(json!({"is_first_party": true})),
        )
        .await;
    assert_eq!(
        (status, answer["is_first_party"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (status, _, _) = t
        .call(
            reqwest::Method::PATCH,
            "clients/perm1",
            Some(json!({"is_first_party": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    t.fake
        .knobs(|k| k.permissive_refuses_ownership_change = false);
    let (status, _, _) = t
        .call(
            reqwest::Method::PATCH,
            "clients/perm1",
            Some(json!({"is_first_party": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn grants_default_to_the_client_subject_and_are_unique_per_subject_type() {
    let t = tenant().await;
    let id = tpc_id("grants");
    let post = |body: Value| t.call(reqwest::Method::POST, "client-grants", Some(body));
    let (status, _, machine) =
        post(json!({"client_id": id, "audience": API, "scope": ["docs.read"]})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(machine["subject_type"], "client");
    let (status, _, user) = post(
        json!({"client_id": id, "audience": API, "scope": ["docs.read"], "subject_type": "user"}),
    )
    .await;
    assert_eq!(
        (status, user["subject_type"].clone()),
        (StatusCode::CREATED, json!("user"))
    );
    let (status, _, conflict) =
        post(json!({"client_id": id, "audience": API, "scope": [], "subject_type": "user"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        conflict,
        json!({"statusCode": 409, "error": "Conflict",
        "message": format!("A client grant already exists between {id} and {API}")})
    );
    let (status, _, default) = post(json!({"default_for": "third_party_clients", "audience": API, "scope": ["docs.read"], "subject_type": "user"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(default.get("client_id").is_none());
    let (status, _, _) = post(json!({"default_for": "third_party_clients", "audience": API, "scope": [], "subject_type": "user"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for bad in [
        json!({"client_id": id, "default_for": "third_party_clients", "audience": API}),
        json!({"audience": API, "scope": []}),
        json!({"client_id": id, "audience": API, "subject_type": "robot"}),
        json!({"client_id": id, "audience": API, "unknown": 1}),
    ] {
        assert_eq!(post(bad.clone()).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _, missing) =
        post(json!({"client_id": id, "audience": "https://nope", "scope": []})).await;
    assert_eq!(
        (status, missing["errorCode"].clone()),
        (StatusCode::NOT_FOUND, json!("inexistent_resource_server"))
    );
}

#[tokio::test]
async fn grant_lists_filter_and_take_all_three_shapes_and_patch_takes_only_its_fields() {
    let t = tenant().await;
    let user = t.fake.add_grant("c1", API, &["docs.read"], "user");
    t.fake.add_grant("c1", API, &["docs.read"], "client");
    t.fake.add_default_user_grant(API, &["docs.read"]);
    let (_, _, list) = t
        .call(
            reqwest::Method::GET,
            &format!("client-grants?client_id=c1&audience={API}&subject_type=user"),
            None,
        )
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], user.as_str());
    let (_, _, defaults) = t
        .call(
            reqwest::Method::GET,
            "client-grants?default_for=third_party_clients",
            None,
        )
        .await;
    assert_eq!(defaults.as_array().map(Vec::len), Some(1));
    let (_, _, totals) = t
        .call(
            reqwest::Method::GET,
            "client-grants?include_totals=true&per_page=2",
            None,
        )
        .await;
    assert_eq!(
        (
            totals["total"].clone(),
            totals["client_grants"].as_array().map(Vec::len)
        ),
        (json!(3), Some(2))
    );
    let (_, _, page) = t
        .call(reqwest::Method::GET, "client-grants?take=2", None)
        .await;
    assert!(page["next"].is_string());
    assert_eq!(page["client_grants"].as_array().map(Vec::len), Some(2));

    let path = format!("client-grants/{user}");
    let patch = |body: Value| t.call(reqwest::Method::PATCH, &path, Some(body));
    assert_eq!(patch(json!({})).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        patch(json!({"subject_type": "client"})).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, _, patched) = patch(json!({"scope": ["docs.read", "docs.write"]})).await;
    assert_eq!(
        (status, patched["scope"].clone()),
        (StatusCode::OK, json!(["docs.read", "docs.write"]))
    );
}

#[tokio::test]
async fn missing_scopes_are_403_in_auth0_shape_including_the_and_rule() {
    let fake = FakeAuth0::start().await;
    fake.add_client(chatgpt_client(Population::LegacyDcr, "c1"));
    fake.set_mgmt_scopes(&["read:clients"]);
    let t = Http::new(fake).await;
    let (status, _, answer) = t
        .call(reqwest::Method::GET, "clients/c1/connections", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        json!({"statusCode": 403, "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:connections",
        "errorCode": "insufficient_scope"})
    );
    assert_eq!(
        t.call(reqwest::Method::GET, "clients/c1", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.call(
            reqwest::Method::PATCH,
            "clients/c1",
            Some(json!({"name": "x"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn rate_limits_send_epoch_reset_without_retry_after_and_expired_tokens_the_recorded_401() {
    let t = tenant().await;
    t.fake.inject(
        None,
        "/api/v2/",
        1,
        FaultKind::RateLimited { reset_in_secs: 30 },
    );
    let (status, headers, body) = t.call(reqwest::Method::GET, "connections", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let reset: u64 = headers["x-ratelimit-reset"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("epoch");
    assert!(reset > now && reset <= now + 31, "{reset} vs {now}");
    assert_eq!(body["errorCode"], "too_many_requests");
    t.fake.expire_tokens();
    let (status, _, body) = t.call(reqwest::Method::GET, "connections", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.get("errorCode").is_none());
    assert_eq!(
        body["attributes"]["error"],
        "Expired token received for JSON Web Token validation"
    );
}

#[tokio::test]
async fn connections_carry_the_domain_flag_and_third_party_enables_follow_the_knob() {
    let t = tenant().await;
    let id = tpc_id("conn");
    t.fake
        .add_client(chatgpt_client(Population::StrictDcr, &id));
    let (_, _, list) = t
        .call(reqwest::Method::GET, "connections?name=google-oauth2", None)
        .await;
    assert_eq!(list[0]["is_domain_connection"], false);
    let enable = json!([{"client_id": id, "status": true}]);
    let (status, _, _) = t
        .call(
            reqwest::Method::PATCH,
            "connections/con_google/clients",
            Some(enable.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        t.fake.enabled_clients("con_google").is_empty(),
        "not persisted for a third-party client"
    );
    t.fake
        .knobs(|k| k.third_party_enable = ThirdPartyEnable::Refused);
    assert_eq!(
        t.call(
            reqwest::Method::PATCH,
            "connections/con_google/clients",
            Some(enable)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.fake.can_log_in(&id, API, "google-oauth2", &["docs.read"]),
        Err(LoginRefusal::ConnectionNotDomainLevel)
    );
    let (status, _, promoted) = t
        .call(
            reqwest::Method::PATCH,
            "connections/con_google",
            Some(json!({"is_domain_connection": true})),
        )
        .await;
    assert_eq!(
        (status, promoted["is_domain_connection"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(
        t.fake.can_log_in(&id, API, "google-oauth2", &["docs.read"]),
        Err(LoginRefusal::NoUserGrant)
    );
    t.fake.add_default_user_grant(API, &["docs.read"]);
    assert_eq!(
        t.fake.can_log_in(&id, API, "google-oauth2", &["docs.read"]),
        Ok(())
    );
    assert_eq!(
        t.fake
            .can_log_in(&id, API, "google-oauth2", &["docs.read", "docs.write"]),
        Err(LoginRefusal::ScopesNotGranted(vec!["docs.write".into()]))
    );
    // A per-client user grant takes precedence over the default one.
    t.fake.add_grant(&id, API, &["docs.write"], "user");
    assert_eq!(
        t.fake.can_log_in(&id, API, "google-oauth2", &["docs.read"]),
        Err(LoginRefusal::ScopesNotGranted(vec!["docs.read".into()]))
    );
}

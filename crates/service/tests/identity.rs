//! The identity provider's tokens: RS256 with a JWKS (keys cached, fetched again for an unknown
//! `kid`), HS256 with a shared secret, `iss` and `aud` checked; every bad token is 401.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use gymchat_service::IdentityConfig;
use gymchat_store::{DbFixture, Store};
use gymchat_testkit::{TestDb, read_fixture};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod support;

use support::*;

/// A test-only RSA key (PKCS#1 DER) and its JWKS; they protect nothing.
const PRIVATE_KEY: &[u8] = include_bytes!("keys/idp-test-key.der");
const JWKS: &str = include_str!("keys/idp-test-jwks.json");
const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "https://api.gymchat.example.test";

/// A JWKS endpoint whose document can be changed, counting how often it is fetched.
struct Jwks {
    url: String,
    document: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks_server(document: Value) -> Jwks {
    let document = Arc::new(Mutex::new(document));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (doc, count) = (Arc::clone(&document), Arc::clone(&fetches));
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let (doc, count) = (Arc::clone(&doc), Arc::clone(&count));
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::Json(doc.lock().await.clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Jwks { url, document, fetches }
}

/// The test key's JWKS with its key under `kid`.
fn jwks_with_kid(kid: &str) -> Value {
    let mut set: Value = serde_json::from_str(JWKS).unwrap();
    set["keys"][0]["kid"] = json!(kid);
    set
}

fn rs256(kid: Option<&str>, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, &claims, &EncodingKey::from_rsa_der(PRIVATE_KEY)).unwrap()
}

fn claims(iss: &str, aud: &str, exp_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": ANA, "iss": iss, "aud": aud, "iat": now, "exp": now + exp_in, "permissions": ["resource:read"] })
}

async fn my_rooms(url: &str, token: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .get(format!("{url}/api/v1/chat/my-rooms"))
        .bearer_auth(token)
        .header("X-Gym-ID", "4")
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn scenario(db: &TestDb) {
    let store = Store::open(db.url()).await.unwrap();
    store.load_fixture(&DbFixture::from_json(&read_fixture("gym4.json")).unwrap()).await.unwrap();
}

#[tokio::test]
async fn rs256_tokens_are_checked_against_the_providers_keys_fetched_again_for_an_unknown_kid() {
    let db = TestDb::sqlite().await;
    scenario(&db).await;
    let sandbox = sandbox().await;
    let sandbox_url = sandbox.url.clone();
    // The provider publishes the key under another id at first (before a rotation).
    let jwks = jwks_server(jwks_with_kid("old-key")).await;
    let identity = IdentityConfig::Jwks {
        url: jwks.url.clone(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        refetch_interval: Duration::from_millis(300),
    };
    let (url, _service) = start_service_with(db.url(), &sandbox_url, identity).await;
    let good = rs256(Some("test-key-1"), claims(ISSUER, AUDIENCE, 600));

    let (status, body) = my_rooms(&url, &good).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["detail"], "Invalid kid header (wrong tenant or rotated public key)");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // The provider rotates: the next token with the new kid makes the service fetch again.
    *jwks.document.lock().await = jwks_with_kid("test-key-1");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = my_rooms(&url, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    // Known keys are cached.
    assert_eq!(my_rooms(&url, &good).await.0, StatusCode::OK);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);

    // Wrong audience, wrong issuer, expired, no kid, `alg: none`, an HS256 token signed with the
    // public key's text (algorithm confusion): all 401.
    let public_text = JWKS.as_bytes();
    let hs256 =
        encode(&Header::new(Algorithm::HS256), &claims(ISSUER, AUDIENCE, 600), &EncodingKey::from_secret(public_text))
            .unwrap();
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none =
        format!("{}.{}.", b64(&json!({ "alg": "none", "kid": "test-key-1" })), b64(&claims(ISSUER, AUDIENCE, 600)));
    let bad = [
        (
            "wrong audience",
            rs256(Some("test-key-1"), claims(ISSUER, "https://other.example.test", 600)),
            "Invalid token claims: ",
        ),
        (
            "wrong issuer",
            rs256(Some("test-key-1"), claims("https://evil.example.test/", AUDIENCE, 600)),
            "Invalid token claims: ",
        ),
        ("expired", rs256(Some("test-key-1"), claims(ISSUER, AUDIENCE, -3600)), "Expired token"),
        ("no kid", rs256(None, claims(ISSUER, AUDIENCE, 600)), "Malformed token header: missing kid"),
        ("alg none", none, "Malformed token: "),
        ("HS256 with the public key (and no kid)", hs256, "Malformed token header: missing kid"),
    ];
    for (what, token, detail) in bad {
        let (status, body) = my_rooms(&url, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert!(body["detail"].as_str().unwrap().starts_with(detail), "{what}: {body}");
    }
    // A token without the route's scope is 403 with the challenge header.
    let mut no_scope = claims(ISSUER, AUDIENCE, 600);
    no_scope["permissions"] = json!([]);
    let response = reqwest::Client::new()
        .get(format!("{url}/api/v1/chat/my-rooms"))
        .bearer_auth(rs256(Some("test-key-1"), no_scope))
        .header("X-Gym-ID", "4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["www-authenticate"], "Bearer scope=\"resource:read\"");
    assert_eq!(response.json::<Value>().await.unwrap()["detail"], "Missing \"resource:read\" scope");
}

#[tokio::test]
async fn hs256_tokens_must_name_the_configured_issuer_and_audience() {
    let db = TestDb::sqlite().await;
    scenario(&db).await;
    let sandbox = sandbox().await;
    let sandbox_url = sandbox.url.clone();
    let identity = IdentityConfig::Hs256 {
        secret: JWT_SECRET.into(),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
    };
    let (url, _service) = start_service_with(db.url(), &sandbox_url, identity).await;
    let sign = |c: Value| encode(&Header::default(), &c, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap();
    assert_eq!(my_rooms(&url, &sign(claims(ISSUER, AUDIENCE, 600))).await.0, StatusCode::OK);
    assert_eq!(my_rooms(&url, &sign(claims(ISSUER, "other", 600))).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(my_rooms(&url, &sign(claims("other", AUDIENCE, 600))).await.0, StatusCode::UNAUTHORIZED);
    // A token without `exp` is refused too.
    let no_exp = sign(json!({ "sub": ANA, "iss": ISSUER, "aud": AUDIENCE }));
    assert_eq!(my_rooms(&url, &no_exp).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_provider_that_is_down_is_not_asked_again_on_every_request() {
    let db = TestDb::sqlite().await;
    scenario(&db).await;
    let sandbox = sandbox().await;
    let sandbox_url = sandbox.url.clone();
    // The identity provider answers 500 to every fetch of its keys, counting them.
    let fetches = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&fetches);
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let count = Arc::clone(&count);
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let identity = IdentityConfig::Jwks {
        url: jwks_url,
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        refetch_interval: Duration::from_millis(500),
    };
    let (url, _service) = start_service_with(db.url(), &sandbox_url, identity).await;
    let token = rs256(Some("test-key-1"), claims(ISSUER, AUDIENCE, 600));
    for _ in 0..5 {
        let (status, body) = my_rooms(&url, &token).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "five requests, one fetch while the provider is down");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(my_rooms(&url, &token).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "asked again once the interval passed");
}

//! Talking to a registry: the OCI distribution API over HTTP(S), and the anonymous
//! token dance Docker Hub asks for.
//!
//! Two requests matter: `GET /v2/<name>/manifests/<tag or digest>` and
//! `GET /v2/<name>/blobs/<digest>`. A registry that wants a token answers 401 with
//! `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`: we ask the realm
//! for a token for that service and scope (anonymously), and send it again with
//! `Authorization: Bearer <token>`.

use super::ImageError;
use super::reference::Reference;
use std::io::Read;
use std::time::Duration;
use ureq::Agent;

/// The largest manifest or config we accept (real ones are a few kB).
const DOCUMENT_LIMIT: u64 = 4 * 1024 * 1024;

/// A registry's answer: its status, its `Content-Type`, `Docker-Content-Digest`
/// and body.
pub struct Answer {
    pub content_type: Option<String>,
    pub digest: Option<String>,
    pub body: ureq::Body,
}

/// One repository on one registry, with the token it gave us, if any.
pub struct Registry {
    agent: Agent,
    /// `https://registry-1.docker.io/v2/library/busybox`.
    base: String,
    /// For messages: `docker.io/library/busybox:latest`.
    reference: String,
    host: String,
    token: Option<String>,
}

impl Registry {
    /// A client for the reference's repository: plain HTTP for a registry on this
    /// machine, HTTPS anywhere else.
    pub fn new(reference: &Reference) -> Registry {
        let scheme = if reference.is_local() {
            "http"
        } else {
            "https"
        };
        let host = reference.api_host().to_string();
        let config = Agent::config_builder()
            // A 401 or 404 is an answer we read, not an error.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build();
        Registry {
            agent: config.into(),
            base: format!("{scheme}://{host}/v2/{}", reference.path),
            reference: reference.to_string(),
            host,
            token: None,
        }
    }

    /// `GET …/manifests/<tag or digest>`, accepting both OCI's and Docker's
    /// manifests and indexes.
    pub fn manifest(&mut self, tag_or_digest: &str) -> Result<Answer, ImageError> {
        let url = format!("{}/manifests/{tag_or_digest}", self.base);
        self.get(&url, &super::manifest::ACCEPTED.join(", "))
    }

    /// `GET …/blobs/<digest>`. (The registry may redirect to a storage service;
    /// ureq follows, and does not send our token there.)
    pub fn blob(&mut self, digest: &str) -> Result<Answer, ImageError> {
        let url = format!("{}/blobs/{digest}", self.base);
        self.get(&url, "*/*")
    }

    /// A manifest or config, whole.
    pub fn read_document(answer: Answer, what: &str) -> Result<Vec<u8>, ImageError> {
        let mut body = answer.body;
        body.with_config()
            .limit(DOCUMENT_LIMIT)
            .read_to_vec()
            .map_err(|e| ImageError::BadDocument {
                what: what.to_string(),
                why: e.to_string(),
            })
    }

    /// GETs a URL, getting a token first if the registry asks for one.
    fn get(&mut self, url: &str, accept: &str) -> Result<Answer, ImageError> {
        let mut response = self.send(url, accept)?;
        if response.status() == 401 && self.token.is_none() {
            let challenge =
                header(&response, "www-authenticate").unwrap_or_default();
            self.token = Some(self.fetch_token(&challenge)?);
            response = self.send(url, accept)?;
        }
        match response.status().as_u16() {
            200 => Ok(Answer {
                content_type: header(&response, "content-type"),
                digest: header(&response, "docker-content-digest"),
                body: response.into_body(),
            }),
            401 | 403 => Err(ImageError::Unauthorized {
                registry: self.host.clone(),
                reference: self.reference.clone(),
            }),
            404 => Err(ImageError::NotFound {
                reference: self.reference.clone(),
            }),
            status => {
                let mut text = String::new();
                let _ = response
                    .into_body()
                    .into_reader()
                    .take(200)
                    .read_to_string(&mut text);
                Err(ImageError::Registry {
                    url: url.to_string(),
                    status,
                    text: text.trim().replace('\n', " "),
                })
            }
        }
    }

    /// One GET, with our token if we have one.
    fn send(
        &self,
        url: &str,
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ImageError> {
        let mut request = self.agent.get(url).header("Accept", accept);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request.call().map_err(|e| self.unreachable(e))
    }

    /// Asks the challenge's realm for an anonymous token:
    /// `GET <realm>?service=<service>&scope=<scope>`, which answers
    /// `{"token": "…"}` (some servers say `access_token`).
    fn fetch_token(&self, challenge: &str) -> Result<String, ImageError> {
        let unauthorized = || ImageError::Unauthorized {
            registry: self.host.clone(),
            reference: self.reference.clone(),
        };
        let parameters =
            parse_bearer_challenge(challenge).ok_or_else(unauthorized)?;
        let find = |key: &str| {
            let found = parameters.iter().find(|(name, _)| name == key);
            found.map(|(_, value)| value.as_str())
        };
        let realm = find("realm").ok_or_else(unauthorized)?;
        let mut query = Vec::new();
        for key in ["service", "scope"] {
            if let Some(value) = find(key) {
                query.push(format!("{key}={}", percent_encode(value)));
            }
        }
        let url = format!("{realm}?{}", query.join("&"));
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        if response.status() != 200 {
            return Err(unauthorized());
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(DOCUMENT_LIMIT)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        let answer: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| unauthorized())?;
        let token = answer.get("token").or_else(|| answer.get("access_token"));
        token
            .and_then(|token| token.as_str())
            .map(str::to_string)
            .ok_or_else(unauthorized)
    }

    /// The error for a registry we could not talk to.
    fn unreachable(&self, error: ureq::Error) -> ImageError {
        ImageError::Unreachable {
            registry: self.host.clone(),
            cause: error.to_string(),
        }
    }
}

/// A response header as text.
fn header(
    response: &ureq::http::Response<ureq::Body>,
    name: &str,
) -> Option<String> {
    let value = response.headers().get(name)?.to_str().ok()?;
    Some(value.to_string())
}

/// The parameters of `Bearer realm="…",service="…",scope="…"`. Values are quoted
/// strings, which may hold commas (`scope="repository:a/b:pull,push"`), so we
/// cannot just split on `,`.
pub fn parse_bearer_challenge(challenge: &str) -> Option<Vec<(String, String)>> {
    let (scheme, mut rest) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parameters = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() {
            return Some(parameters);
        }
        let (name, after) = rest.split_once('=')?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (value, after) = quoted.split_once('"')?;
                (value, after)
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        parameters.push((name.trim().to_ascii_lowercase(), value.to_string()));
        rest = after;
    }
}

/// Percent-encodes a query value (all but letters, digits and `-._~`).
fn percent_encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A registry that wants a token, as Docker Hub does, on 127.0.0.1: it
    /// answers `answers` requests, one per connection, and sends back each
    /// request's first line and `Authorization` header.
    fn token_registry(answers: usize) -> (u16, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if request.is_empty() || lower.starts_with("authorization") {
                        request.push_str(line.trim());
                        request.push(' ');
                    }
                }
                let answer = if request.contains("/token?") {
                    (200, String::new(), r#"{"token":"t0k3n"}"#.to_string())
                } else if request.contains("Bearer t0k3n") {
                    (200, String::new(), "{}".to_string())
                } else {
                    let challenge = format!(
                        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",\
                         service=\"test\",scope=\"repository:a/b:pull\"\r\n"
                    );
                    (401, challenge, String::new())
                };
                let (status, headers, body) = answer;
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                seen.send(request.trim().to_string()).unwrap();
            }
        });
        (port, requests)
    }

    #[test]
    fn asks_the_realm_for_a_token_and_sends_it() {
        let (port, requests) = token_registry(3);
        let reference =
            Reference::parse(&format!("127.0.0.1:{port}/a/b:v1")).unwrap();
        let mut registry = Registry::new(&reference);
        let answer = registry.manifest("v1").unwrap();
        assert_eq!(Registry::read_document(answer, "m").unwrap(), b"{}");
        let requests: Vec<String> = requests.iter().take(3).collect();
        assert_eq!(requests[0], "GET /v2/a/b/manifests/v1 HTTP/1.1");
        assert_eq!(
            requests[1],
            "GET /token?service=test&scope=repository%3Aa%2Fb%3Apull HTTP/1.1"
        );
        assert_eq!(
            requests[2],
            "GET /v2/a/b/manifests/v1 HTTP/1.1 authorization: Bearer t0k3n"
        );
    }

    #[test]
    fn parses_docker_hubs_challenge() {
        let challenge = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#;
        let parameters = parse_bearer_challenge(challenge).unwrap();
        let expected = [
            ("realm", "https://auth.docker.io/token"),
            ("service", "registry.docker.io"),
            ("scope", "repository:library/busybox:pull,push"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(parameters, expected);
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
    }

    #[test]
    fn percent_encodes_the_scope() {
        assert_eq!(
            percent_encode("repository:library/busybox:pull"),
            "repository%3Alibrary%2Fbusybox%3Apull"
        );
    }
}

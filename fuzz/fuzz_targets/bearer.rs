//! The bearer header parser: any `Authorization` value is accepted as a well-formed token
//! or refused with an error that never repeats what followed the scheme (it may be a
//! credential).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_mcp_server::auth::bearer;
use remote_mcp_server::http::{Headers, Method, Request};

fuzz_target!(|value: &str| {
    let mut headers = Headers::new();
    headers.append("authorization", value);
    let request = Request::new(
        Method::Post,
        "/mcp",
        headers,
        None,
        Box::new(std::io::empty()),
    );
    match bearer::extract(&request) {
        Ok((header, token)) => {
            assert_eq!(header, value);
            assert!(!token.is_empty());
            assert!(value.len() > token.len());
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)));
        }
        Err(error) => {
            let (scheme, credential) = value
                .split_once(' ')
                .map_or((value, ""), |(scheme, rest)| (scheme, rest.trim()));
            // The scheme may be echoed (when it looks like one); the rest of every message
            // is fixed text. A credential that is part of the fixed text is not a leak.
            let description = redact(&error.description(), scheme);
            if credential.len() >= 8 && !fixed_text().contains(credential) {
                assert!(
                    !description.contains(credential),
                    "the error repeats the credential: {description}"
                );
            }
            assert!(matches!(error.status(), 400 | 401));
        }
    }
});

/// A message with the echoed scheme blanked out.
fn redact(description: &str, scheme: &str) -> String {
    description.replace(&format!("uses the {scheme} scheme"), "uses the \0 scheme")
}

/// Every refusal's message, scheme blanked, for inputs that carry no credential.
fn fixed_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(messages)
}

fn messages() -> String {
    let oversized = format!("Bearer {}", "a".repeat(20_000));
    [
        "",
        "Basic",
        "!!!",
        "Bearer",
        "Bearer ",
        "Bearer !",
        oversized.as_str(),
    ]
    .iter()
    .filter_map(|header| {
        let mut headers = Headers::new();
        if !header.is_empty() {
            headers.append("authorization", *header);
        }
        let request = Request::new(
            Method::Post,
            "/mcp",
            headers,
            None,
            Box::new(std::io::empty()),
        );
        bearer::extract(&request)
            .err()
            .map(|e| redact(&e.description(), header))
    })
    .collect::<Vec<_>>()
    .join("\n")
}

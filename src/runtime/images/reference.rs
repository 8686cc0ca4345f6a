//! Image references, and how docker normalises them: `busybox` is
//! `docker.io/library/busybox:latest`, `user/img` is `docker.io/user/img:latest`,
//! and a first component with a `.` or a `:` in it, or `localhost`, names the
//! registry (`127.0.0.1:5000/test/img:v1`).

use super::ImageError;
use super::digest::Digest;
use std::fmt;

/// Docker Hub's name in references.
const DOCKER_HUB: &str = "docker.io";

/// Where Docker Hub's registry API really is: `docker.io` only names it.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The tag a reference without one means.
const DEFAULT_TAG: &str = "latest";

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry as references name it: `docker.io`, `127.0.0.1:5000`.
    pub domain: String,
    /// The repository in that registry: `library/busybox`.
    pub path: String,
    /// The tag (`latest` when neither a tag nor a digest was given).
    pub tag: Option<String>,
    /// A manifest digest (`…@sha256:…`), which pins the image whatever its tag.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as docker does, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Reference, ImageError> {
        let malformed = |why: &str| ImageError::MalformedReference {
            reference: text.to_string(),
            why: why.to_string(),
        };
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                let digest = Digest::parse(digest).map_err(|why| malformed(&why))?;
                (name, Some(digest))
            }
            None => (text, None),
        };
        let (name, tag) = split_tag(name_and_tag);
        if let Some(tag) = tag {
            check_tag(tag).map_err(malformed)?;
        }
        let (domain, path) = split_domain(name);
        if path.is_empty() {
            return Err(malformed("it has no repository name"));
        }
        for component in path.split('/') {
            check_component(component).map_err(malformed)?;
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The host (and port) the registry API answers on.
    pub fn api_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.domain
        }
    }

    /// Whether the registry is on this machine, the one case where nsbox speaks
    /// plain HTTP (as docker does: everywhere else an image must come over TLS, so
    /// nobody on the way can swap it).
    pub fn is_local(&self) -> bool {
        let host = match self.domain.rsplit_once(':') {
            // `[::1]:5000` and `localhost:5000`, but not `[::1]` alone.
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => &self.domain,
        };
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn tag_or_digest(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// `docker.io/library/busybox`: the repository, without tag or digest (the
    /// REPOSITORY column of `nsbox images`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

/// The normalised form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits `name:tag` into its name and tag. A `:` before the last `/` is a
/// registry's port, not a tag (`localhost:5000/img`).
fn split_tag(text: &str) -> (&str, Option<&str>) {
    match text.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (text, None),
    }
}

/// Splits a name into its registry and its path, with docker's defaults: Docker Hub,
/// and its `library/` for official images.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if names_a_registry(first) => (first, rest.to_string()),
        _ => (DOCKER_HUB, name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB
    } else {
        domain
    };
    if domain == DOCKER_HUB && !path.contains('/') && !path.is_empty() {
        return (domain.to_string(), format!("library/{path}"));
    }
    (domain.to_string(), path)
}

/// Docker's rule: a first component with a `.` or a `:`, or `localhost`, is a
/// registry; anything else is part of a Docker Hub name (`user/img`).
fn names_a_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// A path component: lowercase letters and digits, with single `.`, `_`, `-` (or
/// `__`) between them.
fn check_component(component: &str) -> Result<(), &'static str> {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let starts_and_ends_well =
        component.starts_with(alphanumeric) && component.ends_with(alphanumeric);
    let allowed = |c: char| alphanumeric(c) || matches!(c, '.' | '_' | '-');
    if !starts_and_ends_well || !component.chars().all(allowed) {
        return Err("a repository name has lowercase letters, digits and . _ -");
    }
    Ok(())
}

/// A tag: up to 128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let first_allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if tag.len() > 128
        || !tag.starts_with(first_allowed)
        || !tag.chars().all(allowed)
    {
        return Err("a tag has up to 128 letters, digits and _ . -");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn normalises_as_docker_does() {
        assert_eq!(normalised("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalised("user/img"), "docker.io/user/img:latest");
        assert_eq!(normalised("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            normalised("127.0.0.1:5000/test/img:v1"),
            "127.0.0.1:5000/test/img:v1"
        );
        assert_eq!(normalised("localhost/img"), "localhost/img:latest");
        assert_eq!(normalised("quay.io/a/b"), "quay.io/a/b:latest");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            normalised(&format!("busybox@{digest}")),
            format!("docker.io/library/busybox@{digest}")
        );
    }

    #[test]
    fn docker_hub_is_reached_through_its_api_host() {
        let reference = Reference::parse("busybox").unwrap();
        assert_eq!(reference.api_host(), "registry-1.docker.io");
        assert!(!reference.is_local());
    }

    #[test]
    fn only_this_machine_is_local() {
        for local in ["127.0.0.1:5000/a", "localhost/a", "[::1]:80/a"] {
            assert!(Reference::parse(local).unwrap().is_local(), "{local}");
        }
        for remote in ["127.0.0.2:5000/a", "example.com/a", "localhostx.io/a"] {
            assert!(!Reference::parse(remote).unwrap().is_local(), "{remote}");
        }
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in [
            "",
            "Busybox",
            "a//b",
            "img:",
            "img:-x",
            "img@sha256:12",
            "a/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

//! The JSON documents of an image (OCI image spec, and Docker's older twins):
//!
//! - an **index** (Docker: manifest list) names one manifest per platform;
//! - a **manifest** names the image's config and its layers, bottom first;
//! - the **config** holds what to run (`Entrypoint`, `Cmd`, `Env`, …) and the
//!   digests of the layers once uncompressed (`rootfs.diff_ids`).
//!
//! Each is named by its digest in the one above it.

use super::ImageError;
use super::digest::Digest;
use serde::{Deserialize, Serialize};

/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's manifest list (the same thing).
pub const DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v2+json";

/// What we ask the registry for (`Accept`): without it a registry may send an
/// old schema 1 manifest.
pub const ACCEPTED: [&str; 4] =
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// A reference to a blob: its media type, digest and size.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// The platform an index entry is built for.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/arm64/v8`, as docker writes platforms.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// An index or a manifest: the fields of both (the media type tells which).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// What the registry sent for a tag or a digest.
pub enum Fetched {
    /// An index: one manifest per platform.
    Index(Vec<Descriptor>),
    /// A manifest: the config, and the layers bottom first.
    Manifest {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

/// Reads an index or a manifest. The type comes from the document's `mediaType`,
/// or the response's `Content-Type`, or (OCI makes both optional) from its fields.
pub fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Fetched, ImageError> {
    let bad = |why: String| ImageError::BadDocument {
        what: "the manifest".to_string(),
        why,
    };
    let document: Document =
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let media_type = document.media_type.clone().or_else(|| {
        content_type.map(|t| t.split(';').next().unwrap_or(t).to_string())
    });
    let is_index = match media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        _ => document.manifests.is_some(),
    };
    if is_index {
        let manifests = document
            .manifests
            .ok_or_else(|| bad("no manifests".into()))?;
        return Ok(Fetched::Index(manifests));
    }
    match (document.config, document.layers) {
        (Some(config), Some(layers)) => Ok(Fetched::Manifest { config, layers }),
        _ => Err(bad(format!(
            "media type {} is neither an index nor a manifest",
            media_type.unwrap_or_else(|| "(none)".into())
        ))),
    }
}

/// This machine's platform in OCI's words: `linux`, and Rust's architecture name
/// translated (`x86_64` is `amd64`, `aarch64` is `arm64`).
pub fn this_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "x86" => ("386", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" => ("ppc64le", None),
        "loongarch64" => ("loong64", None),
        other => (other, None),
    };
    Platform {
        os: "linux".to_string(),
        architecture: architecture.to_string(),
        variant: variant.map(str::to_string),
    }
}

/// Picks the index entry for `wanted`. An entry without a variant fits too (many
/// indexes say just `linux/arm64`), but one with the right variant is preferred.
pub fn pick<'a>(
    manifests: &'a [Descriptor],
    wanted: &Platform,
    reference: &str,
) -> Result<&'a Descriptor, ImageError> {
    let same_machine = |entry: &&Descriptor| {
        entry.platform.as_ref().is_some_and(|platform| {
            platform.os == wanted.os && platform.architecture == wanted.architecture
        })
    };
    let variant_of = |entry: &Descriptor| entry.platform.as_ref()?.variant.clone();
    let candidates: Vec<&Descriptor> =
        manifests.iter().filter(same_machine).collect();
    let exact = candidates.iter().find(|e| variant_of(e) == wanted.variant);
    let no_variant = candidates.iter().find(|e| variant_of(e).is_none());
    if let Some(entry) = exact.or(no_variant) {
        return Ok(entry);
    }
    let available: Vec<String> = manifests
        .iter()
        .filter_map(|entry| entry.platform.as_ref().map(Platform::name))
        .collect();
    Err(ImageError::NoPlatform {
        reference: reference.to_string(),
        wanted: wanted.name(),
        available: available.join(", "),
    })
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression a layer's media type says, or `None` for a type that is not a
/// layer we can unpack.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => Some(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Some(Compression::Gzip)
        }
        "application/vnd.oci.image.layer.v1.tar+zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// What the image says to run, from its config (`config.Entrypoint`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// The parts of the config file we use. Docker writes `null` for an absent list,
/// and `""` for an absent working directory or user.
#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<RunConfig>,
    rootfs: RootFs,
}

/// The config's `config`: what to run (Docker's names, in PascalCase).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
}

/// The config's `rootfs`: the layers' uncompressed digests, bottom first.
#[derive(Debug, Deserialize)]
struct RootFs {
    diff_ids: Vec<String>,
}

/// Reads a config file: what to run, and the layers' uncompressed digests.
pub fn parse_config(bytes: &[u8]) -> Result<(ImageConfig, Vec<Digest>), ImageError> {
    let bad = |why: String| ImageError::BadDocument {
        what: "the image's config".to_string(),
        why,
    };
    let file: ConfigFile =
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let run = file.config.unwrap_or_default();
    let non_empty = |text: Option<String>| text.filter(|text| !text.is_empty());
    let config = ImageConfig {
        entrypoint: run.entrypoint.unwrap_or_default(),
        cmd: run.cmd.unwrap_or_default(),
        env: run.env.unwrap_or_default(),
        working_dir: non_empty(run.working_dir),
        user: non_empty(run.user),
    };
    let diff_ids = file.rootfs.diff_ids.iter().map(|id| Digest::parse(id));
    let diff_ids = diff_ids.collect::<Result<Vec<_>, _>>().map_err(bad)?;
    Ok((config, diff_ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(architecture: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{architecture}"),
            size: 1,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: architecture.into(),
                variant: variant.map(str::to_string),
            }),
        }
    }

    #[test]
    fn picks_the_platform_and_lists_others_when_none_fits() {
        let index = [
            entry("arm", Some("v7")),
            entry("amd64", None),
            entry("arm64", None),
        ];
        let amd64 = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        assert_eq!(pick(&index, &amd64, "x").unwrap().digest, "sha256:amd64");
        let arm64 = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        };
        assert_eq!(pick(&index, &arm64, "x").unwrap().digest, "sha256:arm64");
        let error = pick(&index[..1], &amd64, "x").unwrap_err().to_string();
        assert!(
            error.contains("linux/amd64") && error.contains("linux/arm/v7"),
            "{error}"
        );
    }

    #[test]
    fn config_nulls_and_empty_strings_mean_nothing() {
        let json =
            br#"{"config":{"Cmd":null,"Env":["A=1"],"WorkingDir":"","User":"1:2"},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let (config, diff_ids) = parse_config(json).unwrap();
        assert_eq!(config.env, ["A=1"]);
        assert!(config.cmd.is_empty() && config.working_dir.is_none());
        assert_eq!(config.user.as_deref(), Some("1:2"));
        assert!(diff_ids.is_empty());
    }
}

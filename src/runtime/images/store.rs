//! The image store (`--storage`, default `/var/lib/nsbox`):
//!
//! ```text
//! layers/<diff_id>/      one unpacked layer, named by its tar's digest: an image
//!                        that shares a layer with another finds it there
//! images/<name>.json     one record per pulled reference: its config, its layers
//! tmp/                   layers being unpacked, records being written
//! lock                   held while a pull or a removal changes the store
//! ```
//!
//! A layer is unpacked in `tmp/` and renamed into `layers/` once both its digests
//! are checked, so a pull killed half-way leaves a folder in `tmp/` (which the
//! next operation removes), never half a layer under a real name.

use super::digest::Digest;
use super::layer::{self, Expected};
use super::manifest::{self, Descriptor, Fetched, ImageConfig};
use super::progress::{Progress, Reporter};
use super::reference::Reference;
use super::registry::{Answer, Registry};
use super::{Image, ImageError};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// An image store on disk.
pub struct Store {
    root: PathBuf,
}

/// What `images/<name>.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    reference: String,
    id: String,
    digest: String,
    diff_ids: Vec<String>,
    config: ImageConfig,
    size: u64,
}

impl Store {
    /// The store in `storage` (made when something is first pulled).
    pub fn open(storage: &Path) -> Store {
        Store {
            root: storage.to_path_buf(),
        }
    }

    /// Pulls `reference` from its registry, checking every part against its
    /// digest, and records it. Progress goes to stderr.
    pub fn pull(
        &self,
        reference: &str,
        progress: Progress,
    ) -> Result<Image, ImageError> {
        let reference = Reference::parse(reference)?;
        let mut registry = Registry::new(&reference);
        // The documents first: a registry that is down or has no such image
        // leaves the store as it was, without even a lock file.
        let documents = fetch_documents(&mut registry, &reference)?;
        let _lock = self.lock()?;
        self.remove_leftovers()?;
        let result =
            self.install(&mut registry, documents, &Reporter::new(progress));
        if result.is_err() {
            // Layers this pull added but no image records: none, after this.
            let _ = self.remove_unused_layers();
        }
        let _ = self.remove_leftovers();
        result
    }

    /// The image pulled as `reference`, or whose id starts with it (`3f57d9401f8d`,
    /// as `nsbox images` shows ids), or `None`.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>, ImageError> {
        let name = Reference::parse(reference)?.to_string();
        if let Some(record) = self.read_record(&self.record_path(&name))? {
            return Ok(Some(self.image_of(record)));
        }
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        let matching: Vec<Image> = self
            .list()?
            .into_iter()
            .filter(|image| image.id.trim_start_matches("sha256:").starts_with(hex))
            .collect();
        match matching.as_slice() {
            [image] => Ok(Some(image.clone())),
            _ => Ok(None),
        }
    }

    /// The images here, by reference.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let records = self.records()?;
        let mut images: Vec<Image> =
            records.into_iter().map(|r| self.image_of(r)).collect();
        images.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(images)
    }

    /// Removes the image's record, then the layers no other image uses.
    pub fn remove(&self, reference: &str) -> Result<(), ImageError> {
        let _lock = self.lock()?;
        let image =
            self.resolve(reference)?
                .ok_or_else(|| ImageError::NoSuchImage {
                    reference: reference.to_string(),
                })?;
        let path = self.record_path(&image.reference);
        std::fs::remove_file(&path).map_err(ImageError::store(rm(&path)))?;
        self.remove_unused_layers()?;
        let _ = self.remove_leftovers();
        Ok(())
    }

    /// Fetches the layers the store lacks, then writes the record (with the lock
    /// held).
    fn install(
        &self,
        registry: &mut Registry,
        documents: Documents,
        reporter: &Reporter,
    ) -> Result<Image, ImageError> {
        let Documents {
            reference,
            digest,
            id,
            config,
            layers,
            diff_ids,
        } = documents;
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            self.fetch_layer(registry, layer, diff_id, reporter)?;
        }
        let folders = diff_ids.iter().map(|id| self.layer_path(id));
        let size = folders
            .map(|folder| folder_size(&folder))
            .sum::<io::Result<u64>>();
        let record = Record {
            reference,
            id: id.to_string(),
            digest: digest.to_string(),
            diff_ids: diff_ids.iter().map(Digest::to_string).collect(),
            config,
            size: size.map_err(ImageError::store("measuring the layers".into()))?,
        };
        self.write_record(&record)?;
        Ok(self.image_of(record))
    }

    /// Downloads and unpacks a layer unless the store has it already.
    fn fetch_layer(
        &self,
        registry: &mut Registry,
        layer: &Descriptor,
        diff_id: &Digest,
        reporter: &Reporter,
    ) -> Result<(), ImageError> {
        let digest = parse_digest(&layer.digest)?;
        let Some(compression) = manifest::layer_compression(&layer.media_type)
        else {
            return Err(ImageError::BadLayer {
                layer: digest.short().to_string(),
                why: format!("nsbox cannot unpack a {:?}", layer.media_type),
            });
        };
        let destination = self.layer_path(diff_id);
        if destination.exists() {
            reporter.already_there(digest.short());
            return Ok(());
        }
        let progress = reporter.layer(digest.short(), layer.size);
        let answer = registry.blob(&layer.digest)?;
        let unpacking = self.new_tmp_folder()?;
        let expected = Expected {
            digest: &digest,
            diff_id,
        };
        let blob = progress.track(answer.body.into_reader());
        let unpacked = layer::unpack(blob, compression, expected, &unpacking);
        let placed = unpacked.and_then(|_tar_length| {
            let layers = self.root.join("layers");
            std::fs::create_dir_all(&layers)
                .map_err(ImageError::store(mkdir(&layers)))?;
            let doing =
                format!("mv {} {}", unpacking.display(), destination.display());
            std::fs::rename(&unpacking, &destination)
                .map_err(ImageError::store(doing))
        });
        match placed {
            Ok(()) => {
                progress.done(layer.size);
                Ok(())
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&unpacking);
                Err(error)
            }
        }
    }

    /// Removes the layers that no record names (taking each out of `layers/`
    /// first, so a removal cut short leaves no half layer there either).
    fn remove_unused_layers(&self) -> Result<(), ImageError> {
        let used: Vec<String> = self
            .records()?
            .iter()
            .flat_map(|record| record.diff_ids.iter())
            .map(|id| id.trim_start_matches("sha256:").to_string())
            .collect();
        let layers = self.root.join("layers");
        for name in folder_names(&layers)? {
            if used.contains(&name) {
                continue;
            }
            let doomed = self.new_tmp_folder()?;
            let layer = layers.join(&name);
            let doing = format!("mv {} {}", layer.display(), doomed.display());
            std::fs::rename(&layer, &doomed).map_err(ImageError::store(doing))?;
            std::fs::remove_dir_all(&doomed)
                .map_err(ImageError::store(rm(&doomed)))?;
        }
        let _ = std::fs::remove_dir(&layers);
        Ok(())
    }

    /// Removes what an operation that was killed left in `tmp/`. We hold the lock,
    /// so nobody else is using it.
    fn remove_leftovers(&self) -> Result<(), ImageError> {
        let tmp = self.tmp();
        match std::fs::remove_dir_all(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(ImageError::store(rm(&tmp))(e))
            }
            _ => Ok(()),
        }
    }

    /// Takes the store's lock (`flock`), which the kernel lets go when we end, even
    /// if killed. One pull or removal at a time changes the store.
    fn lock(&self) -> Result<Flock<File>, ImageError> {
        std::fs::create_dir_all(&self.root)
            .map_err(ImageError::store(mkdir(&self.root)))?;
        let path = self.root.join("lock");
        let opening = format!("opening {}", path.display());
        let file = File::create(&path).map_err(ImageError::store(opening))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            ImageError::store(format!("locking {}", path.display()))(errno.into())
        })
    }

    /// A new, empty folder in `tmp/`.
    fn new_tmp_folder(&self) -> Result<PathBuf, ImageError> {
        static NEXT: std::sync::atomic::AtomicU32 =
            std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let folder = self.tmp().join(format!("{}-{n}", std::process::id()));
        std::fs::create_dir_all(&folder)
            .map_err(ImageError::store(mkdir(&folder)))?;
        Ok(folder)
    }

    /// `tmp/`: where layers are unpacked and records written before they are
    /// renamed into place.
    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `layers/<hex>`: where a layer with this diff_id is.
    fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// `images/<name>.json`. A reference never holds a `+`, so writing `/` as `+`
    /// gives each reference its own file name.
    fn record_path(&self, reference: &str) -> PathBuf {
        let name = reference.replace('/', "+");
        self.root.join("images").join(format!("{name}.json"))
    }

    /// Writes a record whole or not at all (a temporary file, renamed).
    fn write_record(&self, record: &Record) -> Result<(), ImageError> {
        let path = self.record_path(&record.reference);
        let images = self.root.join("images");
        std::fs::create_dir_all(&images)
            .map_err(ImageError::store(mkdir(&images)))?;
        let temporary = self.new_tmp_folder()?.join("record.json");
        let text = serde_json::to_string_pretty(record).expect("a record is JSON");
        let doing = format!("writing {}", path.display());
        std::fs::write(&temporary, text + "\n")
            .map_err(ImageError::store(doing.clone()))?;
        std::fs::rename(&temporary, &path).map_err(ImageError::store(doing))
    }

    /// A record, or `None` if there is none at `path`.
    fn read_record(&self, path: &Path) -> Result<Option<Record>, ImageError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ImageError::store(format!(
                    "reading {}",
                    path.display()
                ))(e));
            }
        };
        let record = serde_json::from_str(&text).map_err(|e| {
            ImageError::store(format!("reading {}", path.display()))(e.into())
        })?;
        Ok(Some(record))
    }

    /// All the records.
    fn records(&self) -> Result<Vec<Record>, ImageError> {
        let images = self.root.join("images");
        let mut records = Vec::new();
        for name in folder_names(&images)? {
            if let Some(record) = self.read_record(&images.join(name))? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The image a record describes, with its layers' folders.
    fn image_of(&self, record: Record) -> Image {
        let layers = record.diff_ids.iter().map(|id| {
            let hex = id.trim_start_matches("sha256:");
            self.root.join("layers").join(hex)
        });
        Image {
            layers: layers.collect(),
            reference: record.reference,
            id: record.id,
            digest: record.digest,
            config: record.config,
            size: record.size,
        }
    }
}

/// An image's documents, checked: what to put in the store.
struct Documents {
    /// The normalised reference.
    reference: String,
    /// The digest of what the tag names (an index or a manifest).
    digest: Digest,
    /// The config's digest.
    id: Digest,
    config: ImageConfig,
    /// The layers' descriptors, bottom first, and their diff_ids.
    layers: Vec<Descriptor>,
    diff_ids: Vec<Digest>,
}

/// Fetches the manifest (through the index, if the tag names one) and the config,
/// and checks their digests.
fn fetch_documents(
    registry: &mut Registry,
    reference: &Reference,
) -> Result<Documents, ImageError> {
    let answer = registry.manifest(&reference.tag_or_digest())?;
    let expected = reference.digest.clone();
    let (digest, fetched) =
        read_manifest(answer, expected.as_ref(), "the manifest")?;
    let (config, layers) = match fetched {
        Fetched::Manifest { config, layers } => (config, layers),
        Fetched::Index(manifests) => {
            platform_manifest(registry, reference, &manifests)?
        }
    };
    let id = parse_digest(&config.digest)?;
    let answer = registry.blob(&config.digest)?;
    let bytes = Registry::read_document(answer, "the image's config")?;
    verify(&bytes, &id, "the image's config")?;
    let (config, diff_ids) = manifest::parse_config(&bytes)?;
    if diff_ids.len() != layers.len() {
        return Err(ImageError::BadDocument {
            what: "the image's config".into(),
            why: format!("{} diff_ids for {} layers", diff_ids.len(), layers.len()),
        });
    }
    Ok(Documents {
        reference: reference.to_string(),
        digest,
        id,
        config,
        layers,
        diff_ids,
    })
}

/// Picks this machine's manifest in an index, fetches it and checks it.
fn platform_manifest(
    registry: &mut Registry,
    reference: &Reference,
    manifests: &[Descriptor],
) -> Result<(Descriptor, Vec<Descriptor>), ImageError> {
    let wanted = manifest::this_platform();
    let entry = manifest::pick(manifests, &wanted, &reference.to_string())?;
    let digest = parse_digest(&entry.digest)?;
    let answer = registry.manifest(&entry.digest)?;
    let what = format!("the {} manifest", wanted.name());
    match read_manifest(answer, Some(&digest), &what)? {
        (_, Fetched::Manifest { config, layers }) => Ok((config, layers)),
        (_, Fetched::Index(_)) => Err(ImageError::BadDocument {
            what,
            why: "an index inside an index".into(),
        }),
    }
}

/// Reads a manifest or an index and checks its digest: against the one we asked
/// for, or else against the one the registry says (`Docker-Content-Digest`).
fn read_manifest(
    answer: Answer,
    expected: Option<&Digest>,
    what: &str,
) -> Result<(Digest, Fetched), ImageError> {
    let content_type = answer.content_type.clone();
    let said = answer.digest.clone();
    let bytes = Registry::read_document(answer, what)?;
    let digest = match (expected, said) {
        (Some(expected), _) => expected.clone(),
        (None, Some(said)) => parse_digest(&said)?,
        (None, None) => Digest::of(&bytes),
    };
    verify(&bytes, &digest, what)?;
    let fetched = manifest::parse(&bytes, content_type.as_deref())?;
    Ok((digest, fetched))
}

/// Refuses bytes whose digest is not `expected`.
fn verify(bytes: &[u8], expected: &Digest, what: &str) -> Result<(), ImageError> {
    let got = Digest::of(bytes);
    if got != *expected {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            got: got.to_string(),
        });
    }
    Ok(())
}

/// A digest from a registry's document.
fn parse_digest(text: &str) -> Result<Digest, ImageError> {
    Digest::parse(text).map_err(|why| ImageError::BadDocument {
        what: "the manifest".into(),
        why,
    })
}

/// The names of the entries in a folder (none if it does not exist).
fn folder_names(folder: &Path) -> Result<Vec<String>, ImageError> {
    let failed = || format!("reading {}", folder.display());
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::store(failed())(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ImageError::store(failed()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// The bytes of the regular files under a folder (the SIZE `nsbox images` shows).
fn folder_size(folder: &Path) -> io::Result<u64> {
    let mut size = 0;
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        // Not followed: a symlink counts as itself, never as what it points to.
        let metadata = entry.metadata()?;
        if metadata.is_dir() {
            size += folder_size(&entry.path())?;
        } else if metadata.is_file() {
            size += metadata.len();
        }
    }
    Ok(size)
}

/// What we were doing, for an error message: `mkdir PATH`.
fn mkdir(path: &Path) -> String {
    format!("mkdir {}", path.display())
}

/// What we were doing, for an error message: `rm -r PATH`.
fn rm(path: &Path) -> String {
    format!("rm -r {}", path.display())
}

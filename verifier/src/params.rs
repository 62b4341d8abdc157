//! IPA parameters (no trusted setup): generated once per k and cached on disk.
//!
//! `Params::new(k)` is deterministic (its generators are hashed to the curve), so every
//! honest file for a given k has the same SHA-256. Files are checked against the hashes
//! pinned in [`PINNED`]; for a k without a pin, against the `.sha256` written beside the
//! file when it was made. A file that fails its check is reported and regenerated,
//! never used.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use halo2_proofs::poly::commitment::Params;
use pasta_curves::vesta;
use sha2::{Digest, Sha256};

/// SHA-256 of the parameter file for each k, as `Params::write` produces it.
pub const PINNED: &[(u32, &str)] = &[];

/// The directory holding parameter files: `$ZKMARGIN_PARAMS`, else `params/`.
pub fn default_dir() -> PathBuf {
    std::env::var_os("ZKMARGIN_PARAMS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("params"))
}

/// The file name for k.
pub fn file_name(k: u32) -> String {
    format!("ipa-pasta-k{k:02}.bin")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What happened when parameters were loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read from the cache and checked.
    Cached,
    /// Generated (none cached).
    Generated,
    /// The cached file failed its check and was regenerated; the message says why.
    Replaced(String),
}

/// Errors reading or writing the cache.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// The cache directory or file could not be written.
    #[error("cannot write parameters to {path}: {source}")]
    Write {
        /// File or directory at fault.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn expected_hash(dir: &Path, k: u32) -> Option<String> {
    if let Some((_, pin)) = PINNED.iter().find(|(pk, _)| *pk == k) {
        return Some(pin.to_string());
    }
    fs::read_to_string(dir.join(format!("{}.sha256", file_name(k)))).ok().map(|s| s.trim().to_string())
}

fn check_cached(dir: &Path, k: u32) -> Result<Option<Params<vesta::Affine>>, String> {
    let path = dir.join(file_name(k));
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{} unreadable: {e}", path.display())),
    };
    let actual = sha256_hex(&bytes);
    match expected_hash(dir, k) {
        Some(expected) if expected == actual => {}
        Some(expected) => {
            return Err(format!("{} is damaged or foreign (sha256 {actual}, expected {expected})", path.display()))
        }
        None => return Err(format!("{} has no pinned or recorded hash", path.display())),
    }
    let params = Params::<vesta::Affine>::read(&mut &bytes[..])
        .map_err(|e| format!("{} does not parse: {e}", path.display()))?;
    if params.k() != k {
        return Err(format!("{} holds k = {}, not {k}", path.display(), params.k()));
    }
    Ok(Some(params))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ParamsError> {
    let fail = |source| ParamsError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)
}

/// Loads the parameters for k from `dir`, generating (and caching) them when absent
/// or when the cached file fails its check.
pub fn load_or_create(dir: &Path, k: u32) -> Result<(Params<vesta::Affine>, Source), ParamsError> {
    let replaced = match check_cached(dir, k) {
        Ok(Some(params)) => return Ok((params, Source::Cached)),
        Ok(None) => None,
        Err(why) => Some(why),
    };
    let params = Params::<vesta::Affine>::new(k);
    let mut bytes = Vec::new();
    params.write(&mut bytes).expect("writing to memory cannot fail");
    fs::create_dir_all(dir).map_err(|source| ParamsError::Write { path: dir.to_path_buf(), source })?;
    let hash = sha256_hex(&bytes);
    if let Some((_, pin)) = PINNED.iter().find(|(pk, _)| *pk == k) {
        assert_eq!(&hash, pin, "Params::new({k}) no longer matches its pinned hash");
    }
    write_file(&dir.join(file_name(k)), &bytes)?;
    write_file(&dir.join(format!("{}.sha256", file_name(k))), format!("{hash}\n").as_bytes())?;
    Ok((params, replaced.map_or(Source::Generated, Source::Replaced)))
}

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

use crate::progress::{Progress, Silent};

/// SHA-256 of the parameter file for each k, as `Params::write` produces it.
pub const PINNED: &[(u32, &str)] = &[
    (10, "65235f086265cdf98b12514ab36fe9b849198870918d73cd160903ceb0a954dc"),
    (11, "1eab6f93a080ce41b908d935c04bd2e3ed1ac23f277c15d11c499d56d28fa0f7"),
    (12, "1b97b06da453b9efb1ae18b9ba77c3d870f22dc72898297d5707e340c3f44865"),
    (13, "76ebe6b75b5281cb1dcc2eb04888968573758672b521522f62abedf6366bb876"),
    (14, "1cb278fe4d9cf5325e5cbc710d863c0deca3e961e1b8f6c8736890c43345c461"),
    (15, "e1fb29749c7bd0870768044d5329b4e293cb2d44dae24db2554605427b19d0dd"),
    (16, "174780f80c577d968d10bc3f0a8f819e55a96b9e882ffe73c15d55e9f94053e2"),
    (17, "7c65b8e3d12f2c1054f07c2721da8670d97f0f14c846df6bcf4d390dd62cbceb"),
    (18, "50645fa7a51508a3fe9e34b5b34ee31bfe6a19891364b682d801b3ca265afe33"),
];

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

/// Checks parameter bytes handed in from elsewhere (a WebAssembly host) against the
/// pinned hash for k; k without a pin is refused.
pub fn check_pinned(k: u32, bytes: &[u8]) -> Result<(), String> {
    let (_, pin) = PINNED.iter().find(|(pk, _)| *pk == k).ok_or_else(|| format!("no pinned hash for k = {k}"))?;
    let actual = sha256_hex(bytes);
    if actual != *pin {
        return Err(format!("parameters for k = {k} are damaged or foreign (sha256 {actual}, expected {pin})"));
    }
    Ok(())
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

/// The parameters for k if `dir` holds a good copy; never generates them.
pub fn load_cached(dir: &Path, k: u32) -> Option<Params<vesta::Affine>> {
    check_cached(dir, k).ok().flatten()
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
    load_or_create_with(dir, k, &Silent)
}

/// [`load_or_create`], announcing to `progress` whether the parameters are read or
/// generated (generation takes seconds to minutes, once per k).
pub fn load_or_create_with(
    dir: &Path,
    k: u32,
    progress: &dyn Progress,
) -> Result<(Params<vesta::Affine>, Source), ParamsError> {
    progress.stage(&format!("parameters k={k}"));
    let replaced = match check_cached(dir, k) {
        Ok(Some(params)) => return Ok((params, Source::Cached)),
        Ok(None) => None,
        Err(why) => Some(why),
    };
    if let Some(why) = &replaced {
        // Worth telling whoever runs this, whatever the caller does with the result.
        eprintln!("warning: {why}; regenerating the parameters for k = {k}");
    }
    progress.stage(&format!("generating parameters k={k} (once per size, cached in {})", dir.display()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_or_foreign_files_are_detected_and_replaced() {
        let dir = std::env::temp_dir().join(format!("zkmargin-params-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (_, source) = load_or_create(&dir, 10).unwrap();
        assert_eq!(source, Source::Generated);
        let (params, source) = load_or_create(&dir, 10).unwrap();
        assert_eq!((params.k(), source), (10, Source::Cached));
        // One flipped byte: detected, regenerated, and the new file matches its pin.
        let path = dir.join(file_name(10));
        let mut bytes = fs::read(&path).unwrap();
        bytes[100] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let (_, source) = load_or_create(&dir, 10).unwrap();
        assert!(matches!(source, Source::Replaced(ref why) if why.contains("damaged or foreign")), "{source:?}");
        assert_eq!(sha256_hex(&fs::read(&path).unwrap()), PINNED.iter().find(|p| p.0 == 10).unwrap().1);
        // A file for another k under this k's name: foreign.
        fs::copy(&path, dir.join(file_name(11))).unwrap();
        assert!(check_cached(&dir, 11).is_err());
        // An unpinned k is checked against the hash recorded when it was made.
        let (_, source) = load_or_create(&dir, 3).unwrap();
        assert_eq!(source, Source::Generated);
        fs::write(dir.join(file_name(3)), b"junk").unwrap();
        assert!(matches!(load_or_create(&dir, 3).unwrap().1, Source::Replaced(_)));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn load_cached_never_generates() {
        let dir = std::env::temp_dir().join(format!("zkmargin-params-cached-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(load_cached(&dir, 4).is_none());
        assert!(!dir.exists(), "nothing is written for a k that is not cached");
        load_or_create(&dir, 4).unwrap();
        assert_eq!(load_cached(&dir, 4).map(|p| p.k()), Some(4));
        let path = dir.join(file_name(4));
        let mut bytes = fs::read(&path).unwrap();
        bytes[50] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(load_cached(&dir, 4).is_none(), "a damaged file is not used");
        assert_eq!(fs::read(&path).unwrap(), bytes, "nor replaced");
        let _ = fs::remove_dir_all(&dir);
    }
}

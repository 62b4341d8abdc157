//! File reading and atomic writing for the command line, with errors that name the file.

use std::fs;
use std::io::Write;
use std::path::Path;

use zkmargin_circuits::input::InputError;
use zkmargin_circuits::market::Market;
use zkmargin_prover::portfolio::Portfolio;

use crate::error::CliError;

/// `print!` for a command's output on standard output, which never panics: a reader that
/// has gone away (a broken pipe, as in `zkmargin commit … | head -1`) ends the output
/// quietly, and the command's result and exit code stand; any other failure to write (a
/// full disk) is an output error (exit 2). Use in a function returning `Result<_, CliError>`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::io::write_stdout(format_args!($($arg)*))?
    };
}

/// [`out!`] with a newline, for `println!`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::io::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// Writes `args` to standard output and flushes (see [`out!`]).
pub fn write_stdout(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Output(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Reads a whole text file; an unreadable file is bad input (exit 2).
pub fn read_text(path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path).map_err(|e| {
        CliError::Input(InputError::new(&path.display().to_string(), "", format!("cannot read file: {e}")))
    })
}

/// Reads and validates a market snapshot.
pub fn read_market(path: &Path) -> Result<Market, CliError> {
    let text = read_text(path)?;
    Ok(Market::from_json(&path.display().to_string(), &text)?)
}

/// Reads a portfolio and checks it against `market` when given.
pub fn read_portfolio(path: &Path, market: Option<&Market>) -> Result<Portfolio, CliError> {
    let text = read_text(path)?;
    let source = path.display().to_string();
    let portfolio = Portfolio::from_json(&source, &text)?;
    if let Some(market) = market {
        portfolio.check_against(&source, market)?;
    }
    Ok(portfolio)
}

/// Where a path leads: the canonical path when it exists (symbolic links, `.`, `..` and
/// relative spellings resolved), else its resolved folder with its file name.
fn resolved(path: &Path) -> Option<std::path::PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(fs::canonicalize(parent).ok()?.join(name))
}

/// Whether two paths lead to one file: the same device and inode when both exist
/// (whatever their spelling, through symbolic and hard links), else the same resolved path.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y),
    }
}

/// Refuses (exit 2, nothing read or written) an output that is one of a command's inputs,
/// however either is spelled (`./x`, an absolute path, `..`, a symbolic or hard link):
/// `output` is (flag, path), each input (flag, path).
pub fn refuse_overwrite(output: (&str, &Path), inputs: &[(&str, &Path)]) -> Result<(), CliError> {
    let (flag, out) = output;
    match inputs.iter().find(|(_, input)| same_file(out, input)) {
        Some((input_flag, input)) => Err(CliError::Usage(format!(
            "{flag} {}: is the same file as {input_flag} {} (an output never replaces an input)",
            out.display(),
            input.display()
        ))),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a
/// failure never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] for a secret: the file is created with mode 0600.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomic_mode(path, bytes, 0o600)
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| CliError::Output(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| CliError::Output(format!("not a file path: {}", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

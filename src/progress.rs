//! How long work shows its stages on stderr: a spinner when stderr is a terminal, plain
//! stage lines otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zkmargin_verifier::progress::Progress;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Display {
    Quiet,
    Lines,
    Spinner,
}

#[derive(Default)]
struct State {
    /// The stage under way and when it started.
    current: Option<(String, Instant)>,
    /// The spinner of the work under way (terminal only).
    spinner: Option<ProgressBar>,
}

/// The command line's [`Progress`]: one per command; [`Reporter::finish`] ends a piece of
/// work (the spinner goes, so the command's own output prints cleanly).
pub struct Reporter {
    display: Display,
    started: Instant,
    state: Mutex<State>,
}

impl Reporter {
    /// A reporter for this process's stderr; `quiet` shows nothing.
    pub fn new(quiet: bool) -> Arc<Reporter> {
        let display = match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Display::Quiet,
            (false, true) => Display::Spinner,
            (false, false) => Display::Lines,
        };
        Arc::new(Reporter { display, started: Instant::now(), state: Mutex::default() })
    }

    /// Ends the work under way: the spinner's last stage is written out with its time.
    pub fn finish(&self) {
        let mut state = self.state.lock().expect("lock");
        let current = state.current.take();
        if let Some(spinner) = state.spinner.take() {
            if let Some((what, since)) = current {
                spinner.println(format!("  {what}: {:.2?}", since.elapsed()));
            }
            spinner.finish_and_clear();
        }
    }
}

fn new_spinner() -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("a valid template"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

impl Progress for Reporter {
    fn stage(&self, what: &str) {
        let mut state = self.state.lock().expect("lock");
        let previous = state.current.replace((what.to_string(), Instant::now()));
        match self.display {
            Display::Quiet => {}
            Display::Lines => eprintln!("zkmargin: [{:>7.2} s] {what}", self.started.elapsed().as_secs_f64()),
            Display::Spinner => {
                let spinner = state.spinner.get_or_insert_with(new_spinner);
                if let Some((done, since)) = previous {
                    spinner.println(format!("  {done}: {:.2?}", since.elapsed()));
                }
                spinner.set_message(what.to_string());
            }
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}

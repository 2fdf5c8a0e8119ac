//! Running `mirrorgate replay` / `mirrorgate record inspect` to the end
//! and reading the summary it prints.

use std::path::Path;

use mirrorgate_tests::proxy;

/// What one run of the binary left.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code (-1 when killed by a signal).
    pub(crate) code: i32,
    /// The summary.
    pub(crate) stdout: String,
    /// Progress lines and errors.
    pub(crate) stderr: String,
}

impl Run {
    /// The one stdout line starting with `prefix`; panics with the whole
    /// output when there is none or more than one.
    pub(crate) fn line(&self, prefix: &str) -> &str {
        let found: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect();
        match found[..] {
            [one] => one,
            _ => panic!("expected one line starting with {prefix:?}:\n{self}"),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    pub(crate) fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `mirrorgate replay FILES... ARGS...`, killed (and failing the test)
/// after 30 s: every replay here is a few seconds at most, so a hang is
/// a failure, not a wait.
pub(crate) fn replay(files: &[&Path], args: &[&str]) -> Run {
    run("replay", files, args)
}

/// `mirrorgate record inspect FILES... ARGS...`.
pub(crate) fn inspect(files: &[&Path], args: &[&str]) -> Run {
    run("record inspect", files, args)
}

fn run(command: &str, files: &[&Path], args: &[&str]) -> Run {
    let mut all: Vec<&str> = command.split(' ').collect();
    all.extend(files.iter().map(|f| f.to_str().unwrap()));
    all.extend_from_slice(args);
    let (code, stdout, stderr) = proxy::run_to_end(&all);
    Run {
        code,
        stdout,
        stderr,
    }
}

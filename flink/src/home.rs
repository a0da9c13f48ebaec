//! Where Flink is: a folder with `bin/` (its scripts) and `lib/` (its
//! jars). The `apache-flink` PyPI package is one: its `pyflink` folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::FlinkError;

/// A Flink distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlinkHome {
    root: PathBuf,
}

impl FlinkHome {
    /// The distribution at `root`, if it has Flink's scripts and jars.
    pub fn at(root: impl Into<PathBuf>) -> Result<FlinkHome, FlinkError> {
        let root = root.into();
        let script = root.join("bin").join("jobmanager.sh");
        if !script.is_file() {
            return Err(FlinkError::NotInstalled(format!("{} has no bin/jobmanager.sh", root.display())));
        }
        let has_dist = std::fs::read_dir(root.join("lib"))
            .map_err(FlinkError::io(root.join("lib")))?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with("flink-dist"));
        if !has_dist {
            return Err(FlinkError::NotInstalled(format!("{} has no lib/flink-dist jar", root.display())));
        }
        Ok(FlinkHome { root })
    }

    /// Finds Flink: `explicit` if given, else `$FLINK_HOME`, else the
    /// `pyflink` package of `.venv-flink` in the current folder or in the
    /// workspace this binary was built in, else the `pyflink` that
    /// `python3` imports.
    pub fn find(explicit: Option<&Path>) -> Result<FlinkHome, FlinkError> {
        if let Some(p) = explicit {
            return FlinkHome::at(p);
        }
        if let Some(p) = std::env::var_os("FLINK_HOME") {
            return FlinkHome::at(PathBuf::from(p));
        }
        let mut venvs = vec![PathBuf::from(".venv-flink")];
        if let Ok(exe) = std::env::current_exe() {
            // target/{release,debug}/memscale (or deps/ of a test) in a
            // checkout: the checkout's .venv-flink.
            for up in exe.ancestors().skip(1).take(4) {
                venvs.push(up.join(".venv-flink"));
            }
        }
        for venv in venvs {
            for python in [venv.join("bin").join("python3"), venv.join("bin").join("python")] {
                if python.is_file() {
                    if let Some(home) = pyflink_of(&python) {
                        return FlinkHome::at(home);
                    }
                }
            }
        }
        match pyflink_of(Path::new("python3")) {
            Some(home) => FlinkHome::at(home),
            None => Err(FlinkError::NotInstalled(
                "no FLINK_HOME, no .venv-flink here, and python3 cannot import pyflink".into(),
            )),
        }
    }

    /// The distribution's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A script of `bin/`.
    pub fn script(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }

    /// The jars of `lib/` (what a job compiles against).
    pub fn lib(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// The distribution's own `conf/` (its log4j files are copied from
    /// there).
    pub fn conf(&self) -> PathBuf {
        self.root.join("conf")
    }
}

/// The folder of the `pyflink` package `python` imports.
fn pyflink_of(python: &Path) -> Option<PathBuf> {
    let out = Command::new(python)
        .args(["-c", "import os, pyflink; print(os.path.dirname(pyflink.__file__))"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// A folder laid out as a Flink distribution (empty scripts and jars), for
/// tests that need a [`FlinkHome`] but never start it.
#[cfg(test)]
pub(crate) fn fake_home(dir: &Path) -> FlinkHome {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/jobmanager.sh"), "").unwrap();
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/flink-dist-2.3.0.jar"), "").unwrap();
    FlinkHome::at(dir).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_flink_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = FlinkHome::at(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bin/jobmanager.sh") && e.contains(&dir.path().display().to_string()), "{e}");
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/jobmanager.sh"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        let e = FlinkHome::at(dir.path()).unwrap_err().to_string();
        assert!(e.contains("flink-dist"), "{e}");
        std::fs::write(dir.path().join("lib/flink-dist-2.3.0.jar"), "").unwrap();
        assert_eq!(FlinkHome::at(dir.path()).unwrap().root(), dir.path());
    }
}

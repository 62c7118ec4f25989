//! Where a comparison's results are saved: unpublished runs outside the committed results, and
//! only `--publish` runs (never quick ones) into `benches/results` as the latest.

use std::path::PathBuf;

use serde_json::Value;

use super::CompareArgs;

/// Where a run's results go: a timestamped JSON and SVG pair in `dir`, and for published runs
/// also `latest.json` and `latest.svg`, the files the README shows.
#[derive(Debug, PartialEq, Eq)]
pub struct SavePlan {
    dir: PathBuf,
    latest: bool,
}

impl SavePlan {
    /// Unpublished runs go outside the committed results; a quick run is never published.
    pub(super) fn of(a: &CompareArgs) -> Result<SavePlan, String> {
        if a.publish && a.quick {
            return Err("--publish with --quick: a quick run is not the benchmark".to_owned());
        }
        let default = if a.publish {
            "benches/results"
        } else {
            "target/bench-results"
        };
        Ok(SavePlan {
            dir: a.out_dir.clone().unwrap_or_else(|| PathBuf::from(default)),
            latest: a.publish,
        })
    }

    /// Writes the files; returns their paths.
    pub(super) fn save(&self, doc: &Value, stamp: &str) -> Result<Vec<String>, String> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
        let svg = crate::chart::render(doc);
        let mut names = vec![
            format!("compare-{stamp}.json"),
            format!("compare-{stamp}.svg"),
        ];
        if self.latest {
            names.extend(["latest.json".to_owned(), "latest.svg".to_owned()]);
        }
        let mut saved = Vec::new();
        if let Some(curves) = super::envelope::curves_chart::render(doc) {
            let path = dir.join(format!("compare-{stamp}-curves.svg"));
            std::fs::write(&path, curves).map_err(|e| format!("{}: {e}", path.display()))?;
            saved.push(path.display().to_string());
        }
        for name in names {
            let path = dir.join(&name);
            let body = if name.ends_with(".json") { &text } else { &svg };
            std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
            saved.push(path.display().to_string());
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn plan(flags: &[&str]) -> Result<SavePlan, String> {
        let cli = Cli::try_parse_from(std::iter::once("compare").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        SavePlan::of(&cli.args)
    }

    #[test]
    fn only_published_runs_touch_the_committed_results() {
        let default = plan(&[]).expect("plain run");
        assert_eq!(default.dir, PathBuf::from("target/bench-results"));
        assert!(!default.latest);
        let quick = plan(&["--quick"]).expect("quick run");
        assert_eq!(quick.dir, PathBuf::from("target/bench-results"));
        assert!(!quick.latest);
        let published = plan(&["--publish"]).expect("published run");
        assert_eq!(published.dir, PathBuf::from("benches/results"));
        assert!(published.latest);
        assert!(plan(&["--publish", "--quick"]).is_err());
        let elsewhere = plan(&["--out-dir", "/tmp/x"]).expect("own dir");
        assert_eq!(
            (elsewhere.dir, elsewhere.latest),
            (PathBuf::from("/tmp/x"), false)
        );
    }
}

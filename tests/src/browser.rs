//! A real headless browser for the tests of the service's own pages: Debian's `chromium` (installed
//! with `apt-get install -y chromium` when it is missing; the tests run as root on CI) driven by
//! `playwright-core` from npm, installed once under `$XDG_CACHE_HOME/user-service/browser`
//! (outside the repository). Playwright's own browser download is never used.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const PLAYWRIGHT_CORE: &str = "1.65.1";

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("user-service")
        .join("browser")
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// What a browser test needs: the Chromium binary, and the npm prefix holding playwright-core with
/// the test's scripts copied beside it (so their `import "playwright-core"` resolves).
pub struct Browser {
    pub chromium: PathBuf,
    pub prefix: PathBuf,
}

impl Browser {
    /// The browser, installed on first use.
    pub fn get() -> &'static Browser {
        static BROWSER: OnceLock<Browser> = OnceLock::new();
        BROWSER.get_or_init(|| {
            let chromium = find_chromium().unwrap_or_else(|| {
                eprintln!("installing Debian's chromium");
                let install = || {
                    succeeds(
                        Command::new("apt-get")
                            .args(["install", "-y", "--no-install-recommends", "chromium"])
                            .env("DEBIAN_FRONTEND", "noninteractive"),
                    )
                };
                if !install() {
                    run(
                        Command::new("apt-get").arg("update"),
                        "apt-get update (for chromium)",
                    );
                    assert!(install(), "apt-get install -y chromium");
                }
                find_chromium().expect("chromium installed")
            });
            let prefix = cache_dir();
            let installed =
                std::fs::read_to_string(prefix.join("node_modules/playwright-core/package.json"))
                    .ok()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .is_some_and(|p| p["version"] == PLAYWRIGHT_CORE);
            if !installed {
                std::fs::create_dir_all(&prefix).expect("npm prefix");
                run(
                    Command::new("npm")
                        .arg("install")
                        .arg("--prefix")
                        .arg(&prefix)
                        .args(["--no-save", "--no-audit", "--no-fund", "--silent"])
                        .arg(format!("playwright-core@{PLAYWRIGHT_CORE}")),
                    "npm install playwright-core",
                );
            }
            Browser { chromium, prefix }
        })
    }

    /// Runs `tests/browser/<script>` with node and these arguments (then the Chromium path), and
    /// answers the JSON its last output line prints.
    pub async fn run_script(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("browser")
            .join(script);
        let copy = self.prefix.join(script);
        std::fs::copy(&source, &copy).expect("copy the browser script");
        let out = tokio::process::Command::new("node")
            .arg(&copy)
            .args(args)
            .arg(&self.chromium)
            .kill_on_drop(true)
            .output()
            .await
            .expect("run node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed {last:?}: {e}"))
    }
}

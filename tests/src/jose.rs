//! JOSE libraries no one here wrote — PyJWT (PyPI) and node's `jose` (npm) — installed once,
//! pinned, outside the repository: `${XDG_CACHE_HOME:-~/.cache}/user-service/jose/{venv,node}`; a
//! second run finds them there. `tests/jose.rs` verifies our tokens with them; `tests/external_issuer.rs`
//! signs an identity provider's tokens with PyJWT.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::process::Command;
use tokio::sync::OnceCell;

const PYJWT: &str = "2.15.1";
const JOSE: &str = "6.2.19";

/// The libraries, installed.
pub struct Tools {
    /// A Python with PyJWT and `cryptography`.
    pub python: PathBuf,
    /// `tests/jose/pyjwt_verify.py`.
    pub pyjwt_script: PathBuf,
    /// The npm prefix: `node_modules/jose` and a copy of the script, so its `import "jose"` resolves.
    pub node_script: PathBuf,
}

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("jose")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("user-service/jose")
}

async fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().await.is_ok_and(|o| o.status.success())
}

/// PyJWT with `cryptography` (EdDSA and RSA) in a venv, and `jose` under an npm prefix, each
/// installed only when the pinned version is not there yet.
async fn install(dir: &Path) -> Tools {
    std::fs::create_dir_all(dir).expect("cache dir");
    let venv = dir.join("venv");
    let python = venv.join("bin/python");
    let check = format!("import jwt, cryptography, sys; sys.exit(jwt.__version__ != '{PYJWT}')");
    if !succeeds(Command::new(&python).args(["-c", &check])).await {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )
        .await;
        run(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("PyJWT[crypto]=={PYJWT}"),
            ]),
            "pip install PyJWT",
        )
        .await;
    }
    let node = dir.join("node");
    let installed = std::fs::read_to_string(node.join("node_modules/jose/package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|p| p["version"] == JOSE);
    if !installed {
        std::fs::create_dir_all(&node).expect("npm prefix");
        run(
            Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(&node)
                .args(["--no-save", "--no-audit", "--no-fund", "--silent"])
                .arg(format!("jose@{JOSE}")),
            "npm install jose",
        )
        .await;
    }
    let node_script = node.join("jose_verify.mjs");
    std::fs::copy(scripts().join("jose_verify.mjs"), &node_script).expect("copy the node script");
    Tools {
        python,
        pyjwt_script: scripts().join("pyjwt_verify.py"),
        node_script,
    }
}

/// The libraries, installed on first use.
pub async fn tools() -> &'static Tools {
    static TOOLS: OnceCell<Tools> = OnceCell::const_new();
    TOOLS
        .get_or_init(|| async { install(&cache_dir()).await })
        .await
}

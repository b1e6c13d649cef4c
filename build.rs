//! The commit the binary is built from, for `--version`: OCTOPUS_COMMIT when the build sets it
//! (an image built without the repository's history), else `git`, else "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=OCTOPUS_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::env::var("OCTOPUS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=OCTOPUS_COMMIT={commit}");
}

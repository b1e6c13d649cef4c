//! `octopus-teams manifest`: the package an admin uploads must be valid the first time.

use std::{path::Path, process::Command};

const BOT: &str = "2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8091";

fn build(out: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = crate::harness::process::command();
    cmd.args(["manifest", "--out", out.to_str().unwrap()])
        .env_remove("OCTOPUS_CONFIG")
        .env("RUST_LOG", "off")
        .env(
            "OCTOPUS__HTTP__PUBLIC_BASE_URL",
            "https://octopus.cegepsi.ca",
        )
        .env("OCTOPUS__BOT__APP_ID", BOT)
        .env("OCTOPUS__BOT__APP_PASSWORD", "secret")
        .env(
            "OCTOPUS__BOT__APP_TENANT_ID",
            "11111111-2222-3333-4444-555555555555",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_package_is_valid_against_the_official_schema_and_the_store_rules() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("octopus-teams.zip");
    let (ok, out) = build(&zip_path, &[]);
    assert!(ok, "{out}");

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "color.png",
            "en.json",
            "manifest.json",
            "outline.png",
            "pt.json"
        ],
        "files at the zip root"
    );
    let manifest: serde_json::Value =
        serde_json::from_reader(zip.by_name("manifest.json").unwrap()).unwrap();
    assert_eq!(manifest["id"], BOT);
    assert_eq!(manifest["bots"][0]["botId"], BOT);
    assert_eq!(
        manifest["webApplicationInfo"]["resource"],
        format!("api://octopus.cegepsi.ca/{BOT}")
    );
    assert_eq!(
        manifest["validDomains"],
        serde_json::json!(["octopus.cegepsi.ca", "demo.octopus-itsm.com"]),
        "the service, and the organisation's Octopus portal (the channel tab may be the portal)"
    );
    assert_eq!(manifest["localizationInfo"]["defaultLanguageTag"], "fr-CA");
    assert!(!manifest.to_string().contains("{{"));

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !crate::harness::node_packages("tools/manifest") {
        return;
    }
    let check = Command::new("node")
        .current_dir(root)
        .args(["tools/manifest/validate.mjs", zip_path.to_str().unwrap()])
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        check.status.success() && report.contains("package valid"),
        "{report}"
    );
}

#[test]
fn each_refusal_gives_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.zip");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("OCTOPUS__BOT__APP_ID", "")], "bot.app_id"),
        (
            &[(
                "OCTOPUS__HTTP__PUBLIC_BASE_URL",
                "http://octopus.cegepsi.ca",
            )],
            "must be https",
        ),
        (
            &[("OCTOPUS__HTTP__PUBLIC_BASE_URL", "https://127.0.0.1")],
            "must name a public domain",
        ),
        (
            &[(
                "OCTOPUS__TEAMS_APP__SHORT_NAME",
                "Octopus, le libre-service du CSI",
            )],
            "teams_app.short_name is 32 characters",
        ),
        (
            &[("OCTOPUS__TEAMS_APP__FULL_NAME", &"x".repeat(101))],
            "teams_app.full_name is 101 characters",
        ),
        (
            &[(
                "OCTOPUS__TEAMS_APP__DEVELOPER_NAME",
                "Centre de services informatiques du Cégep",
            )],
            "developer_name",
        ),
        (
            &[("OCTOPUS__TEAMS_APP__VERSION", "1.0")],
            "MAJOR.MINOR.PATCH",
        ),
        (&[("OCTOPUS__TEAMS_APP__ACCENT_COLOR", "blue")], "#RRGGBB"),
        (
            &[("OCTOPUS__TEAMS_APP__APP_ID", "not-a-guid")],
            "teams_app.app_id",
        ),
    ];
    for (env, expected) in cases {
        let (ok, msg) = build(&out, env);
        assert!(!ok, "{env:?} should be refused");
        assert!(
            msg.contains(expected),
            "{env:?}: expected {expected:?} in:\n{msg}"
        );
        assert!(!out.exists(), "nothing written when refused");
    }
}

#[test]
fn the_english_and_portuguese_full_names_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("octopus-teams.zip");
    let (ok, out) = build(
        &zip_path,
        &[
            (
                "OCTOPUS__TEAMS_APP__FULL_NAMES__EN",
                "CISSS passwords – self-service",
            ),
            (
                "OCTOPUS__TEAMS_APP__FULL_NAMES__PT",
                "Senhas do CISSS – autoatendimento",
            ),
        ],
    );
    assert!(ok, "{out}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    for (file, name) in [
        ("en.json", "CISSS passwords – self-service"),
        ("pt.json", "Senhas do CISSS – autoatendimento"),
    ] {
        let loc: serde_json::Value = serde_json::from_reader(zip.by_name(file).unwrap()).unwrap();
        assert_eq!(loc["name.full"], name, "{file}");
    }
    let (ok, out) = build(
        &zip_path,
        &[("OCTOPUS__TEAMS_APP__FULL_NAMES__DE", "Passwörter")],
    );
    assert!(!ok && out.contains("teams_app.full_names.de"), "{out}");
}

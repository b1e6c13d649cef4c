//! Every card template, expanded by the bot's own expander with every sample, must equal the
//! official expander's output, validate against the Adaptive Cards 1.5 schema and render in the
//! real Adaptive Cards JavaScript renderer in headless Chromium (screenshots kept in
//! target/card-screenshots/). The samples' strings must be the ones the bot sends.

use std::{path::Path, process::Command};

use octopus_teams::{
    i18n::{Locale, Strings},
    teams::bot::cards::expand,
};
use serde_json::Value;

#[test]
fn every_card_expands_like_the_official_expander_validates_and_renders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/cards-rust");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let strings = Strings::load().unwrap();

    let mut count = 0;
    for entry in std::fs::read_dir(root.join("adaptive-cards/samples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let card = stem.split('.').next().unwrap();
        let locale = Locale::from_tag(stem.rsplit('.').next().unwrap())
            .expect("sample names end with a locale");
        let sample: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let template: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("adaptive-cards/{card}.json"))).unwrap(),
        )
        .unwrap();

        // The sample's strings are the bot's strings for that language.
        let ours = strings.section(locale, "cards");
        for (k, v) in sample["t"]
            .as_object()
            .expect("sample has its strings under t")
        {
            assert_eq!(
                &ours[k],
                v,
                "{name}: t.{k} differs from locales/{}.toml [cards]",
                locale.tag()
            );
        }
        let expanded = expand(&template, &sample).expect("root kept");
        std::fs::write(
            out.join(&name),
            serde_json::to_vec_pretty(&expanded).unwrap(),
        )
        .unwrap();
        count += 1;
    }
    assert!(count >= 30, "only {count} samples");

    if !crate::harness::node_packages("tools/cards") {
        return;
    }
    let run = Command::new("node")
        .current_dir(root)
        .args([
            "tools/cards/check.mjs",
            "--expanded-in",
            "target/cards-rust",
            "--compare",
            "target/cards-rust",
        ])
        .args(["--out", "target/card-screenshots"])
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "the card check failed:\n{report}");
    // Every sample expanded here was checked and passed there: not fewer, none skipped.
    assert!(
        report
            .lines()
            .any(|l| l.trim() == format!("{count} passed, 0 failed")),
        "expected \"{count} passed, 0 failed\" in:\n{report}"
    );
    let ok = report
        .lines()
        .filter(|l| l.starts_with("ok  ") && !l.starts_with("ok   template "))
        .count();
    assert_eq!(ok, count, "cards reported ok vs expanded:\n{report}");
}

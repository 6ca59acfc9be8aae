//! `src/saml/` is the pure core: it imports nothing else from the crate, reads no
//! clock, and touches no files, network, environment, HTTP or SQL.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn saml_core_is_pure() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/saml");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 8, "expected the saml module files");
    let forbidden = [
        "crate::",
        "super::super",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
        "tokio",
        "actix",
        "sqlx",
        "reqwest",
        "std::thread",
    ];
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pat in forbidden {
                if code.contains(pat) {
                    hits.push(format!(
                        "{}:{}: `{pat}` in: {}",
                        f.display(),
                        i + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "src/saml must stay pure:\n{}",
        hits.join("\n")
    );
}

#[test]
fn only_clock_rs_reads_the_clock() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    for f in files {
        if f.ends_with("clock.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("Utc::now") && !text.contains("SystemTime::now"),
            "{} reads the clock",
            f.display()
        );
    }
}

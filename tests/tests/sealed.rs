//! Sealed means sealed: the appliance's dependency tree holds no HTTP client — no client
//! crate, and no client feature of hyper / hyper-util (hyper serves, it never connects).
//! The connected-side `stella-kit` and the `stella` CI client are separate crates and
//! may use one.
use std::process::Command;

const CLIENT_CRATES: &[&str] = &[
    "reqwest",
    "ureq",
    "isahc",
    "curl",
    "surf",
    "attohttpc",
    "hyper-tls",
    "hyper-rustls",
    "awc",
    "trust-dns-resolver",
    "hickory-resolver",
];

fn cargo_tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "appliance",
            "--target",
            "all",
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(
        o.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_appliance_links_no_http_client() {
    let tree = cargo_tree(&["-e", "normal", "--prefix", "none"]);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"axum"), "the tree looks wrong:\n{tree}");
    for c in CLIENT_CRATES {
        assert!(
            !crates.contains(c),
            "the appliance depends on HTTP client crate {c}"
        );
    }
    let features = cargo_tree(&["-e", "features", "--prefix", "none"]);
    for line in features.lines() {
        assert!(
            !(line.starts_with("hyper") && line.contains("feature \"client")),
            "a client feature of hyper is enabled in the appliance: {line}"
        );
    }
}

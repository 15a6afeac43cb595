//! Sealed means sealed: the appliance's dependency tree holds no HTTP client — no client
//! crate, and no client feature of hyper / hyper-util (hyper serves, it never connects).
//! The connected-side `stella-kit` and the `stella` CI client are separate crates and
//! may use one. And the matcher (`scanner`) builds without the server's stack.
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
    cargo_tree_of("appliance", args)
}

fn crate_names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

fn cargo_tree_of(package: &str, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            package,
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
    let crates = crate_names(&tree);
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

#[test]
fn the_scanner_has_no_server_stack() {
    let tree = cargo_tree_of("scanner", &["-e", "normal", "--prefix", "none"]);
    let crates = crate_names(&tree);
    assert!(crates.contains(&"bundles"), "the tree looks wrong:\n{tree}");
    for c in [
        "axum", "hyper", "tokio", "rusqlite", "sled", "regorus", "askama", "web", "importer",
    ] {
        assert!(!crates.contains(&c), "the scanner crate depends on {c}");
    }
}

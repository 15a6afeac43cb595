//! Writes the golden files of the interop tests into the directory given as the first
//! argument (`signing/tests/data`); `tests/data/regen.sh` runs it and then has the
//! reference implementations (PyJWT, securesystemslib) check the files.
#[path = "../tests/common/golden.rs"]
mod golden;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: golden_vectors DIR"));
    std::fs::write(dir.join("jwt/golden.jwt"), golden::golden_jwt() + "\n").expect("write");
    std::fs::create_dir_all(dir.join("dsse")).expect("mkdir");
    std::fs::write(
        dir.join("dsse/golden-envelope.json"),
        golden::golden_envelope(),
    )
    .expect("write");
    std::fs::write(
        dir.join("dsse/golden-2of2.json"),
        golden::golden_envelope_2of2(),
    )
    .expect("write");
    let m = dir.join("minisign");
    std::fs::create_dir_all(&m).expect("mkdir");
    for (name, text) in golden::golden_minisigs()
        .into_iter()
        .chain(golden::golden_key_files())
    {
        std::fs::write(m.join(name), text).expect("write");
    }
}

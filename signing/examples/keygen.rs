//! Writes a fresh key pair to the directory given as the first argument.
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("DIR"));
    let kp = signing::KeyPair::generate().expect("rng");
    kp.write_secret(&dir.join("t.key")).expect("write");
    kp.public()
        .to_box()
        .write(&dir.join("t.pub"))
        .expect("write");
}

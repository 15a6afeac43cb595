//! Placeholder bench target; rendering benches live in the appliance load scripts.
fn main() {}

//! Support code of the web crate's tests (and of the `console_demo` example).
pub mod fake;

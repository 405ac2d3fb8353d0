//! patchflow
fn main() {}

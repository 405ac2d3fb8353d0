//! prioritize

//! Tests of `cnm sandbox`.

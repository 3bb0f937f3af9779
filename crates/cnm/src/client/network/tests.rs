//! Tests of `cnm network`: request bodies, validation and output.

//! Conformance with envoyproxy/ratelimit's configuration format: files it accepts load here
//! with the same meaning, files it refuses are refused with the place of the fault, and
//! descriptors find the rule it would apply.

mod counting;
mod invalid;
mod matching;
mod merged;
mod support;
mod valid;

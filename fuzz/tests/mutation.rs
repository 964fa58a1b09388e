//! A bounded random mutation run over each fuzz target, for machines
//! without cargo-fuzz: it starts from the committed corpus, applies seeded
//! random edits, and fails with the input when a target panics.
//!
//! `FUZZ_ITERATIONS` (default 3000 per target) and `FUZZ_SEED` (default a
//! fixed seed, so runs repeat) change the run. Each target also stops after
//! `FUZZ_SECONDS` (default 20), so the test stays bounded on a slow machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use auth_fuzz::{TARGETS, Target};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Byte strings that often break parsers, spliced into inputs.
const INTERESTING: [&[u8]; 24] = [
    b"\0",
    b"\xff",
    b"\xc3\x28",
    b"\xf0\x9f\x92",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b".",
    b"\n",
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\"alg\":\"none\"",
    b"\"kid\":\"fuzz-key\"",
    b"=",
    b"\xe2\x80\xae",
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn load_seeds(target: &Target) -> Vec<Vec<u8>> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| std::fs::read(file).unwrap())
        .collect()
}

/// Applies one to four random edits to `input`.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..rng.gen_range(1..=4) {
        let len = input.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                let at = rng.gen_range(0..len);
                input[at] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let at = rng.gen_range(0..len);
                input[at] = rng.r#gen();
            }
            2 => {
                let at = rng.gen_range(0..=len);
                let piece = INTERESTING[rng.gen_range(0..INTERESTING.len())];
                input.splice(at..at, piece.iter().copied());
            }
            3 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len.min(start + 16));
                input.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = rng.gen_range(start..=len.min(start + 64));
                let copy = input[start..end].to_vec();
                let at = rng.gen_range(0..=input.len());
                input.splice(at..at, copy);
            }
            5 if len > 0 => {
                input.truncate(rng.gen_range(0..len));
            }
            6 => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                if !other.is_empty() {
                    let start = rng.gen_range(0..other.len());
                    let at = rng.gen_range(0..=len);
                    input.splice(at..at, other[start..].iter().copied());
                }
            }
            _ => {
                let at = rng.gen_range(0..=len);
                let count = rng.gen_range(1..=8);
                let random: Vec<u8> = (0..count).map(|_| rng.r#gen()).collect();
                input.splice(at..at, random);
            }
        }
    }
    // Keep inputs small enough that each run stays fast.
    input.truncate(64 * 1024);
}

#[test]
fn mutated_corpus_never_panics() {
    let iterations = env_number("FUZZ_ITERATIONS", 3000);
    let seed = env_number("FUZZ_SEED", 0x5eed_f00d);
    let time_limit = Duration::from_secs(env_number("FUZZ_SECONDS", 20));

    // Silence the default hook so a caught panic prints once, below.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for target in TARGETS {
        let seeds = load_seeds(&target);
        let mut rng = StdRng::seed_from_u64(seed);
        let started = Instant::now();
        let mut runs = 0;

        while runs < iterations && started.elapsed() < time_limit {
            let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
            mutate(&mut rng, &mut input, &seeds);
            runs += 1;

            if std::panic::catch_unwind(|| (target.run)(&input)).is_err() {
                failures.push(format!(
                    "{} panicked on input (base64) {}",
                    target.name,
                    base64::engine::general_purpose::STANDARD.encode(&input)
                ));
                break;
            }
        }
        eprintln!(
            "{}: {runs} mutated inputs in {:?}",
            target.name,
            started.elapsed()
        );
    }
    let _ = std::panic::take_hook();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

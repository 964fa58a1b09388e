//! Replays every committed corpus file through its fuzz target, so inputs
//! that once found a bug, and the seeds, run on every test run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use auth_fuzz::TARGETS;

#[test]
fn corpus_replays_without_panic() {
    let corpus_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");

    for target in TARGETS {
        let directory = corpus_root.join(target.name);
        let mut files: Vec<_> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "the corpus of {} is empty: {}",
            target.name,
            directory.display()
        );

        for file in files {
            let input = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| (target.run)(&input));
            assert!(
                outcome.is_ok(),
                "{} panicked on {}",
                target.name,
                file.display()
            );
        }
    }
}

//! Any bytes: the corpus parser returns poems or an error, never panics, and what it keeps
//! obeys the cleaning rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shige_core::{CleaningConfig, load_corpus};

fuzz_target!(|data: &[u8]| {
    let config = CleaningConfig::new().with_min_chars(2).with_max_chars(40);
    if let Ok(corpus) = load_corpus(data, &config) {
        let dropped: usize = corpus.report.dropped.values().sum();
        assert_eq!(corpus.report.kept + dropped, corpus.report.found);
        assert_eq!(corpus.train.len() + corpus.validation.len(), corpus.report.kept);
        for poem in corpus.train.iter().chain(&corpus.validation) {
            assert!((2..=40).contains(&poem.content.len()));
            assert!(!poem.content.iter().any(|c| c.is_whitespace()));
        }
    }
});

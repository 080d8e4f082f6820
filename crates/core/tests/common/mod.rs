//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

use shige_core::{CleaningConfig, Corpus, ModelShape, TrainConfig, Trainer, load_corpus};

/// `../shared/data` beside the repository (override with `SHIGE_DATA`).
pub fn data_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("SHIGE_DATA").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
    });
    dir.join(name)
}

pub fn tangshi() -> Corpus {
    let path = data_file("tangshi.txt");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load_corpus(&bytes, &CleaningConfig::new()).expect("tangshi.txt parses")
}

pub fn cpu() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// A small model that trains in seconds on the CPU.
pub fn tiny_trainer(corpus: &Corpus, seed: u64) -> Trainer {
    Trainer::new(
        corpus,
        ModelShape::new().with_embedding(24).with_hidden(48),
        TrainConfig::new().with_batch_size(16).with_seed(seed).with_min_char_freq(1).with_learning_rate(5e-3),
        &cpu(),
    )
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

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
    tiny_trainer_on(corpus, seed, &cpu())
}

pub fn tiny_shape() -> ModelShape {
    ModelShape::new().with_embedding(24).with_hidden(48)
}

pub fn tiny_trainer_on(corpus: &Corpus, seed: u64, device: &burn::tensor::Device) -> Trainer {
    Trainer::new(
        corpus,
        tiny_shape(),
        TrainConfig::new().with_batch_size(16).with_seed(seed).with_min_char_freq(1).with_learning_rate(5e-3),
        device,
    )
    .expect("valid settings")
}

/// The wgpu device, if an adapter exists. `SHIGE_REQUIRE_WGPU=1` (set by scripts/test.sh,
/// whose setup installs a software Vulkan adapter) turns a missing adapter into a failure.
pub fn wgpu() -> Option<burn::tensor::Device> {
    use std::sync::OnceLock;
    static DEVICE: OnceLock<Result<burn::tensor::Device, String>> = OnceLock::new();
    match DEVICE.get_or_init(|| burn::tensor::Device::wgpu_options().init().map_err(|e| e.to_string())) {
        Ok(device) => Some(device.clone()),
        Err(e) if std::env::var_os("SHIGE_REQUIRE_WGPU").is_none() => {
            eprintln!("skipped: no wgpu adapter ({e})");
            None
        }
        Err(e) => panic!("SHIGE_REQUIRE_WGPU is set but no wgpu adapter was found: {e}"),
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

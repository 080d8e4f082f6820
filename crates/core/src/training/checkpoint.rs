//! Checkpoints: one self-describing safetensors file holding the format version, configs,
//! vocabulary, weights, Adam moments and progress, so training resumes exactly; and an
//! export of the weights under PyTorch's names and layouts.
//!
//! Tensors are read back with async reads only: synchronous reads panic in the browser.

use std::borrow::Cow;
use std::collections::HashMap;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};

use super::{AdamState, TrainConfig, TrainState, Trainer};
use crate::data::corpus::CleaningConfig;
use crate::data::vocab::Vocab;
use crate::model::{Cell, ModelShape, PoemModelConfig};
use crate::readback::{ReadError, read_values};

pub const FORMAT: &str = "shige-checkpoint";
/// 2 added the cell, tied output layers and the weights' checksum; version 1 files (GRU,
/// untied, no checksum) still load. 3 added the Transformer (heads, bias, block size): only its
/// files say 3, so a build from before it refuses them by their version while recurrent
/// models, still written as 2, open in it as before.
pub const FORMAT_VERSION: u32 = 3;
const RECURRENT_VERSION: u32 = 2;
const OLDEST_READABLE: u32 = 1;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a Shige checkpoint: {0}")]
    NotACheckpoint(String),
    #[error("checkpoint format version {found} is not supported (this build reads versions 1 to {expected})")]
    Version { found: String, expected: u32 },
    #[error("the model has non-finite values in `{0}`; it was not {1}")]
    NonFinite(String, &'static str),
    #[error("the checkpoint is damaged: {0}")]
    Damaged(String),
    #[error("the checkpoint does not match: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Progress saved with the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub step: u64,
    pub epoch: usize,
    pub batch_in_epoch: usize,
    pub adam_t: u64,
    pub tokens: u64,
}

/// How a file stores the weights: full f32 with Adam's moments (to resume training exactly),
/// or a compact copy for shipping (the page's starter model): f16, or int8 with one f32 scale
/// per row. Compact files have no moments: training from one starts Adam afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    F32,
    F16,
    Int8,
}

impl Weights {
    pub fn name(self) -> &'static str {
        match self {
            Weights::F32 => "f32",
            Weights::F16 => "f16",
            Weights::Int8 => "int8",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Weights::F32, Weights::F16, Weights::Int8].into_iter().find(|w| w.name() == name)
    }
}

/// A checkpoint in host memory: weights and moments as `(shape, values)` in
/// `PoemModelConfig::param_shapes` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub cleaning: CleaningConfig,
    pub model: PoemModelConfig,
    pub train: TrainConfig,
    pub vocab: Vocab,
    pub progress: Progress,
    pub params: Vec<Vec<f32>>,
    pub adam_m: Vec<Vec<f32>>,
    pub adam_v: Vec<Vec<f32>>,
}

async fn read_all(tensors: &[Tensor<2>]) -> Result<Vec<Vec<f32>>, ReadError> {
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        out.push(read_values(t.clone()).await?);
    }
    Ok(out)
}

impl Checkpoint {
    /// Captures a trainer's state (async reads only). Refuses non-finite weights, so a
    /// diverged model never overwrites a good save.
    pub async fn capture(trainer: &Trainer) -> Result<Self, CheckpointError> {
        let t = trainer;
        Self::capture_state(&t.cleaning, &t.model_config, &t.config, &t.vocab, &t.state).await
    }

    /// `capture` from the parts of a trainer.
    pub async fn capture_state(
        cleaning: &CleaningConfig,
        model: &PoemModelConfig,
        train: &TrainConfig,
        vocab: &Vocab,
        s: &TrainState,
    ) -> Result<Self, CheckpointError> {
        let ckpt = Checkpoint {
            cleaning: cleaning.clone(),
            model: model.clone(),
            train: train.clone(),
            vocab: vocab.clone(),
            progress: Progress {
                step: s.step,
                epoch: s.epoch,
                batch_in_epoch: s.batch_in_epoch,
                adam_t: s.adam.t,
                tokens: s.tokens,
            },
            params: read_all(&s.params).await?,
            adam_m: read_all(&s.adam.m).await?,
            adam_v: read_all(&s.adam.v).await?,
        };
        ckpt.check_finite("saved")?;
        Ok(ckpt)
    }

    /// Names the first tensor holding a NaN or an infinity.
    fn check_finite(&self, action: &'static str) -> Result<(), CheckpointError> {
        let shapes = self.model.param_shapes();
        for (prefix, all) in [("model", &self.params), ("adam_m", &self.adam_m), ("adam_v", &self.adam_v)] {
            for ((name, _), values) in shapes.iter().zip(all) {
                if values.iter().any(|v| !v.is_finite()) {
                    return Err(CheckpointError::NonFinite(format!("{prefix}.{name}"), action));
                }
            }
        }
        Ok(())
    }

    /// The tensors in file order: `(name, shape, values)`.
    fn tensors(&self) -> Vec<(String, [usize; 2], &[f32])> {
        let shapes = self.model.param_shapes();
        let mut out = Vec::with_capacity(3 * shapes.len());
        for (prefix, all) in [("model", &self.params), ("adam_m", &self.adam_m), ("adam_v", &self.adam_v)] {
            for ((name, shape), values) in shapes.iter().zip(all) {
                out.push((format!("{prefix}.{name}"), *shape, values.as_slice()));
            }
        }
        out
    }

    /// The training state on `device`.
    pub fn train_state(&self, device: &Device) -> TrainState {
        let shapes = self.model.param_shapes();
        let upload = |all: &[Vec<f32>]| -> Vec<Tensor<2>> {
            all.iter()
                .zip(&shapes)
                .map(|(v, (_, shape))| Tensor::from_data(TensorData::new(v.clone(), *shape), device))
                .collect()
        };
        TrainState {
            params: upload(&self.params),
            adam: AdamState { m: upload(&self.adam_m), v: upload(&self.adam_v), t: self.progress.adam_t },
            step: self.progress.step,
            epoch: self.progress.epoch,
            batch_in_epoch: self.progress.batch_in_epoch,
            tokens: self.progress.tokens,
        }
    }

    /// Serialises to one safetensors file with everything else in its metadata, straight
    /// into one buffer (the weights are not copied on the way).
    pub fn to_bytes(&self) -> Vec<u8> {
        let views = self.tensors().into_iter().map(|(name, shape, values)| {
            (name, StoredView { dtype: Dtype::F32, shape: shape.to_vec(), bytes: f32_bytes(values) })
        });
        self.serialise(views.collect(), Weights::F32)
    }

    /// A compact copy for shipping: the weights as f16, or int8 with a scale per row, without
    /// Adam's moments (see `Weights`).
    pub fn to_compact_bytes(&self, weights: Weights) -> Vec<u8> {
        let mut views = Vec::new();
        for ((name, [rows, cols]), values) in self.model.param_shapes().iter().zip(&self.params) {
            let weights = if stays_f32(name) { Weights::F32 } else { weights };
            let name = format!("model.{name}");
            match weights {
                Weights::F32 => views.push((name, StoredView { dtype: Dtype::F32, shape: vec![*rows, *cols], bytes: f32_bytes(values) })),
                Weights::F16 => {
                    let bytes = values.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
                    views.push((name, StoredView { dtype: Dtype::F16, shape: vec![*rows, *cols], bytes: Cow::Owned(bytes) }));
                }
                Weights::Int8 => {
                    let (quantised, scales) = quantise_rows(values, *cols);
                    views.push((name.clone(), StoredView { dtype: Dtype::I8, shape: vec![*rows, *cols], bytes: Cow::Owned(quantised) }));
                    views.push((format!("{name}.scale"), StoredView { dtype: Dtype::F32, shape: vec![*rows], bytes: Cow::Owned(f32_bytes(&scales).into_owned()) }));
                }
            }
        }
        self.serialise(views, weights)
    }

    /// The version this checkpoint is written as (see `FORMAT_VERSION`).
    pub fn format_version(&self) -> u32 {
        if self.model.shape.cell.is_recurrent() { RECURRENT_VERSION } else { FORMAT_VERSION }
    }

    /// Writes the tensors (in checksum order) and the metadata.
    fn serialise(&self, views: Vec<(String, StoredView<'_>)>, weights: Weights) -> Vec<u8> {
        let mut crc = crc32fast::Hasher::new();
        for (_, view) in &views {
            crc.update(&view.bytes);
        }
        let mut progress = self.progress;
        if weights != Weights::F32 {
            progress.adam_t = 0; // no moments travel with a compact copy
        }
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), self.format_version().to_string()),
            ("weights".to_string(), weights.name().to_string()),
            ("cleaning_config".to_string(), json(&self.cleaning)),
            ("model_config".to_string(), json(&self.model)),
            ("train_config".to_string(), json(&self.train)),
            ("vocab".to_string(), json(&self.vocab)),
            ("progress".to_string(), json(&progress)),
            ("weights_crc32".to_string(), format!("{:08x}", crc.finalize())),
        ]);
        safetensors::serialize(views, Some(metadata)).expect("in-memory serialisation")
    }

    /// Parses and validates a checkpoint file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| match e {
            safetensors::SafeTensorError::MetadataIncompleteBuffer
            | safetensors::SafeTensorError::InvalidHeaderLength => {
                CheckpointError::Damaged("the file is truncated".into())
            }
            e => CheckpointError::NotACheckpoint(format!("{e}")),
        })?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            meta.get(key).ok_or_else(|| CheckpointError::Damaged(format!("metadata has no `{key}`")))
        };
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(CheckpointError::NotACheckpoint("its metadata does not name the Shige format".into()));
        }
        let version = field("format_version")?;
        let version_number = version.parse::<u32>().ok().filter(|v| (OLDEST_READABLE..=FORMAT_VERSION).contains(v));
        let Some(version_number) = version_number else {
            return Err(CheckpointError::Version { found: version.clone(), expected: FORMAT_VERSION });
        };
        fn parse<T: for<'de> Deserialize<'de>>(key: &str, text: &str) -> Result<T, CheckpointError> {
            serde_json::from_str(text).map_err(|e| CheckpointError::Damaged(format!("`{key}`: {e}")))
        }
        let cleaning: CleaningConfig = parse_with_defaults("cleaning_config", field("cleaning_config")?, &CleaningConfig::new())?;
        let model: PoemModelConfig = {
            // Fields added since version 1 (cell, tied; heads, bias, block size) take their defaults.
            let mut value: serde_json::Value = parse("model_config", field("model_config")?)?;
            let shape = value.get_mut("shape").map(std::mem::take).unwrap_or_default();
            let shape: ModelShape = merge_defaults("model_config.shape", shape, &ModelShape::new())?;
            value["shape"] = serde_json::to_value(shape).expect("plain data");
            parse("model_config", &value.to_string())?
        };
        let train: TrainConfig = parse_with_defaults("train_config", field("train_config")?, &TrainConfig::new())?;
        let vocab: Vocab = parse("vocab", field("vocab")?)?;
        let progress: Progress = parse("progress", field("progress")?)?;
        if model.vocab_size != vocab.len() {
            return Err(CheckpointError::Mismatch(format!(
                "the model has {} output tokens but its vocabulary has {}",
                model.vocab_size,
                vocab.len()
            )));
        }
        model.shape.validate(model.vocab_size).map_err(|e| CheckpointError::Damaged(format!("implausible model: {e}")))?;
        let weights = match meta.get("weights") {
            None => Weights::F32,
            Some(w) => Weights::parse(w).ok_or_else(|| CheckpointError::Damaged(format!("unknown weights `{w}`")))?,
        };
        let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Damaged(format!("{e}")))?;
        let shapes = model.param_shapes();
        // Every tensor read, in file order: the checksum covers exactly these bytes.
        let read = std::cell::RefCell::new(Vec::<String>::new());
        let tensor = |key: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>, CheckpointError> {
            let view = file.tensor(key).map_err(|_| CheckpointError::Damaged(format!("tensor `{key}` is missing")))?;
            if view.dtype() != dtype || view.shape() != shape {
                return Err(CheckpointError::Damaged(format!(
                    "tensor `{key}` is {:?} {:?}, expected {dtype:?} {shape:?}",
                    view.dtype(),
                    view.shape()
                )));
            }
            read.borrow_mut().push(key.to_string());
            Ok(view.data().to_vec())
        };
        let as_f32 = |b: &[u8]| -> Vec<f32> { b.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() };
        let take = |prefix: &str, weights: Weights| -> Result<Vec<Vec<f32>>, CheckpointError> {
            shapes
                .iter()
                .map(|(name, [rows, cols])| {
                    let key = format!("{prefix}.{name}");
                    let shape = [*rows, *cols];
                    let weights = if stays_f32(name) { Weights::F32 } else { weights };
                    Ok(match weights {
                        Weights::F32 => as_f32(&tensor(&key, Dtype::F32, &shape)?),
                        Weights::F16 => tensor(&key, Dtype::F16, &shape)?
                            .chunks_exact(2)
                            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                            .collect(),
                        Weights::Int8 => {
                            let q = tensor(&key, Dtype::I8, &shape)?;
                            let scales = as_f32(&tensor(&format!("{key}.scale"), Dtype::F32, &[*rows])?);
                            dequantise_rows(&q, &scales, *cols)
                        }
                    })
                })
                .collect()
        };
        let params = take("model", weights)?;
        let (adam_m, adam_v) = if weights == Weights::F32 {
            (take("adam_m", Weights::F32)?, take("adam_v", Weights::F32)?)
        } else {
            let zeros: Vec<Vec<f32>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
            (zeros.clone(), zeros)
        };
        let ckpt = Checkpoint { params, adam_m, adam_v, cleaning, model, train, vocab, progress };
        if version_number >= 2 {
            let expected = field("weights_crc32")?;
            let mut crc = crc32fast::Hasher::new();
            for name in read.borrow().iter() {
                crc.update(file.tensor(name).expect("read above").data());
            }
            if format!("{:08x}", crc.finalize()) != *expected {
                return Err(CheckpointError::Damaged(
                    "the weights do not match their checksum (the file was changed or corrupted)".into(),
                ));
            }
        }
        ckpt.check_finite("loaded")?;
        Ok(ckpt)
    }

    /// Checks that this checkpoint can continue training with `model` and `vocab`.
    pub fn check_compatible(&self, model: &PoemModelConfig, vocab: &Vocab) -> Result<(), CheckpointError> {
        let mut diffs = Vec::new();
        let m = &self.model;
        for (what, ours, theirs) in [
            ("vocabulary size", m.vocab_size, model.vocab_size),
            ("embedding", m.shape.embedding, model.shape.embedding),
            ("hidden", m.shape.hidden, model.shape.hidden),
            ("layers", m.shape.layers, model.shape.layers),
            ("cell (0 rnn, 1 lstm, 2 gru, 3 transformer)", m.shape.cell as usize, model.shape.cell as usize),
            ("tied output (0 no, 1 yes)", m.shape.tied as usize, model.shape.tied as usize),
            ("attention heads", m.shape.heads, model.shape.heads),
            ("biases (0 no, 1 yes)", m.shape.bias as usize, model.shape.bias as usize),
            ("block size", m.shape.block_size, model.shape.block_size),
        ] {
            // The Transformer has no hidden size: whatever a front end sends for it is unused.
            let unused = what == "hidden" && m.shape.cell == Cell::Transformer;
            if ours != theirs && !unused {
                diffs.push(format!("{what} is {ours} in the checkpoint but {theirs} here"));
            }
        }
        if diffs.is_empty() && &self.vocab != vocab {
            diffs.push("the vocabularies hold different characters".into());
        }
        if diffs.is_empty() { Ok(()) } else { Err(CheckpointError::Mismatch(diffs.join("; "))) }
    }
}

/// Parses a config's JSON, taking defaults for fields that older files lack.
fn parse_with_defaults<T: Serialize + for<'de> Deserialize<'de>>(key: &str, text: &str, defaults: &T) -> Result<T, CheckpointError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| CheckpointError::Damaged(format!("`{key}`: {e}")))?;
    merge_defaults(key, value, defaults)
}

fn merge_defaults<T: Serialize + for<'de> Deserialize<'de>>(key: &str, value: serde_json::Value, defaults: &T) -> Result<T, CheckpointError> {
    let mut merged = serde_json::to_value(defaults).expect("plain data");
    match (value, merged.as_object_mut()) {
        (serde_json::Value::Object(given), Some(fields)) => fields.extend(given),
        _ => return Err(CheckpointError::Damaged(format!("`{key}` is not an object"))),
    }
    serde_json::from_value(merged).map_err(|e| CheckpointError::Damaged(format!("`{key}`: {e}")))
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// f32 values as little-endian bytes, borrowed where the machine is little-endian.
pub(super) fn f32_bytes(values: &[f32]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// A tensor's bytes as a safetensors view (borrowed f32 weights, or converted ones).
pub(super) struct StoredView<'a> {
    pub(super) dtype: Dtype,
    pub(super) shape: Vec<usize>,
    pub(super) bytes: Cow<'a, [u8]>,
}

impl View for StoredView<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Tensors a compact copy keeps in f32: the LayerNorms' (the Transformer's `ln_1`, `ln_2`,
/// `ln_f`). A gain near 1 loses more to int8's step (its row's largest value / 127) than its
/// few bytes save. The recurrent cells have none, so their compact files are as before.
fn stays_f32(name: &str) -> bool {
    name.contains(".ln_")
}

/// int8 rows with one scale each: `round(x / scale)` with `scale = max|x| / 127`.
fn quantise_rows(values: &[f32], cols: usize) -> (Vec<u8>, Vec<f32>) {
    let mut out = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len() / cols.max(1));
    for row in values.chunks(cols.max(1)) {
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        out.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8));
        scales.push(scale);
    }
    (out, scales)
}

fn dequantise_rows(q: &[u8], scales: &[f32], cols: usize) -> Vec<f32> {
    q.chunks(cols.max(1)).zip(scales).flat_map(|(row, &s)| row.iter().map(move |&b| b as i8 as f32 * s)).collect()
}

//! Checkpoints: one self-describing safetensors file holding the format version, configs,
//! vocabulary, weights, Adam moments and progress, so training resumes exactly; and an
//! export of the weights under PyTorch's names and layouts.
//!
//! Tensors are read back with async reads only: synchronous reads panic in the browser.

use std::collections::HashMap;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};

use crate::corpus::CleaningConfig;
use crate::model::PoemModelConfig;
use crate::tokenizer::Vocab;
use crate::training::{AdamState, TrainConfig, TrainError, TrainState, Trainer, read_values};

pub const FORMAT: &str = "shige-checkpoint";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a Shige checkpoint: {0}")]
    NotACheckpoint(String),
    #[error("checkpoint format version {found} is not supported (this build reads version {expected})")]
    Version { found: String, expected: u32 },
    #[error("the checkpoint is damaged: {0}")]
    Damaged(String),
    #[error("the checkpoint does not match: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Device(#[from] TrainError),
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

async fn read_all(tensors: &[Tensor<2>]) -> Result<Vec<Vec<f32>>, TrainError> {
    let mut out = Vec::with_capacity(tensors.len());
    for t in tensors {
        out.push(read_values(t.clone()).await?);
    }
    Ok(out)
}

impl Checkpoint {
    /// Captures a trainer's state (async reads only).
    pub async fn capture(trainer: &Trainer) -> Result<Self, CheckpointError> {
        let s = &trainer.state;
        Ok(Checkpoint {
            cleaning: trainer.cleaning.clone(),
            model: trainer.model_config.clone(),
            train: trainer.config.clone(),
            vocab: trainer.vocab.clone(),
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
        })
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

    /// Serialises to one safetensors file with everything else in its metadata.
    pub fn to_bytes(&self) -> Vec<u8> {
        let shapes = self.model.param_shapes();
        let mut tensors = Vec::new();
        for (prefix, all) in [("model", &self.params), ("adam_m", &self.adam_m), ("adam_v", &self.adam_v)] {
            for ((name, shape), values) in shapes.iter().zip(all) {
                tensors.push((format!("{prefix}.{name}"), F32View::new(values, shape.to_vec())));
            }
        }
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("cleaning_config".to_string(), json(&self.cleaning)),
            ("model_config".to_string(), json(&self.model)),
            ("train_config".to_string(), json(&self.train)),
            ("vocab".to_string(), json(&self.vocab)),
            ("progress".to_string(), json(&self.progress)),
        ]);
        safetensors::serialize(tensors, Some(metadata)).expect("in-memory serialisation")
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
        if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(CheckpointError::Version { found: version.clone(), expected: FORMAT_VERSION });
        }
        fn parse<T: for<'de> Deserialize<'de>>(key: &str, text: &str) -> Result<T, CheckpointError> {
            serde_json::from_str(text).map_err(|e| CheckpointError::Damaged(format!("`{key}`: {e}")))
        }
        let cleaning: CleaningConfig = parse("cleaning_config", field("cleaning_config")?)?;
        let model: PoemModelConfig = parse("model_config", field("model_config")?)?;
        let train: TrainConfig = parse("train_config", field("train_config")?)?;
        let vocab: Vocab = parse("vocab", field("vocab")?)?;
        let progress: Progress = parse("progress", field("progress")?)?;
        if model.vocab_size != vocab.len() {
            return Err(CheckpointError::Mismatch(format!(
                "the model has {} output tokens but its vocabulary has {}",
                model.vocab_size,
                vocab.len()
            )));
        }
        let plausible = |n: usize| (1..=1 << 16).contains(&n);
        let shape = &model.shape;
        if !(plausible(shape.hidden)
            && plausible(shape.embedding)
            && (1..=16).contains(&shape.layers)
            && (0.0..1.0).contains(&shape.dropout))
        {
            return Err(CheckpointError::Damaged(format!("implausible model config {model:?}")));
        }
        let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Damaged(format!("{e}")))?;
        let shapes = model.param_shapes();
        let take = |prefix: &str| -> Result<Vec<Vec<f32>>, CheckpointError> {
            shapes
                .iter()
                .map(|(name, shape)| {
                    let key = format!("{prefix}.{name}");
                    let view = file
                        .tensor(&key)
                        .map_err(|_| CheckpointError::Damaged(format!("tensor `{key}` is missing")))?;
                    if view.dtype() != Dtype::F32 || view.shape() != shape {
                        return Err(CheckpointError::Damaged(format!(
                            "tensor `{key}` is {:?} {:?}, expected F32 {shape:?}",
                            view.dtype(),
                            view.shape()
                        )));
                    }
                    Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
                })
                .collect()
        };
        Ok(Checkpoint {
            params: take("model")?,
            adam_m: take("adam_m")?,
            adam_v: take("adam_v")?,
            cleaning,
            model,
            train,
            vocab,
            progress,
        })
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
        ] {
            if ours != theirs {
                diffs.push(format!("{what} is {ours} in the checkpoint but {theirs} here"));
            }
        }
        if diffs.is_empty() && &self.vocab != vocab {
            diffs.push("the vocabularies hold different characters".into());
        }
        if diffs.is_empty() { Ok(()) } else { Err(CheckpointError::Mismatch(diffs.join("; "))) }
    }

    /// Weights under PyTorch names and layouts (`nn.Embedding`, `nn.GRU`, `nn.Linear`):
    /// GRU weights `[3H, I]`, biases `[3H]`, `fc.weight` `[V, H]`.
    pub fn to_pytorch_safetensors(&self) -> Vec<u8> {
        let shapes = self.model.param_shapes();
        let mut owned: Vec<(String, Vec<f32>, Vec<usize>)> = Vec::new();
        for ((name, [rows, cols]), values) in shapes.iter().zip(&self.params) {
            let (rows, cols) = (*rows, *cols);
            if name == "embedding.weight" {
                owned.push((name.clone(), values.clone(), vec![rows, cols]));
            } else if rows == 1 {
                owned.push((name.clone(), values.clone(), vec![cols]));
            } else {
                owned.push((name.clone(), transpose(values, rows, cols), vec![cols, rows]));
            }
        }
        let tensors: Vec<(String, F32View)> =
            owned.iter().map(|(n, v, s)| (n.clone(), F32View::new(v, s.clone()))).collect();
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(tensors, Some(metadata)).expect("in-memory serialisation")
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// f32 data as a safetensors view (little-endian bytes).
struct F32View {
    bytes: Vec<u8>,
    shape: Vec<usize>,
}

impl F32View {
    fn new(values: &[f32], shape: Vec<usize>) -> Self {
        Self { bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape }
    }
}

impl View for F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

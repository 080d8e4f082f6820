//! The settings a run is created or opened with, as JS passes them (camelCase), and what the
//! page asks of them before creating anything: parameter counts, the equal-parameter width,
//! the memory estimate and its budget.

use serde::Deserialize;
use shige_core::training::memory::{WASM_BUDGET_BYTES, training_bytes};
use shige_core::{Cell, CleaningConfig, ModelShape, PoemModelConfig, TrainConfig};
use wasm_bindgen::prelude::*;

use crate::errors::{js_err, longest_sequence};

/// Settings accepted by `Trainer.create` (all optional; camelCase in JS).
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TrainerOptions {
    cell: String,
    embedding: usize,
    hidden: usize,
    layers: usize,
    dropout: f64,
    tied: bool,
    /// The Transformer's attention heads (nanoGPT's `n_head`)
    heads: usize,
    /// The Transformer's Linear and LayerNorm biases (nanoGPT's `bias`)
    bias: bool,
    learning_rate: f64,
    /// Dropout before the output layer while training (the page's default is 0.3)
    output_dropout: f64,
    batch_size: usize,
    max_seq_len: usize,
    grad_clip: f64,
    seed: u64,
    /// "auto" (WebGPU on a hardware adapter, else the CPU), "webgpu" (any adapter) or "cpu"
    pub(crate) backend: String,
}

impl Default for TrainerOptions {
    fn default() -> Self {
        let (shape, train) = (ModelShape::new(), TrainConfig::new());
        Self {
            cell: shape.cell.name().into(),
            embedding: shape.embedding,
            hidden: shape.hidden,
            layers: shape.layers,
            dropout: shape.dropout,
            tied: shape.tied,
            heads: shape.heads,
            bias: shape.bias,
            learning_rate: train.learning_rate,
            output_dropout: train.output_dropout,
            batch_size: train.batch_size,
            max_seq_len: train.max_seq_len,
            grad_clip: train.grad_clip,
            seed: train.seed,
            backend: "auto".into(),
        }
    }
}

/// `Trainer.load`'s options (all optional; camelCase in JS).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct LoadOptions {
    /// Train with this batch size instead of the checkpoint's.
    pub(crate) batch_size: Option<usize>,
}

impl LoadOptions {
    pub(crate) fn from_js(options: Option<js_sys::Object>) -> Result<Self, JsError> {
        match options {
            None => Ok(Self::default()),
            Some(o) => serde_wasm_bindgen::from_value(o.into()).map_err(|e| js_err(format!("bad load options: {e}"))),
        }
    }
}

impl TrainerOptions {
    pub(crate) fn from_js(options: JsValue) -> Result<Self, JsError> {
        if options.is_undefined() || options.is_null() {
            return Ok(Self::default());
        }
        serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("bad trainer options: {e}")))
    }

    pub(crate) fn shape(&self) -> Result<ModelShape, JsError> {
        let cell = Cell::parse(&self.cell).ok_or_else(|| js_err(format!("unknown cell {:?}: use rnn, lstm, gru or transformer", self.cell)))?;
        Ok(ModelShape::new()
            .with_cell(cell)
            .with_embedding(self.embedding)
            .with_hidden(self.hidden)
            .with_layers(self.layers)
            .with_dropout(self.dropout)
            .with_tied(self.tied)
            .with_heads(self.heads)
            .with_bias(self.bias)
            // The Transformer's learned positions cover the run's sequence cap (as the trainer sets).
            .with_block_size(self.max_seq_len))
    }

    pub(crate) fn train_config(&self) -> TrainConfig {
        TrainConfig::new()
            .with_learning_rate(self.learning_rate)
            .with_output_dropout(self.output_dropout)
            .with_batch_size(self.batch_size)
            .with_max_seq_len(self.max_seq_len)
            .with_grad_clip(self.grad_clip)
            .with_seed(self.seed)
    }
}

/// The hidden size at which a model with these settings has about `params` parameters (the
/// classroom's "same parameter budget").
#[wasm_bindgen(js_name = hiddenForBudget)]
pub fn hidden_for_budget(options: JsValue, vocab_size: usize, params: usize) -> Result<usize, JsError> {
    let shape = TrainerOptions::from_js(options)?.shape()?;
    Ok(shape.hidden_for_budget(vocab_size, params))
}

/// Parameter count for these settings and vocabulary size.
#[wasm_bindgen(js_name = countParams)]
pub fn count_params(options: JsValue, vocab_size: usize) -> Result<usize, JsError> {
    let shape = TrainerOptions::from_js(options)?.shape()?;
    Ok(PoemModelConfig::new(vocab_size, shape).num_params())
}

/// Bytes of wasm memory training with these settings needs, estimated (see
/// `shige_core::training::memory`), so the page can refuse a model that would not fit.
#[wasm_bindgen(js_name = estimateMemory)]
pub fn estimate_memory(options: JsValue, vocab_size: usize) -> Result<f64, JsError> {
    let o = TrainerOptions::from_js(options)?;
    let longest = longest_sequence(&CleaningConfig::new()); // the page's cleaning (`CorpusData.parse`)
    Ok(training_bytes(&PoemModelConfig::new(vocab_size, o.shape()?), &o.train_config(), longest) as f64)
}

/// The most bytes a model's training may need (compare `estimateMemory` with it): the one
/// figure the page, the worker and `Trainer.create`/`load` all check against.
#[wasm_bindgen(js_name = memoryBudget)]
pub fn memory_budget() -> f64 {
    WASM_BUDGET_BYTES as f64
}

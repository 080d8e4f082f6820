//! The browser's entry point: a thin async shell over `shige-core`, exposing a `Trainer`
//! class to JS. Every error reaches JS as a thrown `Error` with a readable message; the
//! page's worker runs it (only `www/` knows the DOM).

mod device;

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use shige_core::{
    Checkpoint, CleaningConfig, CleaningReport, Corpus, GenerateOptions, ModelShape, PoemModel, TrainConfig, generate, load_corpus,
};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A rejected promise's value: a JS `Error` with the message.
fn reject(e: impl std::fmt::Display) -> JsValue {
    js_err(e).into()
}

const BUSY: &str = "the trainer is busy with another call";

/// Settings accepted by `Trainer.create` (all optional; camelCase in JS).
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct TrainerOptions {
    embedding: usize,
    hidden: usize,
    layers: usize,
    dropout: f64,
    learning_rate: f64,
    batch_size: usize,
    max_seq_len: usize,
    grad_clip: f64,
    seed: u64,
    min_char_freq: usize,
    /// "auto" (WebGPU on a hardware adapter, else the CPU), "webgpu" (any adapter) or "cpu"
    backend: String,
}

impl Default for TrainerOptions {
    fn default() -> Self {
        let (shape, train) = (ModelShape::new(), TrainConfig::new());
        Self {
            embedding: shape.embedding,
            hidden: shape.hidden,
            layers: shape.layers,
            dropout: shape.dropout,
            learning_rate: train.learning_rate,
            batch_size: train.batch_size,
            max_seq_len: train.max_seq_len,
            grad_clip: train.grad_clip,
            seed: train.seed,
            min_char_freq: train.min_char_freq,
            backend: "auto".into(),
        }
    }
}

/// What the page shows about the corpus and model.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    backend: String,
    fallback_reason: Option<String>,
    skipped_software_webgpu: bool,
    step: u64,
    epochs: f64,
    batches_per_epoch: usize,
    vocab_size: usize,
    params: usize,
    poems_found: usize,
    poems_kept: usize,
    poems_train: usize,
    poems_validation: usize,
    dropped: Vec<(String, usize)>,
    chars_per_epoch: usize,
    tokens_seen: u64,
    embedding: usize,
    hidden: usize,
    layers: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvalResult {
    loss: f64,
    perplexity: f64,
}

struct Inner {
    trainer: shige_core::Trainer,
    corpus: Corpus,
    /// A CPU copy of the weights for sampling, and the step it was taken at: sampling
    /// reads logits every character, which is cheap on the CPU and slow through WebGPU.
    sampler: Option<(u64, PoemModel)>,
}

/// Trains and samples one poem model. Calls must not overlap (the page's worker queues
/// them); an overlapping call throws instead of corrupting state.
#[wasm_bindgen]
pub struct Trainer {
    inner: Rc<RefCell<Inner>>,
    backend: String,
    fallback_reason: Option<String>,
    skipped_software_webgpu: bool,
}

fn parse_corpus(bytes: &[u8], cleaning: &CleaningConfig) -> Result<Corpus, JsError> {
    load_corpus(bytes, cleaning).map_err(js_err)
}

/// Dropped poems as `(reason, count)` pairs for the page.
fn dropped(report: &CleaningReport) -> Vec<(String, usize)> {
    report.dropped.iter().map(|(r, n)| (r.describe().to_string(), *n)).collect()
}

impl Trainer {
    fn wrap(trainer: shige_core::Trainer, corpus: Corpus, opened: device::Opened) -> Trainer {
        Trainer {
            inner: Rc::new(RefCell::new(Inner { trainer, corpus, sampler: None })),
            backend: opened.name,
            fallback_reason: opened.fallback_reason,
            skipped_software_webgpu: opened.skipped_software_webgpu,
        }
    }

    fn info_value(&self, inner: &Inner) -> Info {
        let t = &inner.trainer;
        let report = &inner.corpus.report;
        Info {
            backend: self.backend.clone(),
            fallback_reason: self.fallback_reason.clone(),
            skipped_software_webgpu: self.skipped_software_webgpu,
            step: t.state.step,
            epochs: t.epochs_done(),
            batches_per_epoch: t.batches_per_epoch(),
            vocab_size: t.vocab.len(),
            params: t.model_config.num_params(),
            poems_found: report.found,
            poems_kept: report.kept,
            poems_train: inner.corpus.train.len(),
            poems_validation: inner.corpus.validation.len(),
            dropped: dropped(report),
            chars_per_epoch: inner.corpus.train_chars(),
            tokens_seen: t.state.tokens,
            embedding: t.model_config.shape.embedding,
            hidden: t.model_config.shape.hidden,
            layers: t.model_config.shape.layers,
        }
    }
}

#[wasm_bindgen]
impl Trainer {
    /// `Trainer.create(corpusBytes, options)`: parses the corpus and builds a fresh model.
    pub async fn create(corpus: Vec<u8>, options: JsValue) -> Result<Trainer, JsError> {
        let o: TrainerOptions = if options.is_undefined() || options.is_null() {
            TrainerOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("bad trainer options: {e}")))?
        };
        if o.embedding == 0 || o.hidden == 0 || o.layers == 0 || o.batch_size == 0 || o.max_seq_len < 2 {
            return Err(js_err("embedding, hidden, layers and batch size must be positive, and the sequence cap at least 2"));
        }
        if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) || !(0.0..1.0).contains(&o.dropout) {
            return Err(js_err("the learning rate must be a positive number and dropout in [0, 1)"));
        }
        let corpus = parse_corpus(&corpus, &CleaningConfig::new())?;
        let opened = device::open(&o.backend).await;
        let shape = ModelShape::new().with_embedding(o.embedding).with_hidden(o.hidden).with_layers(o.layers).with_dropout(o.dropout);
        let config = TrainConfig::new()
            .with_learning_rate(o.learning_rate)
            .with_batch_size(o.batch_size)
            .with_max_seq_len(o.max_seq_len)
            .with_grad_clip(o.grad_clip)
            .with_seed(o.seed)
            .with_min_char_freq(o.min_char_freq);
        let trainer = shige_core::Trainer::new(&corpus, shape, config, &opened.device);
        Ok(Trainer::wrap(trainer, corpus, opened))
    }

    /// `Trainer.load(checkpointBytes, corpusBytes?, backend?)`: a saved model (from the page or
    /// the CLI). With a corpus it can continue training on it; without, it can only write.
    pub async fn load(checkpoint: Vec<u8>, corpus: Option<Vec<u8>>, backend: Option<String>) -> Result<Trainer, JsError> {
        let ckpt = Checkpoint::from_bytes(&checkpoint).map_err(js_err)?;
        let corpus = match corpus {
            Some(bytes) => parse_corpus(&bytes, &ckpt.cleaning)?,
            None => Corpus { config: ckpt.cleaning.clone(), train: Vec::new(), validation: Vec::new(), report: Default::default() },
        };
        let opened = device::open(backend.as_deref().unwrap_or("auto")).await;
        let trainer = shige_core::resume(&ckpt, &corpus, &opened.device);
        Ok(Trainer::wrap(trainer, corpus, opened))
    }

    /// `"webgpu: <adapter>"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Corpus and model facts: step, epochs, vocabulary size, parameter count, cleaning report.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let inner = self.inner.try_borrow().map_err(|_| js_err(BUSY))?;
        Ok(serde_wasm_bindgen::to_value(&self.info_value(&inner))?)
    }

    /// Every character the model can write, most frequent first.
    pub fn vocabulary(&self) -> Result<String, JsError> {
        let inner = self.inner.try_borrow().map_err(|_| js_err(BUSY))?;
        Ok(inner.trainer.vocab.chars().iter().collect())
    }

    /// Whether the model knows this character (so it can start a poem).
    #[wasm_bindgen(js_name = hasChar)]
    pub fn has_char(&self, c: &str) -> Result<bool, JsError> {
        let mut chars = c.chars();
        let inner = self.inner.try_borrow().map_err(|_| js_err(BUSY))?;
        Ok(match (chars.next(), chars.next()) {
            (Some(c), None) => inner.trainer.vocab.id(c).is_some(),
            _ => false,
        })
    }

    /// Runs `n` training steps; resolves to their losses. A non-finite loss rejects with an
    /// Error, and the model is restored to before these steps.
    #[wasm_bindgen(js_name = trainSteps)]
    pub fn train_steps(&self, n: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(BUSY))?;
            let losses = inner.trainer.train_steps(n).await.map_err(reject)?;
            Ok(js_sys::Float32Array::from(losses.as_slice()).into())
        })
    }

    /// Held-out loss and perplexity: `{ loss, perplexity }`.
    pub fn evaluate(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let inner = inner.try_borrow().map_err(|_| reject(BUSY))?;
            let e = inner.trainer.evaluate().await.map_err(reject)?;
            Ok(serde_wasm_bindgen::to_value(&EvalResult { loss: e.loss, perplexity: e.perplexity })?)
        })
    }

    /// Writes a poem: `{ start, temperature, topK, topP, seed, form, acrostic, maxChars }`.
    pub fn generate(&self, options: JsValue) -> js_sys::Promise {
        let inner = self.inner.clone();
        let cpu_backend = self.backend == "cpu";
        wasm_bindgen_futures::future_to_promise(async move {
            let options: GenerateOptions = serde_wasm_bindgen::from_value(options)
                .map_err(|e| reject(format!("bad generate options: {e}")))?;
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(BUSY))?;
            let step = inner.trainer.state.step;
            let fresh = matches!(&inner.sampler, Some((s, _)) if *s == step);
            if !fresh {
                let model = if cpu_backend {
                    inner.trainer.model()
                } else {
                    inner.trainer.model_on(&burn::tensor::Device::flex()).await.map_err(reject)?
                };
                inner.sampler = Some((step, model));
            }
            let (_, model) = inner.sampler.as_ref().expect("set above");
            let poem = generate(model, &inner.trainer.vocab, &options).await.map_err(reject)?;
            Ok(JsValue::from_str(&poem))
        })
    }

    /// The checkpoint file's bytes (weights, optimizer state, vocabulary, configs).
    pub fn save(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let inner = inner.try_borrow().map_err(|_| reject(BUSY))?;
            let ckpt = Checkpoint::capture(&inner.trainer).await.map_err(reject)?;
            Ok(js_sys::Uint8Array::from(ckpt.to_bytes().as_slice()).into())
        })
    }
}

/// Parses and cleans a corpus; throws an `Error` with a readable message on bad input.
#[wasm_bindgen(js_name = inspectCorpus)]
pub fn inspect_corpus(bytes: &[u8]) -> Result<JsValue, JsError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct CorpusSummary {
        kept: usize,
        found: usize,
        dropped: Vec<(String, usize)>,
        train_chars: usize,
    }
    let corpus = parse_corpus(bytes, &CleaningConfig::new())?;
    let summary = CorpusSummary {
        kept: corpus.report.kept,
        found: corpus.report.found,
        dropped: dropped(&corpus.report),
        train_chars: corpus.train_chars(),
    };
    Ok(serde_wasm_bindgen::to_value(&summary)?)
}

//! The browser's entry point: a thin async shell over `shige-core`, exposing `Corpus` and
//! `Trainer` classes to JS. Every error reaches JS as a thrown `Error` with a readable
//! message; the page's worker runs it (only `www/` knows the DOM).

mod checks;
mod device;
mod errors;
mod info;
mod lesson;
mod settings;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use shige_core::eval::novelty::CopyIndex;
use shige_core::generate::attention::{PoemAttention, poem_attention};
use shige_core::training::ResumeChanges;
use shige_core::training::memory::{WASM_BUDGET_BYTES, largest_fitting_batch, training_bytes};
use shige_core::{
    Checkpoint, CleaningConfig, Corpus, EncodedCorpus, GenerateOptions, PoemModel, PoemModelConfig, StepTrace, TrainConfig,
    Vocab, generate_traced, load_corpus,
};
use wasm_bindgen::prelude::*;

use errors::{MemoryError, busy, check_memory, fail, invalid_settings, js_err, longest_sequence, reject, step_count};
use info::{Info, corpus_info};
use settings::{LoadOptions, TrainerOptions};

thread_local! {
    /// The message of a Rust panic. With `panic = abort` a panic traps the call mid-way and
    /// leaves the trainer borrowed, so later calls report the crash instead of "busy".
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The threaded build's thread pool (start it before any tensor work: `initThreadPool(n)`).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Whether this is the threaded CPU build.
#[wasm_bindgen(js_name = isThreaded)]
pub fn is_threaded() -> bool {
    cfg!(feature = "threads")
}

#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    /// The static constructors (burn's `inventory` registrations), synthesised by wasm-ld.
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // Run the constructors once, here. Without an explicit call wasm-ld runs them again at the
    // top of every export, including each `await` resuming in wasm: that made every call into
    // the module milliseconds slower, and a poem take seconds.
    #[cfg(target_arch = "wasm32")]
    // SAFETY: called once, at instantiation, before any other Rust code runs.
    unsafe {
        __wasm_call_ctors()
    };
    std::panic::set_hook(Box::new(|info| {
        PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
        console_error_panic_hook::hook(info);
    }));
}

/// The message of the panic that stopped this module, if one did. The page then starts a
/// fresh module and restores the model (see `Trainer.rescue`).
#[wasm_bindgen(js_name = panicMessage)]
pub fn panic_message() -> Option<String> {
    PANIC.with(|p| p.borrow().clone())
}

/// Deliberately panics while holding the trainer (tests check the page recovers).
#[wasm_bindgen(js_name = panicForTests)]
pub fn panic_for_tests(trainer: &Trainer) {
    let _held = trainer.inner.borrow_mut();
    panic!("a panic requested by a test");
}

/// A parsed, cleaned and encoded corpus. Only the token ids are kept (the text is dropped),
/// and every run created on it shares them.
#[wasm_bindgen]
pub struct CorpusData {
    data: Arc<EncodedCorpus>,
}

#[wasm_bindgen]
impl CorpusData {
    /// Parses, cleans and encodes a corpus file; throws a readable `Error` on bad input.
    pub fn parse(bytes: &[u8]) -> Result<CorpusData, JsValue> {
        let corpus = load_corpus(bytes, &CleaningConfig::new()).map_err(fail)?;
        let vocab = Vocab::build(&corpus.train, TrainConfig::new().min_char_freq);
        Ok(CorpusData { data: Arc::new(EncodedCorpus::new(&corpus, vocab)) })
    }

    /// Poems found, kept, dropped (by reason), the split, the vocabulary and epoch size.
    pub fn info(&self) -> Result<JsValue, JsError> {
        Ok(serde_wasm_bindgen::to_value(&corpus_info(&self.data))?)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvalResult {
    loss: f64,
    perplexity: f64,
}

struct Inner {
    trainer: shige_core::Trainer,
    /// A CPU copy of the weights for sampling, and the step it was taken at: sampling
    /// reads logits every character, which is cheap on the CPU and slow through WebGPU.
    sampler: Option<(u64, PoemModel)>,
    /// The training text indexed for copy checks (built on the first quality measurement).
    copy_index: Option<Rc<CopyIndex>>,
}

impl Inner {
    /// The CPU copy of the current weights, refreshed when training moved on.
    async fn sampler(&mut self, cpu_backend: bool) -> Result<&PoemModel, JsValue> {
        let step = self.trainer.state.step;
        if !matches!(&self.sampler, Some((s, _)) if *s == step) {
            let model = if cpu_backend {
                self.trainer.model()
            } else {
                self.trainer.model_on(&burn::tensor::Device::flex()).await.map_err(reject)?
            };
            self.sampler = Some((step, model));
        }
        Ok(&self.sampler.as_ref().expect("set above").1)
    }

    fn copy_index(&mut self) -> Rc<CopyIndex> {
        self.copy_index
            .get_or_insert_with(|| {
                let (data, vocab) = (self.trainer.data(), &self.trainer.vocab);
                let poems: Vec<Vec<char>> = data
                    .train
                    .iter()
                    .map(|p| p.iter().map(|&t| vocab.char_of(t as usize).unwrap_or('\u{FFFD}')).collect())
                    .collect();
                Rc::new(CopyIndex::new(poems.iter().map(Vec::as_slice)))
            })
            .clone()
    }
}

/// The last committed state, kept outside `Inner` so the model can still be saved after a
/// panic left `Inner` borrowed (`Trainer.rescue`).
#[derive(Clone)]
struct LastGood {
    cleaning: CleaningConfig,
    model: PoemModelConfig,
    train: TrainConfig,
    vocab: Vocab,
    state: shige_core::training::TrainState,
}

/// Trains and samples one poem model. Calls must not overlap (the page's worker queues
/// them); an overlapping call throws instead of corrupting state.
#[wasm_bindgen]
pub struct Trainer {
    inner: Rc<RefCell<Inner>>,
    last_good: Rc<RefCell<LastGood>>,
    backend: String,
    fallback_reason: Option<String>,
    skipped_software_webgpu: bool,
    /// See `Info::batch_reduced_from`.
    batch_reduced_from: Option<usize>,
}

impl Trainer {
    fn wrap(trainer: shige_core::Trainer, opened: device::Opened, batch_reduced_from: Option<usize>) -> Trainer {
        let last_good = LastGood {
            cleaning: trainer.cleaning.clone(),
            model: trainer.model_config.clone(),
            train: trainer.config.clone(),
            vocab: trainer.vocab.clone(),
            state: trainer.state.clone(),
        };
        Trainer {
            inner: Rc::new(RefCell::new(Inner { trainer, sampler: None, copy_index: None })),
            last_good: Rc::new(RefCell::new(last_good)),
            backend: opened.name,
            fallback_reason: opened.fallback_reason,
            skipped_software_webgpu: opened.skipped_software_webgpu,
            batch_reduced_from,
        }
    }

    fn info_value(&self, inner: &Inner) -> Info {
        let t = &inner.trainer;
        let (shape, config) = (&t.model_config.shape, &t.config);
        Info {
            backend: self.backend.clone(),
            fallback_reason: self.fallback_reason.clone(),
            skipped_software_webgpu: self.skipped_software_webgpu,
            step: t.state.step,
            epochs: t.epochs_done(),
            batches_per_epoch: t.batches_per_epoch(),
            params: t.model_config.num_params(),
            tokens_seen: t.state.tokens,
            grad_norm: t.last_grad_norm,
            cell: shape.cell,
            embedding: shape.embedding,
            hidden: shape.hidden,
            layers: shape.layers,
            tied: shape.tied,
            heads: shape.heads,
            bias: shape.bias,
            learning_rate: config.learning_rate,
            output_dropout: config.output_dropout,
            batch_size: config.batch_size,
            batch_reduced_from: self.batch_reduced_from,
            max_seq_len: config.max_seq_len,
            seed: config.seed,
            corpus: corpus_info(t.data()),
        }
    }

    fn borrow(&self) -> Result<std::cell::Ref<'_, Inner>, JsError> {
        self.inner.try_borrow().map_err(|_| js_err(busy()))
    }
}

#[wasm_bindgen]
impl Trainer {
    /// `Trainer.create(corpus, options)`: a fresh model on a parsed corpus. Invalid settings
    /// reject with `error.train.settings`; a model over the memory budget with `settings.tooBig`.
    pub async fn create(corpus: &CorpusData, options: JsValue) -> Result<Trainer, JsValue> {
        let o = TrainerOptions::from_js(options)?;
        let (shape, config) = (o.shape()?, o.train_config());
        config.validate().map_err(invalid_settings)?;
        shape.validate(corpus.data.vocab.len()).map_err(invalid_settings)?;
        check_memory(&PoemModelConfig::new(corpus.data.vocab.len(), shape.clone()), &config, &corpus.data.cleaning)?;
        let opened = device::open(&o.backend).await;
        let trainer = shige_core::Trainer::on_data(corpus.data.clone(), shape, config, &opened.device).map_err(fail)?;
        Ok(Trainer::wrap(trainer, opened, None))
    }

    /// `Trainer.load(checkpointBytes, corpusBytes?, backend?, options?)`: a saved model (from the
    /// page or the CLI). With a corpus it can continue training on it; without, it can only write.
    /// `options.batchSize` trains it with that batch instead of its own. Its saved settings are
    /// checked as `create` checks them; a model whose own batch is over the memory budget opens
    /// with the largest batch that fits (`info().batchReducedFrom` then holds its own), and one
    /// that does not fit even with a batch of one rejects with `error.checkpointTooBig`.
    pub async fn load(
        checkpoint: Vec<u8>,
        corpus: Option<Vec<u8>>,
        backend: Option<String>,
        options: Option<js_sys::Object>,
    ) -> Result<Trainer, JsValue> {
        let options = LoadOptions::from_js(options)?;
        let mut ckpt = Checkpoint::from_bytes(&checkpoint).map_err(fail)?;
        drop(checkpoint);
        // The check `shige train --resume` makes too (shige_core::training::resume).
        let changes = ResumeChanges { batch_size: options.batch_size, ..ResumeChanges::default() };
        ckpt.train = changes.apply(&ckpt).map_err(|e| invalid_settings(e.to_string()))?;
        let batch_reduced_from = if options.batch_size.is_some() {
            check_memory(&ckpt.model, &ckpt.train, &ckpt.cleaning)?;
            None
        } else {
            let longest = longest_sequence(&ckpt.cleaning);
            match largest_fitting_batch(&ckpt.model, &ckpt.train, longest, WASM_BUDGET_BYTES) {
                Some(fitting) if fitting == ckpt.train.batch_size => None,
                Some(fitting) => Some(std::mem::replace(&mut ckpt.train.batch_size, fitting)),
                None => {
                    let one_poem = TrainConfig { batch_size: 1, ..ckpt.train.clone() };
                    let bytes = training_bytes(&ckpt.model, &one_poem, longest);
                    return Err(fail(MemoryError::CheckpointTooBig { bytes }));
                }
            }
        };
        let corpus = match corpus {
            Some(bytes) => load_corpus(&bytes, &ckpt.cleaning).map_err(fail)?,
            None => Corpus { config: ckpt.cleaning.clone(), train: Vec::new(), validation: Vec::new(), report: Default::default() },
        };
        let opened = device::open(backend.as_deref().unwrap_or("auto")).await;
        let trainer = shige_core::resume(&ckpt, &corpus, &opened.device);
        Ok(Trainer::wrap(trainer, opened, batch_reduced_from))
    }

    /// `"webgpu: <adapter>"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Model and corpus facts: step, epochs, shape, settings, parameter count, cleaning report.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let inner = self.borrow()?;
        Ok(serde_wasm_bindgen::to_value(&self.info_value(&inner))?)
    }

    /// Every character the model can write, most frequent first.
    pub fn vocabulary(&self) -> Result<String, JsError> {
        Ok(self.borrow()?.trainer.vocab.chars().iter().collect())
    }

    /// Whether the model knows this character (so it can start a poem).
    #[wasm_bindgen(js_name = hasChar)]
    pub fn has_char(&self, c: &str) -> Result<bool, JsError> {
        let mut chars = c.chars();
        let inner = self.borrow()?;
        Ok(match (chars.next(), chars.next()) {
            (Some(c), None) => inner.trainer.vocab.id(c).is_some(),
            _ => false,
        })
    }

    /// Compute dispatches of one real training step on WebGPU (the model trains a step), for
    /// benchmarks; 0 on the CPU.
    #[wasm_bindgen(js_name = dispatchesPerStep)]
    pub fn dispatches_per_step(&self) -> js_sys::Promise {
        let (inner, last_good) = (self.inner.clone(), self.last_good.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(busy()))?;
            #[cfg(feature = "webgpu")]
            let counter = shige_core::kernels::dispatch::DispatchCount::start();
            let result = inner.trainer.train_steps(1).await;
            last_good.borrow_mut().state = inner.trainer.state.clone();
            result.map_err(reject)?;
            #[cfg(feature = "webgpu")]
            return Ok(JsValue::from_f64(counter.count() as f64));
            #[cfg(not(feature = "webgpu"))]
            return Ok(JsValue::from_f64(0.0));
        })
    }

    /// Runs `n` training steps (a whole number from 1 to 100,000; anything else rejects);
    /// resolves to their losses. A step whose loss or gradients are not finite is not applied
    /// and rejects with an Error; the model stays at the last good step.
    #[wasm_bindgen(js_name = trainSteps)]
    pub fn train_steps(&self, n: f64) -> js_sys::Promise {
        let (inner, last_good) = (self.inner.clone(), self.last_good.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let n = step_count(n).map_err(reject)?;
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(busy()))?;
            let result = inner.trainer.train_steps(n).await;
            last_good.borrow_mut().state = inner.trainer.state.clone();
            let losses = result.map_err(fail)?;
            Ok(js_sys::Float32Array::from(losses.as_slice()).into())
        })
    }

    /// Sets the learning rate for the next steps (a run's schedule).
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&self, lr: f64) -> Result<(), JsError> {
        if !(lr.is_finite() && lr > 0.0 && lr <= 10.0) {
            return Err(js_err("the learning rate must be above 0 and at most 10"));
        }
        let mut inner = self.inner.try_borrow_mut().map_err(|_| js_err(busy()))?;
        inner.trainer.config.learning_rate = lr;
        self.last_good.borrow_mut().train.learning_rate = lr;
        Ok(())
    }

    /// Held-out loss and perplexity: `{ loss, perplexity }`.
    pub fn evaluate(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let inner = inner.try_borrow().map_err(|_| reject(busy()))?;
            let e = inner.trainer.evaluate().await.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&EvalResult { loss: e.loss, perplexity: e.perplexity })?)
        })
    }

    /// Validation batches, to evaluate a few at a time (`evaluatePart`).
    #[wasm_bindgen(js_name = evalBatches)]
    pub fn eval_batches(&self) -> Result<usize, JsError> {
        Ok(self.borrow()?.trainer.eval_batches())
    }

    /// Summed held-out loss over validation batches `start..end`: `{ total, tokens }`.
    #[wasm_bindgen(js_name = evaluatePart)]
    pub fn evaluate_part(&self, start: usize, end: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            #[derive(Serialize)]
            struct Part {
                total: f64,
                tokens: usize,
            }
            let inner = inner.try_borrow().map_err(|_| reject(busy()))?;
            let (total, tokens) = inner.trainer.evaluate_part(start..end).await.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&Part { total, tokens })?)
        })
    }

    /// `‖∂L/∂h_t‖` for each time step: `{ wholePoem: number[], lastChar: number[] }`.
    #[wasm_bindgen(js_name = gradientFlow)]
    pub fn gradient_flow(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Flow {
                whole_poem: Vec<f32>,
                last_char: Vec<f32>,
            }
            let inner = inner.try_borrow().map_err(|_| reject(busy()))?;
            let flow = inner.trainer.gradient_flow().await.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&Flow { whole_poem: flow.whole_poem, last_char: flow.last_char })?)
        })
    }

    /// Writes a poem: `{ start, temperature, topK, topP, seed, form, acrostic, maxChars, rhyme,
    /// repetitionPenalty }` (`GenerateOptions`) ->
    /// `{ text, steps: [{ char, top: [[char, p]...], gate: number[], hidden: number[] }], attention }`
    /// (a Transformer's: `{ chars, maps: { weights: [layer][head][i][j], tokens } }`, else null).
    pub fn generate(&self, options: JsValue) -> js_sys::Promise {
        let inner = self.inner.clone();
        let cpu_backend = self.backend == "cpu";
        wasm_bindgen_futures::future_to_promise(async move {
            let options = generate_options(options)?;
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(busy()))?;
            inner.sampler(cpu_backend).await?;
            let model = &inner.sampler.as_ref().expect("refreshed above").1;
            let vocab = &inner.trainer.vocab;
            let written = generate_traced(model, vocab, &options).await.map_err(fail)?;
            // A Transformer's poem comes with what each character looked at (None for the cells).
            let attention = poem_attention(model, vocab, &written.text).await.map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&WrittenPoem { text: written.text, steps: written.steps, attention })?)
        })
    }

    /// The quality figures of `samples` poems of each kind written with `options` (as
    /// `generate`'s): well-formed share, rhyme rates, copy and repetition figures, speed.
    pub fn quality(&self, samples: usize, options: JsValue) -> js_sys::Promise {
        let inner = self.inner.clone();
        let cpu_backend = self.backend == "cpu";
        wasm_bindgen_futures::future_to_promise(async move {
            let options = generate_options(options)?;
            let mut inner = inner.try_borrow_mut().map_err(|_| reject(busy()))?;
            let index = inner.copy_index();
            inner.sampler(cpu_backend).await?;
            let model = &inner.sampler.as_ref().expect("refreshed above").1;
            let now = js_sys::Date::now;
            let q = shige_core::eval::quality::measure(model, &inner.trainer.vocab, &index, &options, samples.clamp(1, 1000), &now)
                .await
                .map_err(fail)?;
            Ok(serde_wasm_bindgen::to_value(&q)?)
        })
    }

    /// The checkpoint file's bytes (weights, optimizer state, vocabulary, configs).
    pub fn save(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let inner = inner.try_borrow().map_err(|_| reject(busy()))?;
            let ckpt = Checkpoint::capture(&inner.trainer).await.map_err(fail)?;
            Ok(bytes_to_js(ckpt.to_bytes()))
        })
    }

    /// The checkpoint of the last completed step, even after a panic left the trainer
    /// borrowed: how the page keeps the model when the module has to be restarted.
    pub fn rescue(&self) -> js_sys::Promise {
        let last_good = self.last_good.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let g = last_good.borrow().clone();
            let ckpt = Checkpoint::capture_state(&g.cleaning, &g.model, &g.train, &g.vocab, &g.state)
                .await
                .map_err(|e| reject(format!("the model of step {} could not be read: {e}", g.state.step)))?;
            Ok(bytes_to_js(ckpt.to_bytes()))
        })
    }

    /// The step `rescue` saves: answers after a panic too (it never touches `Inner`), so the
    /// rescued model's library entry needs nothing from the crashed trainer.
    #[wasm_bindgen(js_name = rescuedStep)]
    pub fn rescued_step(&self) -> f64 {
        self.last_good.borrow().state.step as f64
    }
}

/// A written poem and, for a Transformer, its attention (`generate`'s answer). Its fields are
/// spelled out: serde_wasm_bindgen writes a flattened struct as a JS `Map`.
#[derive(Serialize)]
struct WrittenPoem {
    text: String,
    steps: Vec<StepTrace>,
    attention: Option<PoemAttention>,
}

/// `generate`'s and `quality`'s options from JS.
fn generate_options(options: JsValue) -> Result<GenerateOptions, JsValue> {
    serde_wasm_bindgen::from_value(options).map_err(|e| reject(format!("bad generate options: {e}")))
}

/// Copies a serialised checkpoint to JS and frees the wasm copy at once.
fn bytes_to_js(bytes: Vec<u8>) -> JsValue {
    js_sys::Uint8Array::from(bytes.as_slice()).into()
}

/// Bytes of linear memory this module holds (it only grows: after a step, its peak).
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    return (core::arch::wasm32::memory_size(0) * 65536) as f64;
    #[cfg(not(target_arch = "wasm32"))]
    return 0.0;
}

/// Parses and cleans a corpus; throws an `Error` with a readable message on bad input.
#[wasm_bindgen(js_name = inspectCorpus)]
pub fn inspect_corpus(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let corpus = CorpusData::parse(bytes)?;
    Ok(corpus.info()?)
}

/// A poem's 平仄 marks and 格律 findings (`shige_core::text::marks::PoemMarks`, camelCase):
/// each character's tone, and for a 五绝/七绝/五律/七律 each position's status, the pattern, the
/// 平水韵 rhyme group and the faults.
#[wasm_bindgen(js_name = meterMarks)]
pub fn meter_marks(poem: &str) -> Result<JsValue, JsError> {
    Ok(serde_wasm_bindgen::to_value(&shige_core::text::marks::marks(poem))?)
}

//! `shige`: train, generate, evaluate and benchmark poem models from the terminal.

mod bench;
mod prepare;
mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use shige_core::{Checkpoint, CleaningConfig, Corpus, GenerateOptions, PoemForm, generate, load_corpus};

#[derive(Parser)]
#[command(name = "shige", version, about = "诗歌 — train a character-level GRU on classical Chinese poems and write new ones")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on a poem corpus (or resume one), saving checkpoints as it goes.
    Train(train::TrainArgs),
    /// Write poems from a trained model, one per start character.
    Generate(GenerateArgs),
    /// Held-out perplexity and the share of generated poems that are well-formed 五/七言 verse.
    Eval(EvalArgs),
    /// Measure training speed (characters per second) for a model shape; prints, never asserts.
    Bench(bench::BenchArgs),
    /// Build a simplified-Chinese `title:content` corpus from the chinese-poetry JSON files.
    Prepare(prepare::PrepareArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum DeviceChoice {
    /// burn's CPU backend (flex)
    Cpu,
    /// burn's wgpu backend (GPU through Vulkan/Metal/DX12)
    Wgpu,
}

/// Opens the device, turning a missing GPU into an error instead of a panic.
pub fn open_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::flex()),
        DeviceChoice::Wgpu => open_wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Device> {
    Device::wgpu_options()
        .init()
        .map_err(|e| anyhow::anyhow!("no usable GPU adapter for wgpu ({e}); use --device cpu"))
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Device> {
    anyhow::bail!("this build has no wgpu support; use --device cpu")
}

/// How to read the corpus: the cleaning and split settings.
#[derive(Args, Clone)]
pub struct CorpusArgs {
    /// Poem file: `title:content` per line, or poems separated by blank lines (UTF-8)
    #[arg(long)]
    pub corpus: PathBuf,
    /// Fewest characters a poem may have
    #[arg(long, default_value_t = 5)]
    pub min_chars: usize,
    /// Most characters a poem may have
    #[arg(long, default_value_t = 80)]
    pub max_chars: usize,
    /// Share of poems held out for validation
    #[arg(long, default_value_t = 0.05)]
    pub validation_share: f64,
    /// Seed of the train/validation split
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
}

impl CorpusArgs {
    pub fn cleaning(&self) -> CleaningConfig {
        CleaningConfig::new()
            .with_min_chars(self.min_chars)
            .with_max_chars(self.max_chars)
            .with_validation_share(self.validation_share)
            .with_split_seed(self.split_seed)
    }
}

pub fn read_corpus(path: &Path, cleaning: &CleaningConfig) -> Result<Corpus> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_corpus(&bytes, cleaning).with_context(|| format!("{}", path.display()))
}

pub fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Checkpoint::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a checkpoint.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The model's shape (vocabulary size comes from the corpus).
#[derive(Args, Clone)]
pub struct ModelArgs {
    #[arg(long, default_value_t = 128)]
    pub embedding: usize,
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Dropout between GRU layers
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
}

impl ModelArgs {
    pub fn shape(&self) -> Result<shige_core::ModelShape> {
        if self.embedding == 0 || self.hidden == 0 || self.layers == 0 || !(0.0..1.0).contains(&self.dropout) {
            anyhow::bail!("embedding, hidden and layers must be at least 1, and dropout in [0, 1)");
        }
        Ok(shige_core::ModelShape::new()
            .with_embedding(self.embedding)
            .with_hidden(self.hidden)
            .with_layers(self.layers)
            .with_dropout(self.dropout))
    }
}

#[derive(Args, Clone)]
pub struct SamplingArgs {
    /// 0 picks the most likely character every time
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample only among the k most likely characters (0: all)
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample from the smallest set of characters whose probability reaches p (1: all)
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// free, wujue (五绝), qijue (七绝), wulv (五律) or qilv (七律)
    #[arg(long, default_value = "free", value_parser = parse_form)]
    form: PoemForm,
    /// Most characters in a free poem
    #[arg(long, default_value_t = 80)]
    max_chars: usize,
}

fn parse_form(s: &str) -> Result<PoemForm, String> {
    PoemForm::parse(s).ok_or_else(|| format!("unknown form {s:?}: use free, wujue, qijue, wulv or qilv"))
}

impl SamplingArgs {
    fn options(&self, start: String, acrostic: String) -> GenerateOptions {
        GenerateOptions {
            start,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
            form: self.form,
            acrostic,
            max_chars: self.max_chars,
        }
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// Start characters: one poem begins with each (e.g. 日红山夜湖海月)
    #[arg(long, default_value = "日红山夜湖海月")]
    start: String,
    /// A whole opening to continue instead (e.g. 床前明月光)
    #[arg(long, conflicts_with = "start")]
    prefix: Option<String>,
    /// 藏头诗: each line starts with the next of these characters
    #[arg(long, conflicts_with_all = ["start", "prefix"])]
    acrostic: Option<String>,
    #[command(flatten)]
    sampling: SamplingArgs,
}

fn run_generate(args: GenerateArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let device = Device::flex();
    let model = ckpt.model.from_params(ckpt.train_state(&device).params);
    let requests: Vec<(String, String)> = match (&args.prefix, &args.acrostic) {
        (Some(prefix), _) => vec![(prefix.clone(), String::new())],
        (_, Some(acrostic)) => vec![(String::new(), acrostic.clone())],
        _ => args.start.chars().filter(|c| !c.is_whitespace()).map(|c| (c.to_string(), String::new())).collect(),
    };
    for (start, acrostic) in requests {
        let options = args.sampling.options(start.clone(), acrostic);
        let poem = pollster::block_on(generate(&model, &ckpt.vocab, &options))?;
        println!("{poem}");
    }
    Ok(())
}

#[derive(Args)]
struct EvalArgs {
    /// Checkpoint written by `shige train`
    #[arg(long)]
    model: PathBuf,
    /// Corpus to measure held-out perplexity on (its validation split, as in training)
    #[arg(long)]
    corpus: PathBuf,
    /// Poems to generate for the well-formedness share
    #[arg(long, default_value_t = 100)]
    samples: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let ckpt = read_checkpoint(&args.model)?;
    let corpus = read_corpus(&args.corpus, &ckpt.cleaning)?;
    let device = Device::flex();
    let trainer = shige_core::resume(&ckpt, &corpus, &device);
    let eval = pollster::block_on(trainer.evaluate())?;
    println!(
        "held-out loss {:.4} nats/char, perplexity {:.2} ({} validation characters, step {})",
        eval.loss, eval.perplexity, eval.tokens, ckpt.progress.step
    );
    // Start characters: the most frequent Chinese characters of the vocabulary, in turn.
    let starts: Vec<char> =
        ckpt.vocab.chars().iter().copied().filter(|&c| shige_core::inference::is_hanzi(c)).take(50).collect();
    let model = trainer.model();
    let mut well_formed = 0;
    for i in 0..args.samples {
        let mut options = args.sampling.options(starts[i % starts.len()].to_string(), String::new());
        options.seed = args.sampling.seed + i as u64;
        let poem = pollster::block_on(generate(&model, &ckpt.vocab, &options))?;
        well_formed += shige_core::is_well_formed(&poem) as usize;
    }
    println!(
        "well-formed 五/七言 poems: {well_formed}/{} ({:.1}%) with form {:?}, temperature {}",
        args.samples,
        100.0 * well_formed as f64 / args.samples.max(1) as f64,
        args.sampling.form,
        args.sampling.temperature
    );
    Ok(())
}

/// Keeps freed tensor buffers in the heap. A training step allocates and frees tens of
/// 50 MB tensors (the logits and their gradients); glibc would map each one fresh from the
/// kernel and fault in every page, which cost a third of the step's time.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations() {
    // SAFETY: mallopt only changes glibc's allocation thresholds; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations() {}

fn main() {
    keep_large_allocations();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Generate(args) => run_generate(args),
        Command::Eval(args) => run_eval(args),
        Command::Bench(args) => bench::run(args),
        Command::Prepare(args) => prepare::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
